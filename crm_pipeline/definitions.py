"""The code location: `dagster dev -m crm_pipeline.definitions`, `workspace.yaml`, `dg dev`, `dg list defs`.

`defs` is a `@dg.definitions` function: Dagster calls it when it loads the code location, so the
environment (tenants, automation settings, a DuckLake) and the SQL models are read then, not on import,
and a test can call `defs()` under another environment in the same process. It loads the project's defs
folder (pyproject.toml, [tool.dg.project] defs_module) as any `dg` project does: the
ServiceTitanComponent's defs.yaml, whose attributes left out fall back to the environment.
"""

import importlib
from pathlib import Path

import dagster as dg
from dagster._utils.warnings import suppress_dagster_warnings
from dagster.components.core.component_tree import ComponentTree

from crm_pipeline.settings import SettingsError

DEFS_MODULE = "crm_pipeline.defs.servicetitan_crm"  # as [tool.dg.project] defs_module says


@dg.definitions
@suppress_dagster_warnings  # Dagster's own beta notes on code references, as load_from_defs_folder does
def defs() -> dg.Definitions:
    try:
        # The tree of the defs folder itself, not found through pyproject.toml: an installed wheel has none.
        folder = importlib.import_module(DEFS_MODULE)
        return ComponentTree(defs_module=folder, project_root=Path(__file__).parent.parent).build_defs()
    except Exception as error:
        # A bad setting is the user's to fix: its own message, not the component tree's wrapping.
        if isinstance(error.__cause__, SettingsError):
            raise error.__cause__ from None
        raise
