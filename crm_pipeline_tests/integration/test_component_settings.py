"""The ServiceTitanComponent's attributes reach what they set at run time, not only the load: the export
sensor's interval, and the parent walks' time budget (its attributes win over the environment)."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.defs.servicetitan.sensors import SENSOR_NAME
from crm_pipeline_tests.sandbox import Sandbox

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
NOTES_KEY = dg.AssetKey(NOTES.asset_key_path)
PARENTS = 240  # 4 s of walk at the client's 60/s


@pytest.fixture
def sandbox():
    with Sandbox(seed=12, sizes={"customers": PARENTS}) as sb:
        yield sb


def component_defs(**attributes) -> dg.Definitions:
    component = ServiceTitanComponent(**attributes)
    return component.build_defs(dg.ComponentTree.for_test().load_context)


def test_the_export_interval_attribute_times_the_sensor(env, instance, monkeypatch):
    monkeypatch.setenv("CRM_EXPORT_INTERVAL_SECONDS", "300")
    defs = component_defs(export_interval_seconds=900, automation=True)
    sensor = defs.get_sensor_def(SENSOR_NAME)
    result = sensor(dg.build_sensor_context(instance=instance))
    assert json.loads(result.cursor)["interval_seconds"] == 900


def test_the_walk_budget_attribute_stops_a_walk_with_more_to_do(
    env, settings, instance, tmp_path, monkeypatch
):
    monkeypatch.setenv("CRM_WALK_BUDGET_SECONDS", "1800")  # the environment's budget: the whole walk
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    defs = component_defs(duckdb_path=settings.duckdb_path, walk_budget_seconds=0.5, automation=False)
    result = dg.materialize(
        list(defs.assets),
        selection=[dg.AssetKey(CUSTOMERS.asset_key_path), NOTES_KEY],
        instance=instance,
        resources=defs.resources,
    )
    assert result.success
    event = instance.get_latest_materialization_event(NOTES_KEY)
    metadata = {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
    assert (
        metadata["has_more"] is True and 0 < metadata["parents_done"] < metadata["parents_planned"] == PARENTS
    )
