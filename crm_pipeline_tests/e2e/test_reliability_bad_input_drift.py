"""Bad input: schema drift end to end through the sandbox.

A new field is kept, a missing field is NULL, an enum sent as an integer is text, a number sent as
text that is not a number is quarantined with the reason, null in a documented-required field is
NULL, a record without its key is quarantined; the run never crashes and every other record lands
exactly. The same decisions case by case: test_reliability_bad_input_cases.py.
"""

from __future__ import annotations

import json

import dagster as dg

from crm_pipeline.catalog import endpoint
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.ingest import sync_export
from crm_pipeline_tests.compare import differences

CUSTOMERS, LEADS = endpoint("export/customers"), endpoint("export/leads")
FIRST_FEED = dg.AssetKey(CUSTOMERS.asset_key_path)


def drifted_customers(base: dict) -> dict[str, dict]:
    """Customers that drift from the schema, each in one way, by case."""
    return {
        "new field": {**base, "id": 9_100_000_001, "loyaltyTier": {"level": "gold"}},
        "missing field": {
            k: v for k, v in {**base, "id": 9_100_000_002}.items() if k not in ("address", "balance")
        },
        "enum as integer": {**base, "id": 9_100_000_003, "type": 1},
        "text for a number": {**base, "id": 9_100_000_004, "balance": "twelve"},
        "null in a required field": {
            **base,
            "id": 9_100_000_005,
            "name": None,
            "active": None,
            "createdOn": None,
        },
        "no key": {**base, "id": None},
        "number as text": {**base, "id": 9_100_000_006, "createdById": "2200000123", "balance": "12.50"},
        "boolean as text": {**base, "id": 9_100_000_007, "doNotMail": "yes"},
        "fraction for an id": {**base, "id": 9_100_000_009, "paymentTermId": 1.5},
    }


def customer_row(conn, rid: int, cols: str) -> tuple:
    return conn.execute(f"SELECT {cols} FROM raw_export.customers WHERE id = ?", [rid]).fetchone()


def assert_drifted_customers_stored_as_sent_or_converted(conn) -> None:
    assert json.loads(customer_row(conn, 9_100_000_001, '"loyaltyTier"')[0]) == {"level": "gold"}
    assert customer_row(conn, 9_100_000_002, "address, balance") == (None, None)
    assert customer_row(conn, 9_100_000_003, "type") == ("1",)
    assert customer_row(conn, 9_100_000_005, 'name, active, "createdOn"') == (None, None, None)
    assert customer_row(conn, 9_100_000_006, '"createdById", balance') == (2_200_000_123, 12.5)


def test_schema_drift_through_the_sandbox_is_stored_or_quarantined_never_lost(
    sandbox, settings, client, conn
):
    served = sandbox.records(CUSTOMERS.path)
    base = {k: v for k, v in served[0].items()}
    for record in drifted_customers(base).values():
        sandbox.put(CUSTOMERS.path, record)
    lead = {
        **sandbox.records(LEADS.path)[0],
        "id": 9_200_000_001,
        "status": 2,
        "priority": None,
        "summary": 42,
    }
    sandbox.put(LEADS.path, lead)
    results = [sync_export(client, conn, ep, tenant_id=settings.tenant_id) for ep in (CUSTOMERS, LEADS)]
    quarantined = dict(
        conn.execute("SELECT coalesce(record_id, 'null'), reasons FROM pipeline_state.quarantine").fetchall()
    )
    assert quarantined == {
        "9100000004": "balance: not a number (got 'twelve')",
        "null": "id: not_nullable (got None)",
        "9100000007": "doNotMail: not true or false (got 'yes')",
        "9100000009": "paymentTermId: not a whole number (got 1.5)",
    }
    assert results[0].quarantined == 4 and "loyaltyTier" in results[0].new_fields
    assert_drifted_customers_stored_as_sent_or_converted(conn)
    stored_lead = conn.execute(
        "SELECT status, priority, summary FROM raw_export.leads WHERE id = ?", [lead["id"]]
    ).fetchone()
    assert stored_lead == ("2", None, "42")
    bad = {9_100_000_004, 9_100_000_007, 9_100_000_009, None}
    as_numbers = {
        "createdById": 2_200_000_123,
        "balance": 12.5,
    }  # what 9100000006 sent as text, stored as numbers
    good = [
        {**r, **as_numbers} if r["id"] == 9_100_000_006 else r
        for r in sandbox.records(CUSTOMERS.path)
        if r["id"] not in bad
    ]
    assert differences(conn, CUSTOMERS, settings.tenant_id, good) == []
    assert differences(conn, LEADS, settings.tenant_id, sandbox.records(LEADS.path)) == []


def test_schema_drift_shows_in_the_materialization_metadata(sandbox, settings, monkeypatch):
    for name, value in {**sandbox.env(), "CRM_DUCKDB_PATH": settings.duckdb_path}.items():
        monkeypatch.setenv(name, value)
    base = sandbox.records(CUSTOMERS.path)[0]
    sandbox.put(CUSTOMERS.path, {**base, "id": 9_300_000_001, "balance": "n/a"})
    sandbox.put(CUSTOMERS.path, {**base, "id": 9_300_000_002, "referralCode": "X1"})
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=settings.duckdb_path)}
    result = dg.materialize([build_export_assets()], selection=[FIRST_FEED], resources=resources)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["quarantined"].value == 1 and "referralCode" in meta["new_fields"].value.split(", ")
    assert meta["dagster/row_count"].value == len(sandbox.records(CUSTOMERS.path)) - 1
