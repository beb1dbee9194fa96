"""Everything that makes the pipeline run itself: jobs, the export sensor, the list schedules, the SQL
models' declarative automation and the raw tables' checks (freshness: each raw asset's FreshnessPolicy).

Sensors and schedules start switched on (CRM_AUTOMATION=on, the default): the pipeline exists to keep
the copy fresh, and they only tick where a Dagster daemon runs (`dagster dev`, `dagster-daemon run`).
CRM_AUTOMATION=off ships them stopped, to switch on in the UI. A toggle in the UI wins over both.
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationConditionSensorDefinition

from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings
from crm_pipeline.defs.servicetitan.checks import raw_checks
from crm_pipeline.defs.servicetitan.jobs import export_job, list_job
from crm_pipeline.defs.servicetitan.schedules import build_list_schedules
from crm_pipeline.defs.servicetitan.sensors import build_export_sensor, build_walk_sensor

settings = AutomationSettings.from_env()

sql_models_sensor = AutomationConditionSensorDefinition(
    "sql_models_automation",
    target=AssetSelection.groups("staging", "marts"),
    minimum_interval_seconds=30,
    default_status=settings.sensor_status,
    description="Rebuilds a SQL model when a table it reads changed (its data version moved), after the "
    "writers of its sources are done; a run that found nothing new rebuilds nothing.",
)

automation_jobs = [export_job, list_job]
automation_sensors = [
    build_export_sensor(settings.sensor_status),
    build_walk_sensor(settings.sensor_status),
    sql_models_sensor,
]
automation_schedules = build_list_schedules(settings)
automation_checks = raw_checks
