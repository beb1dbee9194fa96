"""What the Dagster layer reads from the environment while it runs (a sensor's tick, a run's start), for
the definitions built without their settings: the assets and sensors a test builds alone. The code
location passes the values of the environment it loaded in instead (crm_pipeline.defs.location)."""

from __future__ import annotations

import os

from crm_pipeline.defs.servicetitan.automation_settings import export_interval
from crm_pipeline.defs.servicetitan.walk_settings import WalkSettings


def export_interval_now() -> int:
    """CRM_EXPORT_INTERVAL_SECONDS as the environment has it now."""
    return export_interval(os.environ)


def walk_settings_now() -> WalkSettings:
    """The parent walks' settings as the environment has them now."""
    return WalkSettings.from_env(os.environ)
