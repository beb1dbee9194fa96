"""A parent walk stops after CRM_WALK_BUDGET_SECONDS with `has_more` in its materialization; the walk sensor
requests a run for it, and those runs continue the walk, slice by slice, to an exact table."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.defs.servicetitan.list_assets import build_list_assets
from crm_pipeline.defs.servicetitan.sensors import build_walk_sensor
from crm_pipeline_tests.cli_runs import requested_parents
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.dagster_helpers import run
from crm_pipeline_tests.sandbox import Sandbox

list_assets = [build_list_assets()]

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
NOTES_KEY = dg.AssetKey(NOTES.asset_key_path)
PARENTS = 240  # 4 s of walk at the client's 60/s


@pytest.fixture
def sandbox():
    with Sandbox(seed=12, sizes={"customers": PARENTS}) as sb:
        yield sb


def latest_metadata(instance, key: dg.AssetKey) -> dict:
    event = instance.get_latest_materialization_event(key)
    return {
        name: getattr(value, "value", value) for name, value in event.asset_materialization.metadata.items()
    }


def walk_sensor_requests(instance) -> list[dg.RunRequest]:
    result = build_walk_sensor(dg.DefaultSensorStatus.RUNNING)(dg.build_sensor_context(instance=instance))
    return list(result.run_requests or [])


def test_a_walk_stopped_by_its_budget_is_continued_by_the_sensor_to_an_exact_table(
    sandbox, settings, env, instance, monkeypatch
):
    # a slice: half a second of new parents, then those in flight
    monkeypatch.setenv("CRM_WALK_BUDGET_SECONDS", "0.5")
    run(list_assets, settings, instance, selection=[dg.AssetKey(CUSTOMERS.asset_key_path), NOTES_KEY])
    first = latest_metadata(instance, NOTES_KEY)
    assert first["has_more"] is True and 0 < first["parents_done"] < first["parents_planned"] == PARENTS, (
        first
    )
    assert walk_sensor_requests(instance)[0].asset_selection == [NOTES_KEY]
    requested, slices = requested_parents(sandbox), 1
    while requests := walk_sensor_requests(instance):  # what the daemon does at each tick
        assert slices < 12, "the walk does not end"
        (request,) = requests
        assert request.asset_selection == [NOTES_KEY]
        sandbox.clear_log()
        run(list_assets, settings, instance, selection=request.asset_selection, run_config=request.run_config)
        again = set(requested) & set(requested_parents(sandbox))
        # a budget ends a slice cleanly
        assert again == set(), f"a slice requested {len(again)} parents again"
        requested += requested_parents(sandbox)
        slices += 1
    last = latest_metadata(instance, NOTES_KEY)
    assert slices >= 3 and last["has_more"] is False and last["parents_done"] == last["parents_planned"], last
    assert set(requested) == {p["id"] for p in sandbox.parents(NOTES.path)}
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        assert differences(conn, NOTES, settings.tenant_id, served(sandbox, NOTES)) == []


def test_the_component_walk_budget_attribute_wins_over_the_environment(
    sandbox, settings, env, instance, tmp_path, monkeypatch
):
    monkeypatch.setenv("CRM_WALK_BUDGET_SECONDS", "1800")  # the environment's budget: the whole walk
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    component = ServiceTitanComponent(
        duckdb_path=settings.duckdb_path, walk_budget_seconds=0.5, automation=False
    )
    defs = component.build_defs(dg.ComponentTree.for_test().load_context)
    selection = [dg.AssetKey(CUSTOMERS.asset_key_path), NOTES_KEY]
    result = dg.materialize(
        list(defs.assets), selection=selection, instance=instance, resources=defs.resources
    )
    first = latest_metadata(instance, NOTES_KEY)
    assert result.success and first["has_more"] is True
    assert 0 < first["parents_done"] < first["parents_planned"] == PARENTS, first
