"""Helpers shared by the tests that run assets in process: their resources, a run that must succeed, and
the check evaluations of a run, and ticks of the export sensor."""

from __future__ import annotations

import json

import dagster as dg

from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.sensors import build_export_sensor


def resources(settings, readonly_copy: str | None = None) -> dict:
    return {
        "servicetitan": ServiceTitanResource(),
        "duckdb": CrmDuckDB(database=settings.duckdb_path, readonly_copy=readonly_copy),
    }


def run(
    assets, settings, instance, *, selection=None, run_config=None, checks=()
) -> dg.ExecuteInProcessResult:
    """Materialize `assets` (or `selection` of them) in process on `instance`; the run must succeed."""
    result = dg.materialize(
        [*assets, *checks],
        selection=selection,
        instance=instance,
        resources=resources(settings),
        run_config=run_config,
    )
    assert result.success
    return result


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """`{"raw_export/customers:no_quarantined_rows": evaluation}` for every check the run evaluated."""
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


# The export sensor as the code location ships it (running), for ticks evaluated by tests.
sensor = build_export_sensor(dg.DefaultSensorStatus.RUNNING)


def tick(instance, cursor=None, interval=300, monkeypatch=None):
    """Evaluate one sensor tick; returns (run requests, skip reason, cursor as a dict, raw cursor)."""
    monkeypatch.setenv("CRM_EXPORT_INTERVAL_SECONDS", str(interval))
    result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor))
    return result.run_requests or [], result.skip_reason, json.loads(result.cursor), result.cursor


def keys(requests) -> set[dg.AssetKey]:
    return {key for request in requests for key in request.asset_selection}
