"""Deletes end to end through Dagster (#18, point 4): records deleted from the API, and the children of
deleted parents, are stamped `_deleted_at` by a full walk (an incremental run may stamp those it sees gone),
once: a later walk keeps the first stamp; when they come back, the stamp is cleared. Live rows are exactly
what the sandbox serves."""

from __future__ import annotations

import duckdb
import pytest

from crm_pipeline.catalog import LIST_ENDPOINTS, endpoint
from crm_pipeline.storage.tables import quote
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.list_runs import materialize_lists
from crm_pipeline_tests.sandbox import Sandbox

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
CONTACTS, RELATIONSHIPS = endpoint("raw_list.contacts"), endpoint("raw_list.contacts_relationships")


@pytest.fixture
def sandbox():
    """Smaller than the shared one: every test here runs the whole list group several times."""
    with Sandbox(seed=13, sizes={"customers": 40}, page_size=20) as sb:
        yield sb


def rows(settings) -> dict[str, dict[tuple, object]]:
    """{table: {key: _deleted_at}} of every list table."""
    out = {}
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in LIST_ENDPOINTS:
            keys = ", ".join(quote(k) for k in ep.key)
            out[ep.table] = {
                tuple(r[:-1]): r[-1]
                for r in conn.execute(
                    f"SELECT {keys}, _deleted_at FROM {ep.qualified_table} WHERE tenant_id = ?",
                    [settings.tenant_id],
                ).fetchall()
            }
    return out


def served_keys(sandbox, ep) -> set[tuple]:
    return {tuple(r[k] for k in ep.key) for r in served(sandbox, ep)}


def live_rows_exact(settings, sandbox, tmp_path) -> None:
    """Rows without `_deleted_at` are exactly the served records, field by field (on a scratch copy)."""
    copy = tmp_path / "scratch.duckdb"
    copy.write_bytes(open(settings.duckdb_path, "rb").read())
    with duckdb.connect(str(copy)) as conn:
        for ep in LIST_ENDPOINTS:
            conn.execute(f"DELETE FROM {ep.qualified_table} WHERE _deleted_at IS NOT NULL")
            assert differences(conn, ep, settings.tenant_id, served(sandbox, ep)) == [], ep.path


def delete_some(sandbox) -> dict[str, list]:
    return {
        "customers": sandbox.delete("customers", 3),
        "notes": sandbox.delete("customers/{id}/notes", 2),
        "contacts": sandbox.delete("contacts", 2),
    }


def test_a_full_walk_stamps_deleted_records_and_their_children_once(
    sandbox, settings, env, instance, tmp_path
):
    assert materialize_lists(settings, instance).success
    before = rows(settings)
    gone = delete_some(sandbox)
    assert materialize_lists(settings, instance).success
    # an incremental run may stamp what it sees gone (a changed parent's children)
    incremental = rows(settings)
    assert materialize_lists(settings, instance, full_walk=True).success
    after = rows(settings)
    for ep in LIST_ENDPOINTS:
        stamped = {key for key, stamp in after[ep.table].items() if stamp is not None}
        assert stamped == set(before[ep.table]) - served_keys(sandbox, ep), ep.path
        early = {key: stamp for key, stamp in incremental[ep.table].items() if stamp is not None}
        assert early.items() <= after[ep.table].items(), f"{ep.path}: stamped twice"
    orphans = {key for key, stamp in after[NOTES.table].items() if stamp is not None} - {
        (n,) for n in gone["notes"]
    }
    assert orphans, "no note of a deleted customer: the test proves nothing about children"
    assert {(c,) for c in gone["customers"]} <= {
        k for k, s in after[CUSTOMERS.table].items() if s is not None
    }
    assert any(s is not None for s in after[RELATIONSHIPS.table].values()), (
        "relationships of deleted contacts"
    )
    live_rows_exact(settings, sandbox, tmp_path)
    assert materialize_lists(settings, instance, full_walk=True).success
    assert rows(settings) == after, "a second full walk stamped again (or cleared) what the first one stamped"


def test_records_that_come_back_are_cleared_with_their_children(sandbox, settings, env, instance, tmp_path):
    assert materialize_lists(settings, instance).success
    gone = delete_some(sandbox)
    assert materialize_lists(settings, instance, full_walk=True).success
    assert sandbox.restore("customers", gone["customers"]) == gone["customers"]
    assert sandbox.restore("contacts", gone["contacts"]) == gone["contacts"]
    assert materialize_lists(settings, instance).success  # an incremental run sees them back
    now = rows(settings)
    still = {table: {k for k, s in keys.items() if s is not None} for table, keys in now.items()}
    assert (
        still[CUSTOMERS.table] == set()
        and still[CONTACTS.table] == set()
        and still[RELATIONSHIPS.table] == set()
    )
    assert still[NOTES.table] == {(n,) for n in gone["notes"]}, (
        "only the notes deleted on their own stay stamped"
    )
    live_rows_exact(settings, sandbox, tmp_path)
