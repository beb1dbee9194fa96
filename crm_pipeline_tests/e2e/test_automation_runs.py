"""The export sensor and the SQL models' automation conditions between real in-process runs of the raw assets
against the sandbox: what they start after a load, and what they leave alone."""

from __future__ import annotations

import dagster as dg
import duckdb
from dagster._core.test_utils import create_run_for_test

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.defs.servicetitan.jobs import EXPORT_KEYS, export_job
from crm_pipeline.defs.sql_models import build_sql_model_assets
from crm_pipeline.sql_models import load_project
from crm_pipeline_tests.compare import differences
from crm_pipeline_tests.dagster_helpers import keys, resources, run, tick

CUSTOMERS = dg.AssetKey(["raw_export", "customers"])
export_assets = [build_export_assets()]
sql_model_assets = build_sql_model_assets(load_project())


def test_new_data_is_fetched_once_the_interval_has_passed(sandbox, settings, env, instance, monkeypatch):
    run(export_assets, settings, instance)
    changed = sandbox.change("export/customers", n=5)
    requests, skip, cursor, raw = tick(instance, monkeypatch=monkeypatch)
    assert requests == [] and "no export feed is due" in skip
    state = cursor["feeds"]["export/customers"]
    assert state["has_more"] is False and state["decision"].startswith("caught up: next run after")
    requests, _, cursor, _ = tick(instance, raw, interval=0, monkeypatch=monkeypatch)
    assert keys(requests) == set(EXPORT_KEYS)
    assert requests[0].tags["crm/trigger"] == "servicetitan_export_sensor"
    result = run(export_assets, settings, instance, selection=requests[0].asset_selection)
    upserted = {
        e.asset_key: e.materialization.metadata["rows_upserted"].value
        for e in result.get_asset_materialization_events()
    }
    assert upserted[CUSTOMERS] >= len(changed)
    with duckdb.connect(settings.duckdb_path) as conn:
        for ep in EXPORT_FEEDS:
            assert differences(conn, ep, settings.tenant_id, sandbox.records(ep.path)) == []


def test_no_new_data_no_run_within_the_interval_and_an_unchanged_data_version(
    settings, env, instance, monkeypatch
):
    first = run(export_assets, settings, instance)
    _, skip, cursor, _ = tick(instance, monkeypatch=monkeypatch)
    assert skip and all(f["decision"].startswith("caught up") for f in cursor["feeds"].values())
    second = run(export_assets, settings, instance)  # what the sensor would start after the interval

    def version(r):
        return {
            e.asset_key: e.materialization.tags["dagster/data_version"]
            for e in r.get_asset_materialization_events()
        }

    assert version(second) == version(first)
    assert all(
        e.materialization.metadata["rows_upserted"].value == 0
        for e in second.get_asset_materialization_events()
    )


def test_a_feed_already_running_is_not_started_twice(settings, env, instance, monkeypatch):
    run(export_assets, settings, instance)
    busy = create_run_for_test(
        instance,
        job_name=export_job.name,
        status=dg.DagsterRunStatus.STARTED,
        asset_selection=frozenset({CUSTOMERS}),
    )
    requests, _, cursor, _ = tick(instance, interval=0, monkeypatch=monkeypatch)
    assert keys(requests) == set(EXPORT_KEYS) - {CUSTOMERS}
    assert busy.run_id in cursor["feeds"]["export/customers"]["decision"]
    create_run_for_test(instance, job_name=export_job.name, status=dg.DagsterRunStatus.STARTING)  # whole job
    requests, skip, _, _ = tick(instance, interval=0, monkeypatch=monkeypatch)
    assert requests == [] and skip


def test_a_backlog_runs_again_at_once_and_only_once_per_load(settings, env, instance, monkeypatch):
    run(export_assets, settings, instance)
    instance.report_runless_asset_event(dg.AssetMaterialization(CUSTOMERS, metadata={"has_more": True}))
    requests, _, cursor, raw = tick(instance, monkeypatch=monkeypatch)
    assert keys(requests) == {CUSTOMERS}  # the others reached the end moments ago
    assert cursor["feeds"]["export/customers"]["decision"] == "more to fetch: run again now"
    requests, _, cursor, raw = tick(instance, raw, monkeypatch=monkeypatch)  # that run has not loaded yet
    assert requests == [] and "did not load" in cursor["feeds"]["export/customers"]["decision"]
    instance.report_runless_asset_event(dg.AssetMaterialization(CUSTOMERS, metadata={"has_more": True}))
    requests, _, _, _ = tick(instance, raw, monkeypatch=monkeypatch)
    assert keys(requests) == {CUSTOMERS}


def test_sql_models_rebuild_when_their_raw_tables_changed_not_on_every_load(sandbox, settings, env, instance):
    run([*export_assets, *sql_model_assets], settings, instance)
    graph = dg.Definitions(assets=[*export_assets, *sql_model_assets], resources=resources(settings))
    # the first tick sets the cursor
    result = dg.evaluate_automation_conditions(defs=graph, instance=instance)
    run(export_assets, settings, instance)  # nothing new in the API: same data versions
    result = dg.evaluate_automation_conditions(defs=graph, instance=instance, cursor=result.cursor)
    assert result.total_requested == 0
    sandbox.change("export/leads", n=3)
    run(export_assets, settings, instance)
    result = dg.evaluate_automation_conditions(defs=graph, instance=instance, cursor=result.cursor)
    requested = {
        key.to_user_string() for a in sql_model_assets for key in a.keys if result.get_num_requested(key)
    }
    assert {"staging/stg_leads", "marts/lead_funnel", "marts/lead_funnel_monthly"} <= requested
    assert "staging/stg_customers" not in requested and "staging/stg_bookings" not in requested
