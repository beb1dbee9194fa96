"""Schedules of the list endpoints: incremental runs often, whole walks that mark deletions rarely."""

from __future__ import annotations

from collections.abc import Sequence

from dagster import AssetKey, RunRequest, ScheduleDefinition, ScheduleEvaluationContext, SkipReason, schedule

from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings
from crm_pipeline.defs.servicetitan.jobs import LIST_KEYS, list_job, list_run_config, runs_in_progress

INCREMENTAL = "servicetitan_list_incremental"
FULL_WALK = "servicetitan_list_full_walk"


def build_list_schedules(
    settings: AutomationSettings, tenants: Sequence[str] = (), keys: Sequence[AssetKey] = LIST_KEYS
) -> list[ScheduleDefinition]:
    """The two schedules of `list_job`, on the crons of CRM_LIST_SCHEDULE and CRM_FULL_WALK_SCHEDULE,
    requesting a run for each of `tenants` (their partitions; none: one tenant); an incremental run waits
    while a run writes any of `keys` (default: every list asset)."""

    @schedule(
        name=INCREMENTAL,
        job=list_job,
        cron_schedule=settings.list_schedule,
        execution_timezone=settings.timezone,
        default_status=settings.schedule_status,
        description=f"Every list endpoint, only what changed since its watermark (CRM_LIST_SCHEDULE, "
        f"now `{settings.list_schedule}` {settings.timezone}). Skipped while a list run is still going.",
    )
    def servicetitan_list_incremental(context: ScheduleEvaluationContext):
        """An incremental run of every list endpoint (per tenant), unless one is still queued or running."""
        requests, skipped = [], []
        for tenant in tenants or [None]:
            busy = runs_in_progress(context.instance, keys, tenant)
            if busy:
                run_id = sorted(set(busy.values()))[0]
                skipped.append(f"{tenant or 'list endpoints'}: still being written by run {run_id}")
                continue
            requests.append(
                RunRequest(
                    run_config=list_run_config(full_walk=False),
                    partition_key=tenant,
                    run_key=tenant,  # a schedule's several requests of one tick need one each
                    tags={"crm/trigger": INCREMENTAL},
                )
            )
        return requests or SkipReason("; ".join(skipped))

    @schedule(
        name=FULL_WALK,
        job=list_job,
        cron_schedule=settings.full_walk_schedule,
        execution_timezone=settings.timezone,
        default_status=settings.schedule_status,
        description="Every list endpoint walked whole, stamping `_deleted_at` on rows the API no longer "
        f"returns (CRM_FULL_WALK_SCHEDULE, now `{settings.full_walk_schedule}` {settings.timezone}).",
    )
    def servicetitan_list_full_walk(context: ScheduleEvaluationContext):
        """A whole walk of every list endpoint (per tenant); if a list run is going, it waits for the file."""
        return [
            RunRequest(
                run_config=list_run_config(full_walk=True),
                partition_key=tenant,
                run_key=tenant,
                tags={"crm/trigger": FULL_WALK},
            )
            for tenant in tenants or [None]
        ]

    return [servicetitan_list_incremental, servicetitan_list_full_walk]
