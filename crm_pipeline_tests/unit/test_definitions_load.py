"""The code location's definitions are built when Dagster loads them (`@dg.definitions`), from the environment
of that moment: loaded twice in one process under two environments, they differ as the settings say."""

from __future__ import annotations

import dagster as dg
import pytest

from crm_pipeline.catalog import ENDPOINTS, EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.definitions import defs
from crm_pipeline.settings import SettingsError

RAW_KEYS = {dg.AssetKey(ep.asset_key_path) for ep in ENDPOINTS}
LOADED_SETTINGS = (
    "SERVICETITAN_TENANTS",
    "CRM_AUTOMATION",
    "CRM_DUCKDB_PATH",
    "CRM_DUCKLAKE_DATA_PATH",
    "CRM_LIST_SCHEDULE",
    "CRM_FULL_WALK_SCHEDULE",
    "CRM_EXPORT_INTERVAL_SECONDS",
    "CRM_SCHEDULE_TIMEZONE",
    "CRM_DUCKLAKE_MAINTENANCE_SCHEDULE",
)


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    """Every setting the definitions read at load time unset: each test sets what it compares."""
    for name in LOADED_SETTINGS:
        monkeypatch.delenv(name, raising=False)


def raw_partitions(definitions: dg.Definitions) -> dict[dg.AssetKey, dg.PartitionsDefinition | None]:
    graph = definitions.resolve_asset_graph()
    return {key: graph.get(key).partitions_def for key in RAW_KEYS}


def statuses(definitions: dg.Definitions) -> dict[str, object]:
    repo = definitions.get_repository_def()
    return {
        **{s.name: s.default_status for s in repo.sensor_defs},
        **{s.name: s.default_status for s in repo.schedule_defs},
    }


def test_tenants_become_partitions_only_when_set(monkeypatch):
    single = defs()
    monkeypatch.setenv("SERVICETITAN_TENANTS", "1001, 1002")
    several = defs()
    assert set(raw_partitions(single).values()) == {None}
    partitions = raw_partitions(several)
    assert set(partitions) == RAW_KEYS
    assert all(p is not None and p.get_partition_keys() == ["1001", "1002"] for p in partitions.values())
    sql_models = [key for key in several.resolve_asset_graph().get_all_asset_keys() if key not in RAW_KEYS]
    assert sql_models and all(several.resolve_asset_graph().get(k).partitions_def is None for k in sql_models)


def test_the_export_sensor_of_each_load_requests_runs_for_its_own_tenants(monkeypatch):
    monkeypatch.setenv("SERVICETITAN_TENANTS", "1001,1002")
    several = defs().get_repository_def().get_sensor_def("servicetitan_export_sensor")
    monkeypatch.delenv("SERVICETITAN_TENANTS")
    single = defs().get_repository_def().get_sensor_def("servicetitan_export_sensor")
    feeds = {dg.AssetKey(ep.asset_key_path) for ep in EXPORT_FEEDS}
    with dg.DagsterInstance.ephemeral() as instance:
        by_tenant = several(dg.build_sensor_context(instance=instance)).run_requests
        alone = single(dg.build_sensor_context(instance=instance)).run_requests
    assert {r.partition_key: set(r.asset_selection) for r in by_tenant} == {"1001": feeds, "1002": feeds}
    assert [(r.partition_key, set(r.asset_selection)) for r in alone] == [(None, feeds)]


def test_automation_ships_on_by_default_and_off_when_asked(monkeypatch):
    monkeypatch.setenv("CRM_AUTOMATION", "on")
    switched_on = statuses(defs())
    monkeypatch.setenv("CRM_AUTOMATION", "off")
    switched_off = statuses(defs())
    monkeypatch.delenv("CRM_AUTOMATION")
    assert statuses(defs()) == switched_on
    running = {dg.DefaultSensorStatus.RUNNING, dg.DefaultScheduleStatus.RUNNING}
    stopped = {dg.DefaultSensorStatus.STOPPED, dg.DefaultScheduleStatus.STOPPED}
    assert set(switched_on) == set(switched_off) and len(switched_on) == 5  # 3 sensors, 2 schedules
    assert set(switched_on.values()) == running and set(switched_off.values()) == stopped


def list_cron(definitions: dg.Definitions) -> str:
    return definitions.get_repository_def().get_schedule_def("servicetitan_list_incremental").cron_schedule


def warn_seconds(definitions: dg.Definitions, endpoint) -> float:
    policy = definitions.resolve_asset_graph().get(dg.AssetKey(endpoint.asset_key_path)).freshness_policy
    return policy.warn_window.to_timedelta().total_seconds()


def test_crons_and_intervals_are_read_at_load(monkeypatch):
    before = defs()
    monkeypatch.setenv("CRM_LIST_SCHEDULE", "*/15 * * * *")
    monkeypatch.setenv("CRM_EXPORT_INTERVAL_SECONDS", "1800")
    after = defs()
    assert (list_cron(before), list_cron(after)) == ("0 * * * *", "*/15 * * * *")
    for ep in LIST_ENDPOINTS:  # two gaps of the list schedule
        assert (warn_seconds(before, ep), warn_seconds(after, ep)) == (2 * 3600, 2 * 15 * 60), ep.path
    for ep in EXPORT_FEEDS:  # two intervals, at least 10 minutes
        assert (warn_seconds(before, ep), warn_seconds(after, ep)) == (10 * 60, 2 * 1800), ep.path


def test_a_ducklake_brings_its_maintenance_asset_and_schedule(monkeypatch, tmp_path):
    plain = defs()
    monkeypatch.setenv("CRM_DUCKDB_PATH", "ducklake:postgres:dbname=crm host=localhost")
    monkeypatch.setenv("CRM_DUCKLAKE_DATA_PATH", str(tmp_path / "lake"))
    monkeypatch.setenv("CRM_DUCKLAKE_MAINTENANCE_SCHEDULE", "15 * * * *")
    lake = defs()
    maintenance = dg.AssetKey("ducklake_maintenance")
    assert maintenance not in plain.resolve_asset_graph().get_all_asset_keys()
    graph = lake.resolve_asset_graph()
    assert maintenance in graph.get_all_asset_keys() and graph.get(maintenance).group_name == "maintenance"
    schedule = lake.get_repository_def().get_schedule_def("ducklake_maintenance_schedule")
    assert schedule.cron_schedule == "15 * * * *" and schedule.job_name == "ducklake_maintenance_job"
    assert len(graph.get_all_asset_keys()) == len(plain.resolve_asset_graph().get_all_asset_keys()) + 1
    assert lake.resources["duckdb"].database.startswith("ducklake:")


def test_a_bad_setting_fails_the_load_not_the_import(monkeypatch):
    monkeypatch.setenv("CRM_AUTOMATION", "sometimes")
    with pytest.raises(SettingsError, match="CRM_AUTOMATION"):
        defs()
    monkeypatch.setenv("CRM_AUTOMATION", "off")
    assert defs().resolve_asset_graph().get_all_asset_keys() >= RAW_KEYS
