"""The export feeds, end to end: sandbox API -> client -> validation -> DuckDB, compared field by field."""

from __future__ import annotations

import gc
import time

import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.ingest import sync_export
from crm_pipeline.storage import read_position
from crm_pipeline_tests.compare import differences

CUSTOMERS = endpoint("export/customers")


def feed_requests(sandbox, path: str) -> list:
    return [e for e in sandbox.request_log if e.path.endswith("/" + path)]


def test_every_feed_loads_exactly(sandbox, settings, client, conn):
    for ep in EXPORT_FEEDS:
        result = sync_export(client, conn, ep, tenant_id=settings.tenant_id)
        assert gc.get_freeze_count() == 0
        served = sandbox.records(ep.path)
        assert served, f"the sandbox serves no {ep.path}"
        assert differences(conn, ep, settings.tenant_id, served) == []
        assert result.has_more is False and result.quarantined == 0
        assert read_position(conn, settings.tenant_id, ep.path).position == result.position


def test_messy_values_survive(sandbox, settings, client, conn):
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    big_ids = conn.execute("SELECT count(*) FROM raw_export.customers WHERE id > 2147483647").fetchone()[0]
    inactive = conn.execute("SELECT count(*) FROM raw_export.customers WHERE NOT active").fetchone()[0]
    merged = conn.execute(
        'SELECT count(*) FROM raw_export.customers WHERE "mergedToId" IS NOT NULL'
    ).fetchone()[0]
    assert big_ids > 0 and inactive > 0 and merged > 0
    cities = conn.execute("SELECT count(address->>'city') FROM raw_export.customers").fetchone()[0]
    assert cities > 0, "address.city must be queryable"


def test_second_run_fetches_only_the_changed_tail(sandbox, settings, client, conn):
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    changed = sandbox.change("export/customers", n=7)
    added = sandbox.add("export/customers", n=3)
    sandbox.clear_log()
    result = sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert conn.execute("SELECT count(*) FROM pipeline_state.cursors").fetchone()[0] == 1  # updated in place
    assert read_position(conn, settings.tenant_id, CUSTOMERS.path).position == result.position
    assert result.records_received == len(set(changed) | set(added))
    assert len(feed_requests(sandbox, "export/customers")) == 1  # page size 40 > 10 changes
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records("export/customers")) == []


def test_nothing_new_means_one_request_and_no_rows(sandbox, settings, client, conn):
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    sandbox.clear_log()
    result = sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert (result.records_received, result.pages) == (0, 1)
    assert len(feed_requests(sandbox, "export/customers")) == 1


class Crash(RuntimeError):
    pass


def test_a_run_that_dies_part_way_resumes_with_nothing_lost_or_doubled(sandbox, settings, client, conn):
    def die_after_two_pages(result):
        if result.pages == 2:
            raise Crash("simulated crash after page 2")

    with pytest.raises(Crash):
        sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id, on_page=die_after_two_pages)
    assert gc.get_freeze_count() == 0, "the objects frozen for the sync must be collectable again"
    stored = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
    assert stored == 80  # two committed pages of 40
    sandbox.change("export/customers", n=5)
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records("export/customers")) == []


def test_include_recent_changes_repeats_are_absorbed(sandbox, settings, client, conn):
    result = sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id, include_recent_changes=True)
    assert result.records_received > len(sandbox.records("export/customers")), (
        "the sandbox should repeat records"
    )
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records("export/customers")) == []


def test_first_run_can_start_at_a_date(sandbox, settings, client, conn):
    served = sandbox.records("export/customers")
    dates = sorted(r["modifiedOn"][:10] for r in served)
    start = dates[len(dates) // 2]
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id, start=start)
    stored = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
    assert 0 < stored < len(served)
    assert conn.execute(
        'SELECT min("modifiedOn") >= ?::TIMESTAMPTZ FROM raw_export.customers', [start]
    ).fetchone()[0]


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "reset", "truncate", "badjson", "slow"])
def test_each_retryable_fault_is_survived(sandbox, settings, conn, kind):
    from crm_pipeline_tests.conftest import make_client

    sandbox.faults.add(kind, count=2, path_contains="export/customers", retry_after=1, delay=2)
    with make_client(settings, read_timeout=1.0) as client:
        sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    # a slow answer is logged when the sandbox finishes it, after the client gave up
    deadline = time.monotonic() + 5
    while [e.fault for e in sandbox.request_log].count(kind) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [e.fault for e in sandbox.request_log].count(kind) == 2
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records("export/customers")) == []


def test_a_record_failing_validation_is_quarantined_not_dropped(sandbox, settings, client, conn):
    bad = {
        **sandbox.records("export/customers")[0],
        "id": 9_000_000_001,
        "createdOn": "not a date",
        "balance": "lots",
    }
    sandbox.put("export/customers", bad)
    result = sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert result.quarantined == 1
    row = conn.execute(
        "SELECT record_id, reasons, record->>'createdOn' FROM pipeline_state.quarantine"
    ).fetchone()
    assert row[0] == "9000000001" and "createdOn" in row[1] and "balance" in row[1] and row[2] == "not a date"
    good = [r for r in sandbox.records("export/customers") if r["id"] != bad["id"]]
    assert differences(conn, CUSTOMERS, settings.tenant_id, good) == []


def test_an_unknown_field_is_kept_as_a_new_column(sandbox, settings, client, conn):
    record = {**sandbox.records("export/customers")[0], "loyaltyTier": {"level": "gold", "since": 2019}}
    sandbox.put("export/customers", record)
    result = sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert "loyaltyTier" in result.new_fields
    tier = conn.execute(
        "SELECT \"loyaltyTier\"->>'level' FROM raw_export.customers WHERE id = ?", [record["id"]]
    ).fetchone()
    assert tier == ("gold",)
