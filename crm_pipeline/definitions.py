"""The Dagster code location: `dagster dev -m crm_pipeline.definitions`, `workspace.yaml`, `dg list defs`.

`defs` is a `@dg.definitions` function: Dagster calls it when it loads the code location, so the
environment (tenants, automation settings, a DuckLake) and the SQL models are read then, not on import,
and a test can call `defs()` under another environment in the same process.
"""

import os

import dagster as dg

from crm_pipeline.defs.location import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    # Work that must happen once per process before runs (warming caches up) belongs here, not at import.
    return build_definitions(os.environ)
