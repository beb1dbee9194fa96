"""The code location: `dagster dev -m crm_pipeline.definitions`, `workspace.yaml`, `dg dev`, `dg list defs`.

`defs` is a `@dg.definitions` function: Dagster calls it when it loads the code location, so the
environment (tenants, automation settings, a DuckLake) and the SQL models are read then, not on import,
and a test can call `defs()` under another environment in the same process. It loads the project's defs
folder (pyproject.toml, [tool.dg.project] defs_module) as any `dg` project does: the
ServiceTitanComponent's defs.yaml, whose attributes left out fall back to the environment.
"""

from pathlib import Path

import dagster as dg

from crm_pipeline.settings import SettingsError


@dg.definitions
def defs() -> dg.Definitions:
    try:
        return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    except Exception as error:
        # A bad setting is the user's to fix: its own message, not the component tree's wrapping.
        if isinstance(error.__cause__, SettingsError):
            raise error.__cause__ from None
        raise
