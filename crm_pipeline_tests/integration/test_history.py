"""Change history: every version the API delivered kept once in `raw_history`, and the models over it."""

from __future__ import annotations

import os

import dagster as dg
import duckdb
import httpx
import pandas as pd
import pytest

from crm_pipeline.catalog import ENDPOINTS, endpoint
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.defs.resources import default_resources
from crm_pipeline.ingest import sync_export, sync_list
from crm_pipeline.sql_models import build_all, load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.history import history_table, superseded_table

LEADS = endpoint("export/leads")
STATUSES = ("Dismissed", "Converted", "Open")  # the three rounds


def versions(records: list[dict]) -> set[tuple[int, pd.Timestamp]]:
    return {(r["id"], pd.Timestamp(r["modifiedOn"]).tz_convert("UTC").floor("us")) for r in records}


def stored_versions(conn, table: str) -> list[tuple[int, pd.Timestamp]]:
    rows = conn.execute(f'SELECT id, "modifiedOn" FROM {table}').fetchall()
    return [(i, pd.Timestamp(m).tz_convert("UTC")) for i, m in rows]


def change_round(sandbox, lead: dict, status: str, after: pd.Timestamp) -> pd.Timestamp:
    """Through the sandbox's admin API: five leads change, then lead X gets `status`, later than every
    other version and than `after`; returns when."""
    admin = f"{sandbox.api_url}/_sandbox"
    httpx.post(f"{admin}/change", json={"feed": "export/leads", "n": 5}).raise_for_status()
    latest = max(
        m for _, m in versions(httpx.get(f"{admin}/records", params={"feed": "export/leads"}).json())
    )
    when = max(latest, after) + pd.Timedelta(days=10)
    record = {**lead, "status": status, "modifiedOn": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    httpx.post(f"{admin}/put", json={"feed": "export/leads", "record": record}).raise_for_status()
    return when


def status_on(conn, tenant_id: str, lead_id: int, day: pd.Timestamp) -> str | None:
    row = conn.execute(
        "SELECT status FROM marts.lead_status_history WHERE tenant_id = ? AND lead_id = ? "
        "AND valid_from <= ? AND (valid_to > ? OR valid_to IS NULL)",
        [tenant_id, lead_id, day.to_pydatetime(), day.to_pydatetime()],
    ).fetchall()
    assert len(row) <= 1
    return row[0][0] if row else None


def test_three_rounds_of_changes_keep_every_version_once(sandbox, settings, client, conn):
    tenant = settings.tenant_id
    sync_export(client, conn, LEADS, tenant_id=tenant, include_recent_changes=True)
    delivered = versions(sandbox.records("export/leads"))
    lead = sandbox.records("export/leads")[0]
    rounds = []
    for status in STATUSES:
        rounds.append(
            change_round(sandbox, lead, status, rounds[-1] if rounds else max(m for _, m in delivered))
        )
        sync_export(client, conn, LEADS, tenant_id=tenant, include_recent_changes=True)
        sync_export(
            client, conn, LEADS, tenant_id=tenant, include_recent_changes=True
        )  # repeats: stored once
        delivered |= versions(sandbox.records("export/leads"))

    stored = stored_versions(conn, history_table(LEADS))
    assert len(stored) == len(set(stored)) and set(stored) == delivered
    # X thrice, others changed
    assert len(delivered) >= len(versions(sandbox.records("export/leads"))) + 3 + 5

    for ep in ENDPOINTS:  # the other models read them (empty here)
        ensure_raw_table(conn, ep)
    build_all(conn, load_project())
    before = rounds[0] - pd.Timedelta(hours=1)
    assert status_on(conn, tenant, lead["id"], before) in ("Open", "Dismissed", "Converted")
    for status, when in zip(STATUSES, rounds, strict=False):
        assert status_on(conn, tenant, lead["id"], when + pd.Timedelta(days=5)) == status
    # before any version
    assert status_on(conn, tenant, lead["id"], rounds[0] - pd.Timedelta(days=36500)) is None
    durations = dict(
        conn.execute(
            "SELECT status, periods FROM marts.lead_status_durations WHERE tenant_id = ?", [tenant]
        ).fetchall()
    )
    periods = dict(
        conn.execute(
            "SELECT status, count(*) FROM marts.lead_status_history WHERE tenant_id = ? GROUP BY status",
            [tenant],
        ).fetchall()
    )
    assert durations == periods


def test_history_of_an_incremental_list_endpoint(sandbox, settings, client, conn):
    leads = endpoint("leads")
    sync_list(client, conn, leads, tenant_id=settings.tenant_id)
    delivered = versions(sandbox.records("leads"))
    httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "leads", "n": 4}).raise_for_status()
    sync_list(client, conn, leads, tenant_id=settings.tenant_id)
    delivered |= versions(sandbox.records("leads"))
    stored = stored_versions(conn, "raw_history.list_leads")
    assert len(stored) == len(set(stored)) and set(stored) == delivered


def test_history_off_writes_none(sandbox, settings, client, conn):
    sync_export(client, conn, LEADS, tenant_id=settings.tenant_id, history=False)
    httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": 4}).raise_for_status()
    sync_export(client, conn, LEADS, tenant_id=settings.tenant_id, history=False)
    assert conn.execute(f"SELECT count(*) FROM {superseded_table(LEADS)}").fetchone()[0] == 0
    assert conn.execute(f"SELECT count(*) FROM {LEADS.qualified_table}").fetchone()[0] == len(
        sandbox.records("export/leads")
    )


def load_leads(component: ServiceTitanComponent, instance, settings) -> int:
    """Materialize raw_export/leads as `component` builds it; the versions its history keeps."""
    defs = component.build_defs(dg.ComponentTree.for_test().load_context)
    key = dg.AssetKey(LEADS.asset_key_path)
    result = dg.materialize(list(defs.assets), selection=[key], instance=instance, resources=defs.resources)
    assert result.success
    with duckdb.connect(settings.duckdb_path, read_only=True) as db:
        return db.execute(f"SELECT count(*) FROM {superseded_table(LEADS)}").fetchone()[0]


def change_leads(sandbox, n: int = 4) -> None:
    httpx.post(f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": n}).raise_for_status()


def test_crm_history_off_reaches_the_loads_of_a_run(sandbox, settings, env, instance, tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("CRM_HISTORY", "off")
    component = ServiceTitanComponent(duckdb_path=settings.duckdb_path, automation=False)
    assert load_leads(component, instance, settings) == 0
    change_leads(sandbox)
    assert load_leads(component, instance, settings) == 0  # the 4 versions replaced are not kept
    monkeypatch.setenv("CRM_HISTORY", "maybe")
    with pytest.raises(ValueError, match="CRM_HISTORY"):
        default_resources(os.environ)


def test_the_component_history_attribute_wins_over_the_environment(
    sandbox, settings, env, instance, tmp_path, monkeypatch
):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    monkeypatch.setenv("CRM_HISTORY", "off")
    component = ServiceTitanComponent(duckdb_path=settings.duckdb_path, automation=False, history=True)
    assert load_leads(component, instance, settings) == 0  # a first load replaces nothing
    change_leads(sandbox)
    assert load_leads(component, instance, settings) == 4  # the 4 versions replaced are kept
