"""The code location: `dagster dev -m crm_pipeline.definitions`, `workspace.yaml`, `dg dev`, `dg list defs`.

`defs` is a `@dg.definitions` function: Dagster calls it when it loads the code location, so the
environment (tenants, automation settings, a DuckLake) and the SQL models are read then, not on import,
and a test can call `defs()` under another environment in the same process. It loads the project's defs
folder (pyproject.toml, [tool.dg.project] defs_module) as any `dg` project does: the
ServiceTitanComponent's defs.yaml, whose attributes left out fall back to the environment.
"""

import importlib
import warnings
from pathlib import Path

import dagster as dg

from crm_pipeline.settings import SettingsError

DEFS_MODULE = "crm_pipeline.defs.servicetitan_crm"  # as [tool.dg.project] defs_module says


# Dagster's own notes on its beta, preview and superseded APIs: silenced while loading, as
# load_from_defs_folder does.
DAGSTER_NOTES = (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning)


@dg.definitions
def defs() -> dg.Definitions:
    try:
        # The tree of the defs folder itself, not found through pyproject.toml: an installed wheel has none.
        folder = importlib.import_module(DEFS_MODULE)
        tree = dg.ComponentTree(defs_module=folder, project_root=Path(__file__).parent.parent)
        with warnings.catch_warnings():
            for note in DAGSTER_NOTES:
                warnings.simplefilter("ignore", note)
            return tree.build_defs()
    except Exception as error:
        # A bad setting is the user's to fix: its own message, not the component tree's wrapping.
        if isinstance(error.__cause__, SettingsError):
            raise error.__cause__ from None
        raise
