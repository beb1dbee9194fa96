"""The export sensor: runs each export feed again when it has more to fetch, or when its interval has passed.

It decides from Dagster's own records (the latest materialization's `has_more`, runs in progress),
never from the DuckDB file, which a running writer holds locked.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS, Endpoint
from crm_pipeline.defs.resources import export_interval_now
from crm_pipeline.defs.servicetitan.jobs import export_job, list_job, list_run_config, runs_in_progress
from crm_pipeline.ingest import strategy_of

SENSOR_NAME = "servicetitan_export_sensor"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _epoch(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text).timestamp()


def _meta(event, name: str):
    value = event.asset_materialization.metadata.get(name) if event and event.asset_materialization else None
    return getattr(value, "value", value)


@dataclass
class ExportPlan:
    """What one tick decided: the feeds to run now and each feed's state (the sensor's cursor)."""

    due: dict[str | None, list[AssetKey]] = field(
        default_factory=dict
    )  # tenant (None: not partitioned) -> feeds
    feeds: dict[str, dict] = field(default_factory=dict)
    interval: int = 0

    @property
    def cursor(self) -> str:
        return json.dumps({"interval_seconds": self.interval, "feeds": self.feeds}, indent=1, sort_keys=True)


def _decide(state: dict, now: float, interval: int, *, loaded: float | None, requested: float | None):
    """(due now?, why) for one feed that is not running (whether its last load had more: `state`)."""
    has_more = state["has_more"]
    if loaded is None:
        if requested is None or now - requested >= interval:
            return True, "never loaded: run now"
        retry = _iso(requested + interval)
        return False, f"never loaded; the request of {_iso(requested)} did not load: retry after {retry}"
    if has_more and (requested is None or requested < loaded - 0.001):  # loaded after the last request
        return True, "more to fetch: run again now"
    since = max(loaded, requested or 0.0)
    if now - since >= interval:
        return True, "more to fetch: retry now" if has_more else "caught up, interval passed: run now"
    state["next_run_after"] = _iso(since + interval)
    why = "the last request did not load" if has_more or since > loaded else "caught up"
    return False, f"{why}: next run after {state['next_run_after']}"


def _latest(instance: DagsterInstance, key: AssetKey, tenant: str | None):
    """The latest materialization event of `key` (of `tenant`'s partition, when tenants are partitions)."""
    if tenant is None:
        return instance.get_latest_materialization_event(key)
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=key, asset_partitions=[tenant]), limit=1
    )
    return records.records[0].event_log_entry if records.records else None


def plan_export_runs(
    instance: DagsterInstance,
    cursor: str | None,
    now: float,
    *,
    interval: int,
    tenants: Sequence[str] = (),
    feeds: Sequence[Endpoint] = EXPORT_FEEDS,
) -> ExportPlan:
    """Decide, for each of `feeds` (default: every export feed) of every tenant, whether to run it now; the
    previous cursor holds past requests."""
    previous = json.loads(cursor).get("feeds", {}) if cursor else {}
    keys = {ep.path: AssetKey(ep.asset_key_path) for ep in feeds}
    plan = ExportPlan(interval=interval)
    for tenant in tenants or [None]:
        running = runs_in_progress(instance, keys.values(), tenant)
        for stream, key in keys.items():
            name = stream if tenant is None else f"{tenant}/{stream}"
            event = _latest(instance, key, tenant)
            requested = _epoch(previous.get(name, {}).get("requested_at"))
            state = {
                "has_more": _meta(event, "has_more"),
                "cursor_position": _meta(event, "cursor_position"),
                "last_load": _iso(event.timestamp) if event else None,
                "last_load_run": event.run_id if event else None,
                "requested_at": _iso(requested),
            }
            if key in running:
                due, why = False, f"running in run {running[key]}: not started twice"
            else:
                due, why = _decide(
                    state, now, interval, loaded=event.timestamp if event else None, requested=requested
                )
            if due:
                plan.due.setdefault(tenant, []).append(key)
                state["requested_at"] = _iso(now)
            state["decision"] = why
            plan.feeds[name] = state
    return plan


def build_export_sensor(
    default_status: DefaultSensorStatus,
    tenants: Sequence[str] = (),
    interval: Callable[[], int] = export_interval_now,
    feeds: Sequence[Endpoint] = EXPORT_FEEDS,
):
    """The export sensor of `feeds` (default: every export feed), requesting runs for each of `tenants`
    (their partitions; none: one tenant), each feed `interval()` seconds after its last caught-up run."""

    @sensor(
        name=SENSOR_NAME,
        job=export_job,
        minimum_interval_seconds=30,
        default_status=default_status,
        description="Runs each export feed from its stored cursor: again at once while its last run ended "
        "with more to fetch, else once its interval (CRM_EXPORT_INTERVAL_SECONDS, default 300) has passed. "
        "Never starts a feed that a queued or running run already writes. The cursor shows each feed's state "
        "as JSON.",
    )
    def servicetitan_export_sensor(context: SensorEvaluationContext) -> SensorResult:
        """Request one run of the export feeds that are due; record every feed's state in the cursor."""
        plan = plan_export_runs(
            context.instance, context.cursor, time.time(), interval=interval(), tenants=tenants, feeds=feeds
        )
        if not plan.due:
            return SensorResult(skip_reason=SkipReason("no export feed is due"), cursor=plan.cursor)
        requests = []
        for tenant, due in plan.due.items():
            names = ",".join(key.path[-1] for key in due)
            requests.append(
                RunRequest(
                    asset_selection=due,
                    partition_key=tenant,
                    tags={"crm/trigger": SENSOR_NAME, "crm/feeds": names},
                )
            )
        return SensorResult(run_requests=requests, cursor=plan.cursor)

    return servicetitan_export_sensor


WALK_SENSOR_NAME = "servicetitan_list_walk_sensor"


def unfinished_walks(
    instance: DagsterInstance, tenants: Sequence[str] = (), endpoints: Sequence[Endpoint] = LIST_ENDPOINTS
) -> dict[str | None, list[AssetKey]]:
    """Per tenant, the parent-scoped list assets of `endpoints` whose last run stopped with more to do
    (time budget spent) and that no queued or running run writes."""
    keys = [AssetKey(ep.asset_key_path) for ep in endpoints if strategy_of(ep).in_slices]
    due: dict[str | None, list[AssetKey]] = {}
    for tenant in tenants or [None]:
        running = runs_in_progress(instance, keys, tenant)
        for key in keys:
            if key not in running and _meta(_latest(instance, key, tenant), "has_more"):
                due.setdefault(tenant, []).append(key)
    return due


def build_walk_sensor(
    default_status: DefaultSensorStatus,
    tenants: Sequence[str] = (),
    endpoints: Sequence[Endpoint] = LIST_ENDPOINTS,
):
    """The sensor continuing the unfinished parent walks of `endpoints` (default: every list endpoint), for
    each of `tenants` (none: one tenant)."""

    @sensor(
        name=WALK_SENSOR_NAME,
        job=list_job,
        minimum_interval_seconds=30,
        default_status=default_status,
        description="Continues a parent walk (notes, contacts, ...) whose run stopped after its time budget "
        "(CRM_WALK_BUDGET_SECONDS) with parents still to visit, as soon as no run writes it.",
    )
    def servicetitan_list_walk_sensor(context: SensorEvaluationContext) -> SensorResult:
        due = unfinished_walks(context.instance, tenants, endpoints)
        if not due:
            return SensorResult(skip_reason=SkipReason("no parent walk is waiting to be continued"))
        return SensorResult(
            run_requests=[
                RunRequest(
                    asset_selection=keys,
                    partition_key=tenant,
                    run_config=list_run_config(full_walk=False),
                    tags={"crm/trigger": WALK_SENSOR_NAME, "crm/walks": ",".join(k.path[-1] for k in keys)},
                )
                for tenant, keys in due.items()
            ]
        )

    return servicetitan_list_walk_sensor
