"""Change history as one structure with the raw table (storage/history.py): versions sent back by the API,
history switched off and on again, and a history table of the older layout carried over."""

from __future__ import annotations

import httpx
import pandas as pd

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest import sync_export
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.history import history_table, superseded_table

LEADS = endpoint("export/leads")


def versions(records: list[dict]) -> set[tuple[int, pd.Timestamp]]:
    return {(r["id"], pd.Timestamp(r["modifiedOn"]).tz_convert("UTC").floor("us")) for r in records}


def stored_versions(conn) -> list[tuple[int, pd.Timestamp]]:
    rows = conn.execute(f'SELECT id, "modifiedOn" FROM {history_table(LEADS)}').fetchall()
    return [(i, pd.Timestamp(m).tz_convert("UTC")) for i, m in rows]


def put(sandbox, record: dict) -> None:
    httpx.post(
        f"{sandbox.api_url}/_sandbox/put", json={"feed": "export/leads", "record": record}
    ).raise_for_status()


def test_a_version_sent_back_after_a_later_one_is_kept_once(sandbox, settings, client, conn):
    tenant = settings.tenant_id
    sync_export(client, conn, LEADS, tenant_id=tenant)
    delivered = versions(sandbox.records("export/leads"))
    first = sandbox.records("export/leads")[0]
    later = {**first, "status": "Dismissed", "modifiedOn": "2031-01-02T03:04:05.123456Z"}
    for record in (later, first, later, first):  # the API sends the older version back, twice
        put(sandbox, record)
        sync_export(client, conn, LEADS, tenant_id=tenant)
        delivered |= versions([record])
        stored = stored_versions(conn)
        assert len(stored) == len(set(stored)) and set(stored) == delivered
    current = conn.execute(
        f'SELECT status, "modifiedOn" FROM {LEADS.qualified_table} WHERE id = ?', [first["id"]]
    ).fetchone()
    assert (current[0], pd.Timestamp(current[1])) == (first["status"], pd.Timestamp(first["modifiedOn"]))


def test_history_switched_off_and_on_keeps_what_was_delivered_while_on(sandbox, settings, client, conn):
    tenant = settings.tenant_id
    sync_export(client, conn, LEADS, tenant_id=tenant)  # on
    kept = versions(sandbox.records("export/leads"))
    changed = httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": 6}).json()
    sync_export(client, conn, LEADS, tenant_id=tenant, history=False)  # replaces 6 kept while on: they stay
    stored = stored_versions(conn)
    assert len(stored) == len(set(stored)) and set(stored) == kept
    again = httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": 6}).json()
    sync_export(client, conn, LEADS, tenant_id=tenant, history=True)
    served = {r["id"]: r for r in sandbox.records("export/leads")}
    kept |= versions([served[i] for i in again["ids"]])
    stored = stored_versions(conn)
    assert len(stored) == len(set(stored)) and set(stored) == kept
    off_only = versions([served[i] for i in set(changed["ids"]) - set(again["ids"])])
    assert off_only and not off_only & set(stored)  # delivered while off, never kept


def test_a_history_table_of_the_older_layout_is_carried_over(sandbox, settings, client, conn):
    tenant = settings.tenant_id
    sync_export(client, conn, LEADS, tenant_id=tenant)
    httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": 5}).raise_for_status()
    sync_export(client, conn, LEADS, tenant_id=tenant)
    before = stored_versions(conn)
    assert len(before) == len(sandbox.records("export/leads")) + 5
    # the older layout: every version in a table under the history's name
    conn.execute(f"CREATE TABLE raw_history.leads_old AS SELECT * FROM {history_table(LEADS)}")
    conn.execute(f"DROP VIEW {history_table(LEADS)}")
    conn.execute(f"DROP TABLE {superseded_table(LEADS)}")
    conn.execute("ALTER TABLE raw_history.leads_old RENAME TO leads")
    ensure_raw_table(conn, LEADS)
    assert sorted(stored_versions(conn)) == sorted(before)
    assert conn.execute(f"SELECT count(*) FROM {superseded_table(LEADS)}").fetchone()[0] == 5
