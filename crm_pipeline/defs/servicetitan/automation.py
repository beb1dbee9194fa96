"""Everything that makes the pipeline run itself: jobs, the export sensor, the list schedules, the SQL
models' declarative automation and the raw tables' checks (freshness: each raw asset's FreshnessPolicy).

Sensors and schedules start switched on (CRM_AUTOMATION=on, the default): the pipeline exists to keep
the copy fresh, and they only tick where a Dagster daemon runs (`dg dev`, `dagster-daemon run`).
CRM_AUTOMATION=off ships them stopped, to switch on in the UI. A toggle in the UI wins over both.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import (
    AssetKey,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
)

from crm_pipeline.catalog import ENDPOINTS, Endpoint, feeds_and_lists
from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings
from crm_pipeline.defs.servicetitan.checks import raw_table_checks
from crm_pipeline.defs.servicetitan.jobs import export_job, list_job
from crm_pipeline.defs.servicetitan.schedules import build_list_schedules
from crm_pipeline.defs.servicetitan.sensors import build_export_sensor, build_walk_sensor


def build_sql_models_sensor(default_status: DefaultSensorStatus) -> AutomationConditionSensorDefinition:
    """The sensor evaluating the SQL models' automation conditions (`defs/conditions.py`)."""
    return AutomationConditionSensorDefinition(
        "sql_models_automation",
        target=AssetSelection.groups("staging", "marts"),
        minimum_interval_seconds=30,
        default_status=default_status,
        description="Rebuilds a SQL model when a table it reads changed (its data version moved), after the "
        "writers of its sources are done; a run that found nothing new rebuilds nothing.",
    )


def automation_definitions(
    settings: AutomationSettings,
    tenants: Sequence[str],
    endpoints: Sequence[Endpoint] = ENDPOINTS,
    *,
    sql_models: bool = True,
) -> Definitions:
    """The jobs, sensors, schedules and raw-table checks of `endpoints` (default: all), and the SQL models'
    sensor if there are `sql_models`, switched on or off and timed by `settings`, requesting runs for each
    of `tenants` (none: one tenant). A kind of endpoint none of `endpoints` is has no job, sensor or
    schedule: they would target assets that do not exist."""
    feeds, lists = feeds_and_lists(endpoints)
    status = settings.sensor_status
    jobs, sensors, schedules = [], [build_sql_models_sensor(status)] if sql_models else [], []
    if feeds:
        jobs.append(export_job)
        sensors.append(
            build_export_sensor(status, tenants, interval=lambda: settings.export_interval, feeds=feeds)
        )
    if lists:
        jobs.append(list_job)
        schedules = build_list_schedules(settings, tenants, [AssetKey(ep.asset_key_path) for ep in lists])
    if any(ep.parent for ep in lists):
        sensors.append(build_walk_sensor(status, tenants, lists))
    return Definitions(
        jobs=jobs, sensors=sensors, schedules=schedules, asset_checks=raw_table_checks(endpoints)
    )
