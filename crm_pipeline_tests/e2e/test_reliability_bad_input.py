"""Bad input: a clear error and nothing lost.

- a wrong client secret, client id or app key fails within seconds, names the setting refused, and
  does not retry (through the `dagster` CLI, as a user runs it, and in process);
- a wrong tenant id (404) and an invalid or foreign continuation token (400) fail clearly, write
  nothing, and the documented way out (`crm-pipeline reset-cursor <feed>`) works;
- schema drift end to end through the sandbox: a new field is kept, a missing field is NULL, an
  enum sent as an integer is text, a number sent as text that is not a number is quarantined with
  the reason, null in a documented-required field is NULL, a record without its key is
  quarantined; the run never crashes and every other record lands exactly;
- the same decisions, case by case, on `validate_page` + `commit_page` directly.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.ingest import sync_export
from crm_pipeline.sandbox import Sandbox
from crm_pipeline.servicetitan import errors
from crm_pipeline.settings import Settings
from crm_pipeline.storage import StreamPosition, commit_page, ensure_raw_table, read_position, store_position
from crm_pipeline.validation import validate_page
from crm_pipeline_tests.compare import differences
from crm_pipeline_tests.conftest import make_client

export_assets = [build_export_assets()]

CUSTOMERS, LEADS = endpoint("export/customers"), endpoint("export/leads")
FIRST_FEED = dg.AssetKey(CUSTOMERS.asset_key_path)
CLI = [sys.executable, "-m", "crm_pipeline.cli"]
WRONG = "wrong-" + "secret-value-3b7"  # split: a traceback line showing this source must not count as a leak


def api_requests(sb) -> list:
    return [e for e in sb.request_log if "/crm/v2/" in e.path]


# -- credentials ----------------------------------------------------------------------------------
def test_a_wrong_client_secret_fails_the_dagster_cli_in_seconds_saying_it_was_refused(sandbox, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **sandbox.env(),
        "SERVICETITAN_CLIENT_SECRET": WRONG,
        "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb"),
        "DAGSTER_HOME": str(home),
    }
    command = [
        sys.executable,
        "-m",
        "dagster",
        "asset",
        "materialize",
        "-m",
        "crm_pipeline.definitions",
        "--select",
        "group:servicetitan_export",
    ]
    began = time.monotonic()
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - began
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert elapsed < 60, f"a wrong secret took {elapsed:.0f} s to fail"
    assert "The client id/secret were refused" in output and "SERVICETITAN_CLIENT_SECRET" in output
    assert sandbox.token_requests <= len(EXPORT_FEEDS), "the token endpoint was asked again and again"
    assert api_requests(sandbox) == [], "an API request was made without a token"
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in (WRONG, sandbox.client_secret, sandbox.app_key):
        assert secret not in output and secret.encode() not in stored


@pytest.mark.parametrize(
    ("change", "error", "setting", "requests"),
    [
        ({"client_id": "cid.wrong"}, errors.CredentialsRejected, "SERVICETITAN_CLIENT_ID", 0),
        ({"client_secret": WRONG}, errors.CredentialsRejected, "SERVICETITAN_CLIENT_SECRET", 0),
        ({"app_key": "ak1.wrong"}, errors.AppKeyRejected, "SERVICETITAN_APP_KEY", 1),
        ({"tenant_id": "999999"}, errors.NotFound, "SERVICETITAN_TENANT_ID", 1),
    ],
)
def test_a_wrong_setting_fails_at_once_names_it_and_writes_nothing(
    sandbox, settings, conn, change, error, setting, requests
):
    wrong = dataclasses.replace(settings, **change)
    began = time.monotonic()
    with make_client(
        wrong, backoff_base=0.5, backoff_cap=30
    ) as client:  # production backoff: no retry must happen
        with pytest.raises(error) as info:
            sync_export(client, conn, CUSTOMERS, wrong.tenant_id)
        stats = client.stats
    assert time.monotonic() - began < 5 and stats["retries"] == 0
    assert len(api_requests(sandbox)) == requests and sandbox.token_requests == 1
    message = str(info.value)
    assert setting in message and f"HTTP {info.value.status}" in message
    assert info.value.trace_id is None or info.value.trace_id in message  # the token endpoint sends none
    assert "refused" in message or info.value.status == 404
    for value in change.values():
        assert value not in message or setting == "SERVICETITAN_TENANT_ID"
    assert read_position(conn, wrong.tenant_id, CUSTOMERS.path) is None
    assert conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0] == 0


def test_a_wrong_tenant_fails_the_asset_with_the_hint(sandbox, settings, monkeypatch):
    for name, value in {
        **sandbox.env(),
        "SERVICETITAN_TENANT_ID": "999999",
        "CRM_DUCKDB_PATH": settings.duckdb_path,
    }.items():
        monkeypatch.setenv(name, value)
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=settings.duckdb_path)}
    result = dg.materialize(export_assets, selection=[FIRST_FEED], resources=resources, raise_on_error=False)
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "HTTP 404" in error and "SERVICETITAN_TENANT_ID (now 999999)" in error
    assert len(api_requests(sandbox)) == 1


# -- continuation tokens --------------------------------------------------------------------------
def cli(settings, *args) -> subprocess.CompletedProcess:
    """`crm-pipeline ARGS` as a user runs it, with the environment the pipeline runs with."""
    env = {
        **os.environ,
        "SERVICETITAN_CLIENT_ID": settings.client_id,
        "SERVICETITAN_CLIENT_SECRET": settings.client_secret,
        "SERVICETITAN_APP_KEY": settings.app_key,
        "SERVICETITAN_TENANT_ID": settings.tenant_id,
        "SERVICETITAN_API_URL": settings.api_url,
        "SERVICETITAN_AUTH_URL": settings.auth_url,
        "CRM_DUCKDB_PATH": settings.duckdb_path,
    }
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def foreign_tokens(settings) -> dict[str, str]:
    """Cursors that are not this feed's: another feed's, and another tenant's (another sandbox)."""
    with make_client(settings) as client:
        leads = next(iter(client.export_pages(LEADS.path))).continue_from
    with Sandbox(seed=99, sizes={"customers": 30}, page_size=10) as other:
        with make_client(Settings.from_env(other.env())) as client:
            elsewhere = next(iter(client.export_pages(CUSTOMERS.path))).continue_from
    return {"garbage": "not-a-token", "another feed's": leads, "another tenant's": elsewhere}


def test_an_invalid_or_foreign_cursor_fails_clearly_and_reset_cursor_is_the_way_out(
    sandbox, settings, client, conn
):
    sync_export(client, conn, CUSTOMERS, settings.tenant_id)
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records(CUSTOMERS.path)) == []
    for what, token in foreign_tokens(settings).items():
        ensure_raw_table(conn, CUSTOMERS)
        store_position(conn, settings.tenant_id, CUSTOMERS.path, StreamPosition(token, True), run_id="broken")
        sandbox.clear_log()
        with pytest.raises(errors.InvalidContinuationToken) as info:
            sync_export(client, conn, CUSTOMERS, settings.tenant_id)
        message = str(info.value)
        assert "HTTP 400" in message and "crm-pipeline reset-cursor export/customers" in message, what
        assert len(api_requests(sandbox)) == 1, f"{what} cursor: retried"
        assert read_position(conn, settings.tenant_id, CUSTOMERS.path).position == token  # nothing changed
    conn.close()  # the CLI opens the file read-write, as a user would with the pipeline stopped
    listed = cli(settings, "cursors")
    assert listed.returncode == 0 and "export/customers" in listed.stdout
    reset = cli(settings, "reset-cursor", "export/customers")
    assert reset.returncode == 0 and "reset" in reset.stdout, reset.stderr
    sandbox.change(CUSTOMERS.path, n=5)
    with duckdb.connect(settings.duckdb_path) as again:
        assert read_position(again, settings.tenant_id, CUSTOMERS.path) is None
        result = sync_export(client, again, CUSTOMERS, settings.tenant_id)
        assert result.started_from is None and not result.has_more
        assert differences(again, CUSTOMERS, settings.tenant_id, sandbox.records(CUSTOMERS.path)) == []


def test_reset_cursor_refuses_an_unknown_feed_and_a_locked_file_clearly(settings, conn):
    unknown = cli(settings, "reset-cursor", "export/customer")
    assert unknown.returncode == 2 and "unknown endpoint 'export/customer'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    ensure_raw_table(conn, CUSTOMERS)  # `conn` holds the file, as a running materialization would
    locked = cli(settings, "reset-cursor", "export/customers")
    assert locked.returncode == 1 and "cannot open" in locked.stderr and "Traceback" not in locked.stderr


# -- schema drift, end to end ---------------------------------------------------------------------
def test_schema_drift_through_the_sandbox_is_stored_or_quarantined_never_lost(
    sandbox, settings, client, conn
):
    served = sandbox.records(CUSTOMERS.path)
    base = {k: v for k, v in served[0].items()}
    drift = {
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
    for record in drift.values():
        sandbox.put(CUSTOMERS.path, record)
    lead = {
        **sandbox.records(LEADS.path)[0],
        "id": 9_200_000_001,
        "status": 2,
        "priority": None,
        "summary": 42,
    }
    sandbox.put(LEADS.path, lead)
    results = [sync_export(client, conn, ep, settings.tenant_id) for ep in (CUSTOMERS, LEADS)]
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
    row = lambda rid, cols: conn.execute(
        f"SELECT {cols} FROM raw_export.customers WHERE id = ?", [rid]
    ).fetchone()  # noqa: E731
    assert json.loads(row(9_100_000_001, '"loyaltyTier"')[0]) == {"level": "gold"}
    assert row(9_100_000_002, "address, balance") == (None, None)
    assert row(9_100_000_003, "type") == ("1",)
    assert row(9_100_000_005, 'name, active, "createdOn"') == (None, None, None)
    assert row(9_100_000_006, '"createdById", balance') == (2_200_000_123, 12.5)
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
    result = dg.materialize(export_assets, selection=[FIRST_FEED], resources=resources)
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["quarantined"].value == 1 and "referralCode" in meta["new_fields"].value.split(", ")
    assert meta["dagster/row_count"].value == len(sandbox.records(CUSTOMERS.path)) - 1


# -- the same decisions on validate_page + commit_page ----------------------------------------------
BASE = {"id": 1, "name": "Acme", "active": True, "createdOn": "2024-06-20T17:47:05.6806011Z"}
STORED = [  # (case, record, column, value stored)
    ("enum as integer", {"type": 2}, "type", "2"),
    ("object in a text field", {"name": {"first": "A"}}, "name", '{"first":"A"}'),
    ("boolean in a text field", {"name": True}, "name", "true"),
    ("integer as text", {"createdById": " 42 "}, "createdById", 42),
    ("whole float for an integer", {"createdById": 42.0}, "createdById", 42),
    ("number as text", {"balance": "-3.5e2"}, "balance", -350.0),
    ("0/1 for a boolean", {"taxExempt": 1}, "taxExempt", True),
    ("null in a required field", {"name": None}, "name", None),
    ("missing field", {}, "balance", None),
    ("empty timestamp", {"modifiedOn": ""}, "modifiedOn", None),
    (
        "timestamp without zone is UTC",
        {"modifiedOn": "2024-01-02T03:04:05"},
        "modifiedOn",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    (
        "timestamp with offset",
        {"modifiedOn": "2024-01-02T03:04:05.1234567+02:00"},
        "modifiedOn",
        datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=UTC),
    ),
    ("NUL in text", {"name": "a\x00b"}, "name", "a\x00b"),
    ("emoji and spaces kept", {"name": "  🔥 x \n"}, "name", "  🔥 x \n"),
    ("int64 extremes", {"createdById": -(2**63)}, "createdById", -(2**63)),
    ("new field", {"brandNew": [1, {"a": None}]}, "brandNew", '[1,{"a":null}]'),
]
QUARANTINED = [  # (case, record, reason)
    ("text for a number", {"balance": "lots"}, "balance: not a number (got 'lots')"),
    ("empty text for a number", {"balance": ""}, "balance: not a number (got '')"),
    ("boolean for a number", {"balance": False}, "balance: a boolean where a number is expected (got False)"),
    ("fraction for an integer", {"createdById": 2.5}, "createdById: not a whole number (got 2.5)"),
    (
        "integer past int64",
        {"createdById": 2**63},
        "createdById: outside the 64-bit integer range (got 9223372036854775808)",
    ),
    (
        "integer text of 5000 digits",
        {"createdById": "9" * 5000},
        "createdById: outside the 64-bit integer range",
    ),
    (
        "boolean for an integer",
        {"createdById": True},
        "createdById: a boolean where an integer is expected (got True)",
    ),
    ("text for a boolean", {"active": "false"}, "active: not true or false (got 'false')"),
    ("number for a timestamp", {"createdOn": 1718905625}, "createdOn: not a timestamp text (got 1718905625)"),
    (
        "unparseable timestamp",
        {"createdOn": "yesterday"},
        "createdOn: coerce_dtype('datetime64[ns, UTC]') (got 'yesterday')",
    ),
    (
        "year 1 (.NET's MinValue)",
        {"createdOn": "0001-01-01T00:00:00"},
        "createdOn: coerce_dtype('datetime64[ns, UTC]')",
    ),
    ("unpaired surrogate", {"name": "x\udc00"}, "name: holds an unpaired UTF-16 surrogate"),
    (
        "unpaired surrogate in JSON",
        {"address": {"city": "\ud83d"}},
        "address: holds an unpaired UTF-16 surrogate",
    ),
    ("null key", {"id": None}, "id: not_nullable (got None)"),
    ("text key", {"id": "abc"}, "id: not an integer (got 'abc')"),
    (
        "field differing only in case",
        {"Name": "x"},
        "field 'Name' differs only in case from the declared field 'name'",
    ),
    ("two spellings of a new field", {"newF": 1, "NEWF": 2}, "fields 'newF' and 'NEWF' differ only in case"),
    (
        "a pipeline column's name",
        {"_synced_at": "x"},
        "field '_synced_at' has the name of a column the pipeline sets",
    ),
    ("empty field name", {"": 1}, "field name '' cannot be a column"),
]


@pytest.fixture
def db(tmp_path):
    with duckdb.connect(str(tmp_path / "drift.duckdb")) as connection:
        ensure_raw_table(connection, CUSTOMERS)
        yield connection


def commit(db, records: list) -> tuple[int, int]:
    return commit_page(
        db, CUSTOMERS, "t1", validate_page(CUSTOMERS, records), StreamPosition("c1", True), "run"
    )


@pytest.mark.parametrize(("case", "change", "column", "value"), STORED, ids=[c[0] for c in STORED])
def test_drift_that_is_stored(db, case, change, column, value):
    record = {k: v for k, v in {**BASE, **change}.items() if not (case == "missing field" and k == column)}
    neighbour = {**BASE, "id": 2}
    assert commit(db, [record, neighbour]) == (2, 0)
    got = db.execute(f'SELECT "{column}" FROM raw_export.customers WHERE id = 1').fetchone()[0]
    assert got == value


@pytest.mark.parametrize(("case", "change", "reason"), QUARANTINED, ids=[c[0] for c in QUARANTINED])
def test_drift_that_is_quarantined_with_its_reason_leaves_the_rest_of_the_page(db, case, change, reason):
    record = {**{k: v for k, v in BASE.items() if k.lower() not in map(str.lower, change)}, "id": 7, **change}
    page = [{**BASE, "id": 1}, record, {**BASE, "id": 2, "balance": 5}]
    assert commit(db, page) == (2, 1)
    stored = db.execute("SELECT id FROM raw_export.customers ORDER BY id").fetchall()
    assert stored == [(1,), (2,)]
    reasons, kept = db.execute("SELECT reasons, record FROM pipeline_state.quarantine").fetchone()
    assert reason in reasons
    assert json.loads(kept).keys() == record.keys()


def test_entries_that_are_not_objects_are_quarantined_as_sent(db):
    assert commit(db, [None, "text", 5, [1, 2], {**BASE}]) == (1, 4)
    rows = db.execute("SELECT record, reasons FROM pipeline_state.quarantine").fetchall()
    assert sorted(repr(None if r is None else json.loads(r)) for r, _ in rows) == sorted(
        map(repr, [None, "text", 5, [1, 2]])
    )
    assert all(reasons == "record is not a JSON object" for _, reasons in rows)
