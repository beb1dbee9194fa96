"""The DuckLake's housekeeping (storage.maintenance) as an asset on a schedule: defined only when
CRM_DUCKDB_PATH names a DuckLake (the DuckDB file needs none)."""

from collections.abc import Callable, Mapping
from datetime import timedelta

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from crm_pipeline.defs.resources import CrmDuckDB
from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings, cron_setting
from crm_pipeline.settings import seconds
from crm_pipeline.storage.lake import PATH_SETTING, is_lake_path
from crm_pipeline.storage.maintenance import DEFAULT_RETENTION, maintain_lake

DEFAULT_MAINTENANCE_SCHEDULE = "30 * * * *"  # hourly, between the list runs on the hour
RETENTION_SETTING = "CRM_DUCKLAKE_RETENTION_SECONDS"
SCHEDULE_SETTING = "CRM_DUCKLAKE_MAINTENANCE_SCHEDULE"


def retention(env: Mapping[str, str]) -> timedelta:
    return timedelta(seconds=seconds(env, RETENTION_SETTING, int(DEFAULT_RETENTION.total_seconds())))


def build_maintenance_asset(retention_of_run: Callable[[], timedelta]) -> AssetsDefinition:
    """The `ducklake_maintenance` asset: the lake's housekeeping, keeping the snapshots of
    `retention_of_run()` (read as a run starts); its metadata, the files before and after."""

    @asset(
        key=["ducklake_maintenance"],
        group_name="maintenance",
        kinds={"ducklake"},
        description="Merges the lake's small files, rewrites files mostly deleted by upserts, expires "
        f"snapshots older than {RETENTION_SETTING} and deletes files nothing references any more.",
    )
    def ducklake_maintenance(context: AssetExecutionContext, duckdb: CrmDuckDB) -> MaterializeResult:
        with duckdb.get_connection() as conn:
            before, after = maintain_lake(conn, retention_of_run())
        context.log.info(f"DuckLake files before {before}, after {after}")
        return MaterializeResult(metadata={**before.as_metadata("before"), **after.as_metadata("after")})

    return ducklake_maintenance


def lake_maintenance_definitions(env: Mapping[str, str]) -> Definitions:
    """The maintenance asset, its job and schedule (CRM_DUCKLAKE_MAINTENANCE_SCHEDULE) for a DuckLake;
    else nothing."""
    if not is_lake_path(env.get(PATH_SETTING) or ""):
        return Definitions()
    automation = AutomationSettings.from_env(env)
    maintenance = build_maintenance_asset(lambda: retention(env))
    job = define_asset_job("ducklake_maintenance_job", selection=[maintenance])
    schedule = ScheduleDefinition(
        name="ducklake_maintenance_schedule",
        job=job,
        cron_schedule=cron_setting(env, SCHEDULE_SETTING, DEFAULT_MAINTENANCE_SCHEDULE),
        execution_timezone=automation.timezone,
        default_status=automation.schedule_status,
    )
    return Definitions(assets=[maintenance], jobs=[job], schedules=[schedule])
