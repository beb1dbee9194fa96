"""Faults the pipeline must survive, against the sandbox: every export feed and the list endpoints.

- the issue's yardstick: 5 % 429s, 3 % 500s, 2 % cut-off bodies, 1 % answers slower than the read
  timeout, a server limit of 20 requests/s (below the client's 60) and 15-second tokens, all
  feeds synced at once: every feed lands exactly, its cursor at the feed's end, tokens renewed
  mid-run, one retry per fault;
- the server's own limit (20/s, client 60/s) met with its 429s: honoured, no snowball;
- each retryable fault (429 with Retry-After, 500/502/503/504, reset, cut-off body, 200 with
  unparseable JSON, slow answer) on every export feed;
- tokens revoked mid-run: renewed, the run goes on;
- records repeated across pages (includeRecentChanges) and across runs: no duplicate rows; a bad
  record repeated is kept in the quarantine, once;
- the list endpoints (paged, arrays, bare values, per parent) under a random fault mix.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS, endpoint
from crm_pipeline.ingest import FanOutOptions, sync_export, sync_list
from crm_pipeline.settings import Settings
from crm_pipeline.storage import ensure_raw_table, read_position, reset_position
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.faults import ISSUE_RATES, api_log, assert_exact, wait_for_faults
from crm_pipeline_tests.sandbox import Sandbox
from crm_pipeline_tests.sandbox.faults import BEFORE_ANSWER, KINDS

CUSTOMERS = endpoint("export/customers")


def assert_cursor_at_end(settings: Settings, conn, path: str) -> None:
    """The stored cursor is the feed's last continueFrom: resuming from it brings nothing and keeps it."""
    stored = read_position(conn, settings.tenant_id, path)
    with make_client(settings) as client:
        pages = list(client.export_pages(path, start=stored.position))
    assert stored.has_more is False and len(pages) == 1, path
    assert (pages[0].data, pages[0].continue_from, pages[0].has_more) == ([], stored.position, False), path


def sync_feeds_at_once(client, settings: Settings) -> list:
    """Every export feed synced at once, sharing `client`, while other calls of the app use it too (the
    rate limit is per app and tenant); returns their SyncResults."""
    done = threading.Event()

    def sync(ep):
        with conn.cursor() as own:
            return sync_export(client, own, ep, tenant_id=settings.tenant_id)

    def other_traffic():  # an empty page (a date after every record) again and again, at the client's 60/s
        while not done.is_set():
            client.get_json("export/bookings", {"from": "2100-01-01"})

    with duckdb.connect(settings.duckdb_path) as conn:
        for ep in EXPORT_FEEDS:  # tables first, so that the threads do not race to create schemas
            ensure_raw_table(conn, ep)
        with ThreadPoolExecutor(len(EXPORT_FEEDS) + 1) as pool:
            background = pool.submit(other_traffic)
            try:
                results = list(pool.map(sync, EXPORT_FEEDS))
            finally:
                done.set()
            background.result()
    return results


def assert_feeds_landed(sb, settings: Settings, results: list) -> None:
    with duckdb.connect(settings.duckdb_path) as conn:
        assert_exact(conn, sb, settings.tenant_id, EXPORT_FEEDS)
        for ep, result in zip(EXPORT_FEEDS, results, strict=False):
            assert result.has_more is False and result.quarantined == 0
            assert_cursor_at_end(settings, conn, ep.path)


def test_the_issue_fault_mix_lands_every_export_feed_exactly(tmp_path):
    """5 % 429, 3 % 500, 2 % cut-off bodies, 1 % answers slower than the read timeout, a server limit
    of 20 requests/s under the client's 60, and tokens that live 15 s: every feed lands exactly."""
    # about 450 requests: even at the full 20/s the server allows, the run outlives a 15 s token
    with Sandbox(seed=21, sizes={"customers": 192}, page_size=5, token_ttl=15, rate_limit=20) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        sb.faults.set_rates(ISSUE_RATES, seed=1, retry_after=1, delay=2.5)
        # each kind met at least once, whatever the dice say
        for kind, ep in zip(ISSUE_RATES, EXPORT_FEEDS[2:], strict=False):
            sb.faults.add(kind, count=1, path_contains=ep.path, retry_after=1, delay=2.5)
        began = time.monotonic()
        with make_client(settings, read_timeout=1.0, max_attempts=12) as client:
            results = sync_feeds_at_once(client, settings)
            stats = client.stats
        elapsed = time.monotonic() - began
        assert wait_for_faults(sb, stats["retries"]) == stats["retries"]  # one retry per fault, no more
        faults = [e.fault for e in api_log(sb)]
        sb.faults.clear()
        assert_feeds_landed(sb, settings, results)
    for kind in ("429", "500", "truncate", "slow"):
        assert kind in faults, f"the run met no {kind!r} fault: the test proves nothing about it"
    assert elapsed > 15, "the run must outlive a token for the 15 s token lifetime to be tested"
    assert stats["token_requests"] >= 2 and 401 not in stats["by_status"]  # renewed ahead of expiry
    # 5 % 429s with Retry-After: 1 pause every thread: the run stays under the server's 20/s. The
    # injected 429s, 500s and resets are answered before the server's limiter and take none of its
    # 20/s (a client using the whole allowance sends them on top): what the limiter counted is the rest.
    counted = [f for f in faults if f not in BEFORE_ANSWER]
    assert len(counted) / elapsed < 20 * 1.1 and faults.count("rate_limit") < 0.05 * len(faults)


def test_a_server_limit_below_the_clients_is_honoured(tmp_path):
    """The server allows 20 requests/s, the client 60: the server's 429s (Retry-After: 1) slow
    everyone down instead of snowballing, and the feeds land exactly."""
    # About 330 requests: at the server's 20/s the run lasts several times the budget's learning (from
    # 60/s, a few drops in its first seconds, the first landing high after the server's burst), so the
    # 429s of the learning are a small part of what the bound below counts.
    with Sandbox(seed=22, sizes={"customers": 120}, page_size=5, rate_limit=20) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        began = time.monotonic()
        with make_client(settings, rate_limit=60) as client:
            results = sync_feeds_at_once(client, settings)
            stats = client.stats
        elapsed = time.monotonic() - began
        limited = [e for e in api_log(sb) if e.fault == "rate_limit"]
        assert limited and all(e.status == 429 for e in limited), "the client never met the server's limit"
        assert stats["retries"] == len(limited) and stats["throttled_seconds"] >= len(limited)
        assert len(limited) <= 2 * elapsed, "429s every second of the run: the client kept pushing"
        # the server's bucket holds one second's burst: it serves at most 20 + 20 * elapsed; a client
        # that kept pushing after its 429s would send far more than that (its own limit is 60/s)
        assert stats["requests"] < (20 + 20 * elapsed) * 1.25
        assert_feeds_landed(sb, settings, results)


@pytest.mark.parametrize("kind", KINDS)
def test_each_retryable_fault_on_every_feed(sandbox, settings, conn, kind):
    for ep in EXPORT_FEEDS:  # one per feed; "export/customers" faults are used up before .../contacts is read
        # Retry-After: 1 on the first feed (honoured: the test times it), 0 on the others (a quick suite)
        sandbox.faults.add(kind, count=1, path_contains=ep.path, retry_after=int(ep is CUSTOMERS), delay=1.5)
    began = time.monotonic()
    with make_client(settings, read_timeout=0.6) as client:
        for ep in EXPORT_FEEDS:
            sync_export(client, conn, ep, tenant_id=settings.tenant_id)
        stats = client.stats
    elapsed = time.monotonic() - began
    assert sandbox.faults.pending == 0 and stats["retries"] == len(EXPORT_FEEDS)
    if kind == "429":  # Retry-After honoured
        assert (
            elapsed >= 1.0
            and stats["throttled_seconds"] >= 1.0
            and stats["by_status"][429] == len(EXPORT_FEEDS)
        )
    # the client gave up on each slow answer after its read timeout, without waiting it out
    if kind == "slow":
        assert len(EXPORT_FEEDS) * 0.6 <= elapsed < len(EXPORT_FEEDS) * 1.5
    assert_exact(conn, sandbox, settings.tenant_id, EXPORT_FEEDS)


def test_tokens_revoked_mid_run_are_renewed_and_the_run_goes_on(sandbox, settings, conn):
    revoked, answered_then = [], [0]

    def revoke_every_second_page(result):
        # Not again before the last revocation's 401, renewal and retry are through (two answers since):
        # revoked between the renewal and its retry, a token would be refused twice in a row, which the
        # client takes for wrong credentials. The prefetch thread may be mid-request at any page.
        answered = client.stats["by_status"].get(200, 0)
        if result.pages % 2 == 0 and answered >= answered_then[0] + 2:
            sandbox.expire_tokens()
            revoked.append(result.stream)
            answered_then[0] = answered

    with make_client(settings) as client:
        for ep in EXPORT_FEEDS:
            sync_export(client, conn, ep, tenant_id=settings.tenant_id, on_page=revoke_every_second_page)
        stats = client.stats
    assert len(revoked) >= len(EXPORT_FEEDS)
    # each revocation costs at most one 401 and one new token (a prefetched page may have beaten it)
    assert stats["by_status"].get(401, 0) <= len(revoked) and stats["token_requests"] <= len(revoked) + 1
    assert stats["by_status"].get(401, 0) >= 1
    assert_exact(conn, sandbox, settings.tenant_id, EXPORT_FEEDS)


def test_records_repeated_across_pages_and_runs_leave_no_duplicates(sandbox, settings, conn):
    with make_client(settings) as client:
        first = [
            sync_export(client, conn, ep, tenant_id=settings.tenant_id, include_recent_changes=True)
            for ep in EXPORT_FEEDS
        ]
        # the sandbox repeats the tail of every page
        for ep, result in zip(EXPORT_FEEDS, first, strict=False):
            assert result.records_received > len(sandbox.records(ep.path)), ep.path
        assert_exact(conn, sandbox, settings.tenant_id, EXPORT_FEEDS)
        for ep in EXPORT_FEEDS:  # the same records again on the next run: changed, or the cursor reset
            sandbox.change(ep.path, n=15)
            sandbox.add(ep.path, n=3)
        reset_position(conn, settings.tenant_id, CUSTOMERS.path)
        again = [
            sync_export(client, conn, ep, tenant_id=settings.tenant_id, include_recent_changes=True)
            for ep in EXPORT_FEEDS
        ]
    # the whole feed, delivered twice now
    assert again[0].records_received > len(sandbox.records(CUSTOMERS.path))
    assert_exact(conn, sandbox, settings.tenant_id, EXPORT_FEEDS)
    assert conn.execute("SELECT count(*) FROM pipeline_state.quarantine").fetchone()[0] == 0


def sync_bad_records_repeated(sandbox, settings, conn) -> set:
    """Three bad records among changes, read with includeRecentChanges in pages of 4 (each answer
    repeats the last 3 records of the previous one); returns their ids."""
    with make_client(settings) as client:
        sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
        base = sandbox.records(CUSTOMERS.path)[0]
        bad = {9_000_000_002 + i for i in range(3)}
        for rid in sorted(bad):
            sandbox.put(CUSTOMERS.path, {**base, "id": rid, "balance": "lots"})
        sandbox.change(CUSTOMERS.path, n=4)
        sandbox.page_size = 4
        result = sync_export(
            client, conn, CUSTOMERS, tenant_id=settings.tenant_id, include_recent_changes=True
        )
    assert result.records_received > 7, "the feed should have repeated records across pages"
    return bad


def test_a_bad_record_repeated_across_pages_is_kept_and_the_rest_lands(sandbox, settings, conn):
    bad = sync_bad_records_repeated(sandbox, settings, conn)
    rows = conn.execute("SELECT DISTINCT record_id, reasons FROM pipeline_state.quarantine").fetchall()
    assert sorted(rows) == [(str(rid), "balance: not a number (got 'lots')") for rid in sorted(bad)]
    good = [r for r in sandbox.records(CUSTOMERS.path) if r["id"] not in bad]
    assert differences(conn, CUSTOMERS, settings.tenant_id, good) == []


def test_a_bad_record_repeated_across_pages_is_quarantined_once(sandbox, settings, conn):
    sync_bad_records_repeated(sandbox, settings, conn)
    total, distinct = conn.execute(
        "SELECT count(*), count(DISTINCT (record_id, record::VARCHAR)) FROM pipeline_state.quarantine"
    ).fetchone()
    assert total == distinct


TOP_LISTS = [ep for ep in LIST_ENDPOINTS if ep.parent is None]
CHILD_LISTS = [ep for ep in LIST_ENDPOINTS if ep.parent is not None]


def test_list_endpoints_land_exactly_under_a_fault_mix(tmp_path):
    with Sandbox(seed=23, sizes={"customers": 24}, page_size=40) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        # No random "badjson" here: the sandbox makes it by cutting the body in half, and half of a bare
        # value (locations/{id}/preferredtechnician answers 2900000006) is still JSON (29000). Scripted
        # ones hit the paged customers list, where half a body never parses.
        sb.faults.set_rates(
            {
                "429": 0.04,
                "500": 0.02,
                "502": 0.02,
                "503": 0.02,
                "504": 0.01,
                "reset": 0.02,
                "truncate": 0.02,
                "slow": 0.01,
            },
            seed=5,
            retry_after=0,
            delay=2.0,
        )
        sb.faults.add("badjson", count=2, path_contains="/customers")
        with (
            make_client(settings, read_timeout=1.0, max_attempts=12) as client,
            duckdb.connect(settings.duckdb_path) as conn,
        ):
            for ep in LIST_ENDPOINTS:  # catalog order: parents before their children
                sync_list(
                    client,
                    conn,
                    ep,
                    tenant_id=settings.tenant_id,
                    page_size=25,
                    fan_out=FanOutOptions(workers=4),
                )
            stats = client.stats
            sb.faults.clear()
            assert_exact(conn, sb, settings.tenant_id, TOP_LISTS)
            for ep in CHILD_LISTS:
                assert served(sb, ep), ep.path
            assert_exact(conn, sb, settings.tenant_id, CHILD_LISTS)
        assert stats["retries"] > 0 and wait_for_faults(sb, stats["retries"]) == stats["retries"]
        assert [e.path.rsplit("/", 1)[1] for e in api_log(sb) if e.fault == "badjson"] == [
            "customers",
            "customers",
        ]
