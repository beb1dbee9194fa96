"""The component's `endpoints` attribute: the raw assets it names, and only theirs, with their checks, jobs,
sensors, schedules, freshness and the SQL models whose raw tables they load."""

from __future__ import annotations

import warnings

import dagster as dg
import pytest

from crm_pipeline.catalog import ENDPOINTS
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.definitions import DAGSTER_NOTES
from crm_pipeline.settings import SettingsError

CUSTOMERS_AND_NOTES = ["raw_export/customers", "raw_list/customers", "raw_list/customers_notes"]


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch):
    for name in ("SERVICETITAN_TENANTS", "CRM_AUTOMATION", "CRM_DUCKDB_PATH"):
        monkeypatch.delenv(name, raising=False)


def component_defs(**attributes) -> dg.Definitions:
    component = ServiceTitanComponent(**attributes)
    with warnings.catch_warnings():  # Dagster's notes on its preview APIs, silenced as dg silences them
        for note in DAGSTER_NOTES:
            warnings.simplefilter("ignore", note)
        return component.build_defs(dg.ComponentTree.for_test().load_context)


def asset_keys(definitions: dg.Definitions) -> set[str]:
    return {key.to_user_string() for key in definitions.resolve_asset_graph().get_all_asset_keys()}


def names(definitions: dg.Definitions) -> dict[str, set[str]]:
    repo = definitions.get_repository_def()
    return {
        "sensors": {s.name for s in repo.sensor_defs},
        "schedules": {s.name for s in repo.schedule_defs},
        "jobs": {j.name for j in repo.get_all_jobs()} - {"__ASSET_JOB"},
    }


def test_without_endpoints_the_component_builds_all_25():
    keys = asset_keys(component_defs())
    assert {k for k in keys if k.startswith("raw_")} == {"/".join(ep.asset_key_path) for ep in ENDPOINTS}


def test_endpoints_limit_the_raw_assets_checks_and_sql_models():
    definitions = component_defs(endpoints=CUSTOMERS_AND_NOTES)
    dg.Definitions.validate_loadable(definitions)  # what `dg check defs` runs
    graph = definitions.resolve_asset_graph()
    # stg_customers reads raw_export.customers alone; every other model reads a table not loaded here.
    assert asset_keys(definitions) == {*CUSTOMERS_AND_NOTES, "staging/stg_customers"}
    checked = {key.asset_key.to_user_string() for key in graph.asset_check_keys}
    assert checked == {*CUSTOMERS_AND_NOTES, "staging/stg_customers"}
    for key in CUSTOMERS_AND_NOTES:
        assert graph.get(dg.AssetKey.from_user_string(key)).freshness_policy is not None, key


def test_the_sensor_and_schedules_request_only_the_selected_endpoints(instance):
    definitions = component_defs(endpoints=CUSTOMERS_AND_NOTES)
    assert names(definitions) == {
        "sensors": {"servicetitan_export_sensor", "servicetitan_list_walk_sensor", "sql_models_automation"},
        "schedules": {"servicetitan_list_incremental", "servicetitan_list_full_walk"},
        "jobs": {"servicetitan_export_job", "servicetitan_list_job"},
    }
    sensor = definitions.get_repository_def().get_sensor_def("servicetitan_export_sensor")
    requests = sensor(dg.build_sensor_context(instance=instance)).run_requests
    assert [set(r.asset_selection) for r in requests] == [{dg.AssetKey(["raw_export", "customers"])}]
    list_job = definitions.resolve_job_def("servicetitan_list_job")
    assert {k.to_user_string() for k in list_job.asset_layer.selected_asset_keys} == set(
        CUSTOMERS_AND_NOTES[1:]
    )


def test_a_kind_left_out_leaves_out_its_job_sensor_and_schedules():
    only_lists = names(component_defs(endpoints=["raw_list/leads"]))
    assert only_lists == {
        "sensors": set(),  # no parent-scoped endpoint (no walk to continue), no SQL model reads leads
        "schedules": {"servicetitan_list_incremental", "servicetitan_list_full_walk"},
        "jobs": {"servicetitan_list_job"},
    }
    only_exports = component_defs(endpoints=["raw_export/leads"])
    assert names(only_exports) == {
        "sensors": {"servicetitan_export_sensor", "sql_models_automation"},
        "schedules": set(),
        "jobs": {"servicetitan_export_job"},
    }
    # the history of leads feeds these; stg_leads also reads customers and locations, not loaded here
    assert asset_keys(only_exports) == {
        "raw_export/leads",
        "staging/stg_lead_versions",
        "marts/lead_status_history",
        "marts/lead_status_durations",
    }


def test_a_child_endpoint_without_its_parent_is_refused_naming_the_parent():
    with pytest.raises(SettingsError, match="raw_list/customers_notes .* add raw_list/customers to end"):
        component_defs(endpoints=["raw_export/customers", "raw_list/customers_notes"])
    with pytest.raises(SettingsError, match="add raw_list/contacts_contact_methods to endpoints"):
        component_defs(endpoints=["raw_list/contacts", "raw_list/contacts_contact_methods_preferences"])


def test_unknown_and_empty_endpoints_are_refused():
    with pytest.raises(SettingsError, match="unknown customers; known: raw_export/customers"):
        component_defs(endpoints=["customers"])
    with pytest.raises(SettingsError, match="leave the attribute out"):
        component_defs(endpoints=[])
