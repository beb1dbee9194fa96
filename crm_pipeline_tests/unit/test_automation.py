"""The export sensor and the list schedules, evaluated with Dagster's test helpers on a throwaway instance (no
run: the runs they start, against the sandbox, are in e2e/test_automation_runs.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import create_run_for_test

from crm_pipeline.catalog import ENDPOINTS, EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.definitions import defs
from crm_pipeline.defs.servicetitan.automation_settings import AutomationSettings
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.defs.servicetitan.freshness import freshness_policy
from crm_pipeline.defs.servicetitan.jobs import EXPORT_KEYS, LIST_KEYS, list_job
from crm_pipeline.defs.servicetitan.list_assets import LIST_OP
from crm_pipeline.defs.servicetitan.schedules import build_list_schedules
from crm_pipeline.defs.servicetitan.sensors import SENSOR_NAME, build_export_sensor
from crm_pipeline.defs.sql_models import build_sql_model_assets
from crm_pipeline.settings import SettingsError
from crm_pipeline.sql_models import load_project
from crm_pipeline_tests.dagster_helpers import keys, tick

CUSTOMERS = dg.AssetKey(["raw_export", "customers"])
export_assets = [build_export_assets()]
sql_model_assets = build_sql_model_assets(load_project())


def test_definitions_hold_the_sensors_schedules_and_jobs_switched_on():
    repo = defs().get_repository_def()
    assert {s.name: s.default_status for s in repo.sensor_defs} == {
        "servicetitan_export_sensor": dg.DefaultSensorStatus.RUNNING,
        "servicetitan_list_walk_sensor": dg.DefaultSensorStatus.RUNNING,
        "sql_models_automation": dg.DefaultSensorStatus.RUNNING,
    }
    assert {s.name: s.cron_schedule for s in repo.schedule_defs} == {
        "servicetitan_list_incremental": "0 * * * *",
        "servicetitan_list_full_walk": "0 3 * * 0",
    }
    assert {"servicetitan_export_job", "servicetitan_list_job"} <= set(repo.job_names)


def test_every_raw_asset_has_a_freshness_policy_from_the_same_settings():
    graph = defs().resolve_asset_graph()
    default = AutomationSettings.from_env({})
    slower = AutomationSettings.from_env(
        {"CRM_EXPORT_INTERVAL_SECONDS": "900", "CRM_LIST_SCHEDULE": "0 */6 * * *"}
    )
    for ep in ENDPOINTS:
        policy = graph.get(dg.AssetKey(ep.asset_key_path)).freshness_policy
        assert policy == freshness_policy(ep, default), ep.path
        changed = freshness_policy(ep, slower)
        warn = timedelta(minutes=30) if ep.kind == "export" else timedelta(hours=12)  # two intervals
        assert (changed.warn_window.to_timedelta(), changed.fail_window.to_timedelta()) == (warn, 2 * warn)
    export = freshness_policy(EXPORT_FEEDS[0], default)  # 5 minutes: at least 10 minutes, not two intervals
    assert (export.warn_window.to_timedelta(), export.fail_window.to_timedelta()) == (
        timedelta(minutes=10),
        timedelta(minutes=20),
    )


def test_settings_can_ship_them_off_and_change_the_crons():
    settings = AutomationSettings.from_env(
        {"CRM_AUTOMATION": "off", "CRM_LIST_SCHEDULE": "*/15 * * * *", "CRM_FULL_WALK_SCHEDULE": "30 2 * * *"}
    )
    assert build_export_sensor(settings.sensor_status).default_status == dg.DefaultSensorStatus.STOPPED
    schedules = build_list_schedules(settings)
    assert [(s.cron_schedule, s.default_status) for s in schedules] == [
        ("*/15 * * * *", dg.DefaultScheduleStatus.STOPPED),
        ("30 2 * * *", dg.DefaultScheduleStatus.STOPPED),
    ]
    with pytest.raises(SettingsError, match="CRM_LIST_SCHEDULE"):
        AutomationSettings.from_env({"CRM_LIST_SCHEDULE": "hourly"})


def test_the_component_export_interval_attribute_times_its_sensor(instance, monkeypatch):
    monkeypatch.setenv("CRM_EXPORT_INTERVAL_SECONDS", "300")
    component = ServiceTitanComponent(export_interval_seconds=900)
    sensor = component.build_defs(dg.ComponentTree.for_test().load_context).get_sensor_def(SENSOR_NAME)
    result = sensor(dg.build_sensor_context(instance=instance))
    assert json.loads(result.cursor)["interval_seconds"] == 900


def test_first_tick_starts_every_feed_and_the_cursor_is_readable_json(instance, monkeypatch):
    requests, _, cursor, raw = tick(instance, monkeypatch=monkeypatch)
    assert keys(requests) == set(EXPORT_KEYS) and len(requests) == 1
    assert raw.startswith("{\n")  # indented: readable in the UI
    assert cursor["feeds"]["export/customers"]["decision"] == "never loaded: run now"
    again, skip, cursor, _ = tick(instance, raw, monkeypatch=monkeypatch)  # the run has not loaded yet
    assert again == [] and skip and "retry after" in cursor["feeds"]["export/leads"]["decision"]


@pytest.mark.parametrize(
    "name, full_walk", [("servicetitan_list_incremental", False), ("servicetitan_list_full_walk", True)]
)
def test_schedules_request_the_list_job_with_full_walk_set(instance, name, full_walk):
    definitions = defs()
    schedule = definitions.get_repository_def().get_schedule_def(name)
    when = datetime(2026, 3, 1, 3, 0, tzinfo=UTC)
    request = schedule.evaluate_tick(
        dg.build_schedule_context(instance=instance, scheduled_execution_time=when)
    )
    [run_request] = request.run_requests
    assert schedule.job_name == list_job.name and run_request.asset_selection is None
    # one op loads every list endpoint (LIST_KEYS, a subsettable multi-asset)
    ops = run_request.run_config["ops"]
    assert ops == {LIST_OP: {"config": {"full_walk": full_walk}}}
    job = definitions.resolve_job_def(list_job.name)
    assert set(job.asset_layer.selected_asset_keys) == set(LIST_KEYS)
    assert len(LIST_KEYS) == len(LIST_ENDPOINTS)
    assert dg.validate_run_config(definitions.resolve_job_def(list_job.name), run_request.run_config)


def test_the_incremental_schedule_skips_while_a_list_run_is_going(instance):
    busy = create_run_for_test(instance, job_name=list_job.name, status=dg.DagsterRunStatus.STARTED)
    schedule = defs().get_repository_def().get_schedule_def("servicetitan_list_incremental")
    data = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
    assert not data.run_requests and busy.run_id in data.skip_message
