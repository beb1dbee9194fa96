"""Drift on every kind of endpoint (#18, point 3), through Dagster: a field no document lists, an enum sent as
an integer, a documented-required field arriving null, a GUID in upper case, on list endpoints (top-level,
list-only and parent-scoped) and export feeds. Each is kept as sent (the new field as a new column) or
quarantined with its reason; the run never fails and every table ends exactly as the sandbox serves it."""

from __future__ import annotations

import uuid

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.dagster_helpers import resources
from crm_pipeline_tests.list_runs import materialize_lists
from crm_pipeline_tests.sandbox import Sandbox

export_assets = [build_export_assets()]

NEW_FIELD = "loyaltyProgram"  # in no document
# path -> (field sent as an integer instead of its enum name, documented-required field sent null)
DRIFT = {
    "customers": ("type", "name"),
    "leads": ("status", "customerId"),
    "contacts/contact-methods": ("type", "value"),
    "booking-provider-tags": ("type", "tagName"),
    "customers/{id}/notes": (None, "text"),
    "contacts/{contactId}/relationships": (None, "typeName"),
}


@pytest.fixture
def sandbox():
    """Smaller than the shared one: every test here runs the whole list group several times."""
    with Sandbox(seed=13, sizes={"customers": 40}, page_size=20) as sb:
        yield sb


def as_served(sandbox, path: str) -> list[dict]:
    return sandbox.records(path) if "{" not in path else [record for _, record in sandbox.child_records(path)]


def drift(sandbox, path: str, enum: str | None, required: str) -> None:
    """Three records of `path` drift, one way each; each gets a new version the next walk brings."""
    first, second, third = as_served(sandbox, path)[:3]
    changed = [{**first, NEW_FIELD: {"tier": "gold", "since": 2024}}, {**second, required: None}]
    if enum is not None:
        changed.append({**third, enum: 2})
    for record in changed:
        sandbox.put(path, record)
        sandbox.touch(path, record["id"])


def add_upper_case_guids(sandbox) -> tuple[str, str]:
    """A contact, and a relationship of an existing contact, whose GUID ids arrive in upper case."""
    contact = {**sandbox.records("contacts")[0], "id": str(uuid.UUID(int=1)).upper()}
    sandbox.put("contacts", contact)
    params, relationship = sandbox.child_records("contacts/{contactId}/relationships")[0]
    relationship = {**relationship, "id": str(uuid.UUID(int=2)).upper()}
    sandbox.put("contacts/{contactId}/relationships", relationship, parent=params["contactId"])
    return contact["id"], relationship["id"]


def new_fields(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    return {
        e.asset_key.to_user_string(): e.materialization.metadata["new_fields"].value
        for e in result.get_asset_materialization_events()
        if "new_fields" in e.materialization.metadata
    }


def assert_exact(settings, sandbox, endpoints) -> None:
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in endpoints:
            assert differences(conn, ep, settings.tenant_id, served(sandbox, ep)) == [], ep.path
        assert conn.execute("SELECT count(*) FROM pipeline_state.quarantine").fetchone()[0] == 0


def test_drift_on_list_endpoints_is_kept_as_sent_through_incremental_and_full_walks(
    sandbox, settings, env, instance
):
    assert materialize_lists(settings, instance).success
    for path, (enum, required) in DRIFT.items():
        drift(sandbox, path, enum, required)
    contact, relationship = add_upper_case_guids(sandbox)
    result = materialize_lists(settings, instance)
    assert result.success
    assert_exact(settings, sandbox, LIST_ENDPOINTS)
    found = new_fields(result)
    for path in DRIFT:
        table = next(ep.table for ep in LIST_ENDPOINTS if ep.path == path)
        assert NEW_FIELD in found.get(f"raw_list/{table}", ""), path
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        assert (
            conn.execute("SELECT count(*) FROM raw_list.contacts WHERE id = ?", [contact]).fetchone()[0] == 1
        )
        assert (
            conn.execute(
                "SELECT count(*) FROM raw_list.contacts_relationships WHERE id = ?", [relationship]
            ).fetchone()[0]
            == 1
        )
    assert materialize_lists(settings, instance, full_walk=True).success
    assert_exact(settings, sandbox, LIST_ENDPOINTS)


def test_drift_on_export_feeds_is_kept_as_sent(sandbox, settings, env, instance):
    assert dg.materialize(export_assets, instance=instance, resources=resources(settings)).success
    for path, (enum, required) in {
        "export/customers": ("type", "name"),
        "export/leads": ("status", "customerId"),
        "export/bookings": ("status", "name"),
    }.items():
        drift(sandbox, path, enum, required)
    result = dg.materialize(export_assets, instance=instance, resources=resources(settings))
    assert result.success
    assert_exact(settings, sandbox, EXPORT_FEEDS)
    found = new_fields(result)
    for key in ("raw_export/customers", "raw_export/leads", "raw_export/bookings"):
        assert NEW_FIELD in found.get(key, ""), key
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:  # the drift did reach the tables
        assert conn.execute("SELECT count(*) FROM raw_export.customers WHERE type = '2'").fetchone()[0] >= 1
