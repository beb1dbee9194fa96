"""The Dagster code location: `dagster dev -m crm_pipeline.definitions`, `workspace.yaml`, `dg list defs`.

`defs` is a `@dg.definitions` function: Dagster calls it when it loads the code location, so the
environment (tenants, automation settings, a DuckLake) and the SQL models are read then, not on import,
and a test can call `defs()` under another environment in the same process.
"""

import os

import dagster as dg

from crm_pipeline.defs.location import build_definitions
from crm_pipeline.validation import warm_up


@dg.definitions
def defs() -> dg.Definitions:
    # pandera imports its backends on its first validation: here, once per process, not in a run's first page.
    warm_up()
    return build_definitions(os.environ)
