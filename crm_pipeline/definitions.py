"""The Dagster code location: `dagster dev -m crm_pipeline.definitions`."""

from dagster import Definitions, in_process_executor

from crm_pipeline.defs.lake_maintenance import lake_maintenance_definitions
from crm_pipeline.defs.resources import default_resources
from crm_pipeline.defs.servicetitan.automation import (
    automation_checks,
    automation_jobs,
    automation_schedules,
    automation_sensors,
)
from crm_pipeline.defs.servicetitan.export_assets import export_assets
from crm_pipeline.defs.servicetitan.list_assets import list_assets
from crm_pipeline.defs.sql_models import sql_model_assets, sql_model_checks

defs = Definitions(
    assets=[*export_assets, *list_assets, *sql_model_assets],
    asset_checks=[*sql_model_checks, *automation_checks],
    jobs=automation_jobs,
    sensors=automation_sensors,
    schedules=automation_schedules,
    resources=default_resources(),
    # One process per run: its endpoints load side by side on threads inside the raw multi-assets, sharing
    # one client per tenant (one token, one rate limit) and one handle on the DuckDB file.
    executor=in_process_executor,
)
# With CRM_DUCKDB_PATH=ducklake:...: the lake's maintenance asset and its schedule (nothing for the file).
defs = Definitions.merge(defs, lake_maintenance_definitions())
