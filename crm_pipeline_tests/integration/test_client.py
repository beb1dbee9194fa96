"""The ServiceTitan client against the sandbox (a fake API over real HTTP; nothing is mocked)."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm_pipeline.ingest import stage
from crm_pipeline.ingest.stage import prepared
from crm_pipeline.servicetitan import ExportPage, ServiceTitanClient, errors
from crm_pipeline.servicetitan.scopes import probe_paths_for
from crm_pipeline.settings import Settings
from crm_pipeline_tests.sandbox import Sandbox
from crm_pipeline_tests.sandbox.server import API_ROUTES

FEED = "export/customers"
FAST = dict(
    rate_limit=None,
    max_attempts=6,
    max_retry_seconds=20.0,
    backoff_base=0.01,
    backoff_cap=0.05,
    read_timeout=5.0,
    connect_timeout=2.0,
)
LIST_ROUTES = [p for _, p, _ in API_ROUTES if p.fullmatch("customers")]


@pytest.fixture(scope="module")
def box():
    with Sandbox(seed=7, sizes={"customers": 300}, page_size=100, token_ttl=900, rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def sb(box):
    """The module's sandbox, back to its initial settings, with no faults and an empty log."""
    box.faults.clear()
    box.clear_log()
    box.page_size, box.token_ttl, box.rate_limit = 100, 900, None
    return box


@pytest.fixture
def settings(sb) -> Settings:
    return Settings.from_env(sb.env())


def make(settings: Settings, **overrides) -> ServiceTitanClient:
    return ServiceTitanClient(settings, **{**FAST, **overrides})


def ids(pages) -> list:
    return [r["id"] for p in pages for r in p.data]


def record_ids(sb) -> set:
    return {r["id"] for r in sb.records(FEED)}


def texts(exc: BaseException) -> str:  # all a user could see of an exception
    return "\n".join([str(exc), repr(exc), *traceback.format_exception(exc)])


def run_threads(n: int, fn) -> list:  # fn's results from n threads at once; re-raises a failure
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: fn(), range(n)))


def test_export_walk_matches_records(sb, settings):
    with make(settings) as client:
        pages = list(client.export_pages(FEED))
        stats = client.stats
    assert all(isinstance(p, ExportPage) for p in pages) and pages[0].requested_from is None
    assert [p.has_more for p in pages] == [True] * (len(pages) - 1) + [False]
    assert [p.requested_from for p in pages[1:]] == [p.continue_from for p in pages[:-1]]
    got = ids(pages)
    assert len(got) == len(set(got)) and set(got) == record_ids(sb)
    assert stats["requests"] == len(pages) and stats["by_status"] == {200: len(pages)}
    assert stats["token_requests"] == 1 == sum(1 for e in sb.request_log if e.path == "/connect/token")
    sb.change(FEED, n=10)  # resuming from the last cursor yields the changes only
    with make(settings) as client:
        more = list(client.export_pages(FEED, start=pages[-1].continue_from))
    assert more[0].requested_from == pages[-1].continue_from and 1 <= len(set(ids(more))) <= 10


def ahead_of(client):
    """The feed's pages through the ingest stage that prefetches them (prepared as they are)."""
    return prepared(lambda stop: client.export_pages(FEED, stop=stop), lambda page: page)


def test_prefetch_yields_same_pages_as_sequential_and_stops_on_close(sb, settings):
    sb.page_size = 50
    with make(settings) as client:
        seq = list(client.export_pages(FEED))
        pre = list(ahead_of(client))

    def shape(pages):
        return [(p.requested_from, p.continue_from, p.has_more, ids([p])) for p in pages]

    assert shape(pre) == shape(seq) and len(seq) >= 6
    with make(settings) as client:  # closing the walk early stops the worker
        walk = ahead_of(client)
        next(walk)
        walk.close()
        time.sleep(0.3)
        sent = client.stats["requests"]
        time.sleep(0.3)
        assert client.stats["requests"] == sent <= 3  # page 1 and at most pages 2 and 3, fetched ahead
    assert not [t for t in threading.enumerate() if t.name == "crm-prefetch"]
    with pytest.raises(errors.ClientClosed):
        client.get_json(FEED)
    assert "closed" in repr(client)


def test_prefetch_error_reaches_the_consumer_after_the_good_page(sb, settings):
    # The limiter spaces requests 0.5 s apart, so the fault is armed before page 2 is requested.
    with make(settings, rate_limit=2.0, max_attempts=2) as client:
        walk = ahead_of(client)
        first = next(walk)
        sb.faults.add("503", count=50, path_contains=FEED)
        assert first.has_more and first.data
        with pytest.raises(errors.RetriesExhausted) as info:
            next(walk)
    assert info.value.attempts == 2 and "503" in info.value.last_problem and "2 attempt" in str(info.value)


@pytest.mark.parametrize("kind", ["429", "500", "502", "503", "504", "reset", "truncate", "badjson", "slow"])
def test_retryable_faults_are_survived(sb, settings, kind, caplog):
    sb.faults.add(kind, count=2, path_contains=FEED, delay=1.5, retry_after=1)
    caplog.set_level(logging.INFO, logger="crm_pipeline.servicetitan")
    began = time.monotonic()
    with make(settings, read_timeout=0.4) as client:  # "slow" (1.5 s) must time out, not wait
        pages = list(client.export_pages(FEED))
        stats = client.stats
    if kind == "429":  # two 429s with Retry-After: 1 -> at least 2 s of waiting
        assert time.monotonic() - began >= 2.0 and stats["throttled_seconds"] >= 2.0
    else:  # backoff is tiny in these tests
        assert time.monotonic() - began < 1.5
    assert set(ids(pages)) == record_ids(sb) and stats["retries"] == 2 and sb.faults.pending == 0
    while time.monotonic() - began < 3 and sum(e.fault == kind for e in sb.request_log) < 2:
        time.sleep(0.05)  # a slow answer is logged once the sandbox has finished sleeping
    assert sum(e.fault == kind for e in sb.request_log) == 2
    assert sum("retry" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO) == 2


def test_random_fault_mix_with_concurrent_threads(sb, settings):
    sb.faults.set_rates({"429": 0.05, "500": 0.05, "truncate": 0.05, "reset": 0.05}, seed=1)
    with make(settings, max_attempts=10) as client:
        results = run_threads(16, lambda: ids(client.export_pages(FEED, stop=None)))
        stats = client.stats
    assert all(set(r) == record_ids(sb) for r in results)
    assert stats["token_requests"] == 1 and stats["retries"] > 0


def test_tokens_are_renewed_mid_walk(sb, settings):
    with make(settings) as client:  # all tokens revoked between two pages: one 401, renew, go on
        walk = client.export_pages(FEED)
        pages = [next(walk)]
        sb.expire_tokens()
        pages += list(walk)
        stats = client.stats
    assert set(ids(pages)) == record_ids(sb)
    assert stats["token_requests"] == 2 and stats["by_status"].get(401) == 1
    sb.token_ttl = 1  # short-lived tokens are renewed before they run out: no 401 at all
    with make(settings) as client:
        pages = [p for p in client.export_pages(FEED) if not time.sleep(0.5)]  # slow reader
        stats = client.stats
    assert set(ids(pages)) == record_ids(sb)
    assert stats["token_requests"] >= 2 and 401 not in stats["by_status"]


def test_bad_secret_fails_fast_without_retry_storm(sb, settings):
    bad = dataclasses.replace(settings, client_secret="not-the-" + "secret-xyz")
    before, began = sb.token_requests, time.monotonic()
    with make(bad, max_attempts=8, backoff_base=0.5) as client:
        with pytest.raises(errors.CredentialsRejected) as info:
            client.get_json(FEED)
    assert time.monotonic() - began < 5
    assert sb.token_requests - before == 1 and client.stats["requests"] == 0
    assert all(s in str(info.value) for s in (settings.auth_url, "SERVICETITAN_CLIENT_SECRET", "refused"))
    assert bad.client_secret not in texts(info.value)


def test_token_refused_after_renewal_raises_credentials_rejected(sb, settings):
    # Tokens of another sandbox are real tokens, but not for this API: 401, renew, 401 again.
    with Sandbox(seed=8, sizes={"customers": 10}) as other:
        theirs = {k: v for k, v in other.env().items() if "AUTH" in k or "CLIENT" in k}
        foreign = Settings.from_env({**sb.env(), **theirs})
        with make(foreign) as client:
            with pytest.raises(errors.CredentialsRejected) as info:
                client.get_json(FEED)
            assert client.stats["by_status"] == {401: 2} and client.stats["token_requests"] == 2
            assert not any(t in texts(info.value) for t in client._auth.seen_tokens)
    assert f"tenant {settings.tenant_id}" in str(info.value) and "SERVICETITAN_CLIENT_ID" in str(info.value)


@pytest.mark.parametrize(
    ("change", "start", "exc", "hint"),
    [
        ({"app_key": "wrong-app-key"}, None, errors.AppKeyRejected, "SERVICETITAN_APP_KEY"),
        ({"tenant_id": "999999"}, None, errors.NotFound, "SERVICETITAN_TENANT_ID"),
        ({}, "no-such-cursor", errors.InvalidContinuationToken, "crm-pipeline reset-cursor"),
    ],
)
def test_unretryable_errors_raise_at_once(sb, settings, change, start, exc, hint):
    with make(dataclasses.replace(settings, **change)) as client:
        with pytest.raises(exc) as info:
            list(client.export_pages(FEED, start=start))
        # a 403 before any 200: a few small requests to endpoints of other scopes tell key from scope
        probes = len(probe_paths_for(FEED)) if exc is errors.AppKeyRejected else 0
        assert client.stats["requests"] == 1 + probes and client.stats["retries"] == 0
    msg = str(info.value)
    assert hint in msg and f"HTTP {info.value.status}" in msg and FEED in msg
    assert info.value.trace_id in msg and info.value.title in msg and (start is None or start in msg)


def test_client_rate_limit_is_respected(sb, settings):
    sb.rate_limit = 25.0  # the server would answer 429 above 25/s
    with make(settings, rate_limit=20.0) as client:
        client.get_json(FEED)  # token and first request out of the way
        began = time.monotonic()
        run_threads(4, lambda: [client.get_json(FEED) for _ in range(5)])
        elapsed = time.monotonic() - began
        stats = client.stats
    assert stats["requests"] == 21 and 429 not in stats["by_status"]
    assert 20 / elapsed <= 20.0 * 1.05  # 20 more requests at 20/s take >= 1 s


@pytest.mark.skipif(not LIST_ROUTES, reason="no list endpoints in the sandbox yet")
def test_list_pages_walks_every_page(sb, settings):
    with make(settings) as client:
        pages = list(client.list_pages("customers", {"active": "Any"}, page_size=100))
    assert [p.page for p in pages] == list(range(1, len(pages) + 1))
    assert pages[0].total_count == 300 and not pages[-1].has_more and set(ids(pages)) == record_ids(sb)
    first = next(e.query for e in sb.request_log if e.path.endswith("/customers"))
    assert first.get("includeTotal") == "true" and first.get("active") == "Any"


def test_no_secret_in_logs_or_errors(sb, settings, caplog):
    caplog.set_level(logging.DEBUG)
    sb.faults.add("429", count=1, path_contains=FEED, retry_after=0)
    sb.faults.add("truncate", count=1, path_contains=FEED)
    seen, tokens = [], []
    bad_key, bad_secret = "wrong-" + "app-key-7q", "wrong-" + "secret-3x"  # not literal in tracebacks
    with make(settings) as client:
        list(client.export_pages(FEED))
        sb.expire_tokens()
        list(client.export_pages(FEED))
        seen += [repr(client), repr(client.settings), repr(client._auth), str(client.stats)]
        tokens += client._auth.seen_tokens
    assert len(tokens) == 2
    for bad, call in [
        (dataclasses.replace(settings, app_key=bad_key), lambda c: c.get_json(FEED)),
        (settings, lambda c: list(c.export_pages(FEED, start="bogus"))),
        (dataclasses.replace(settings, client_secret=bad_secret), lambda c: c.get_json(FEED)),
    ]:
        with make(bad) as other, pytest.raises(errors.ServiceTitanError) as info:
            call(other)
        seen.append(texts(info.value))
        tokens += other._auth.seen_tokens
    text = "\n".join(seen + [r.getMessage() for r in caplog.records] + [caplog.text])
    assert "HTTP 429" in text and "retry" in text  # the retries were logged...
    for secret in (settings.client_secret, settings.app_key, bad_key, bad_secret, *tokens):
        assert secret not in text  # ...without any secret


@pytest.mark.parametrize("dead", ["SERVICETITAN_AUTH_URL", "SERVICETITAN_API_URL"])
def test_an_address_where_nothing_answers_names_its_setting(sandbox, settings, dead):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nowhere = f"http://127.0.0.1:{port}" + ("/connect/token" if dead == "SERVICETITAN_AUTH_URL" else "")
    field = "auth_url" if dead == "SERVICETITAN_AUTH_URL" else "api_url"
    broken = dataclasses.replace(settings, **{field: nowhere})
    with ServiceTitanClient(broken, max_retry_seconds=1, backoff_base=0.01) as client:
        with pytest.raises(errors.RetriesExhausted, match=f"Nothing answered: check {dead}"):
            client.get_json("export/customers")


def test_prepared_pages_wait_for_the_caller_up_to_a_budget_of_bytes(monkeypatch):
    """Pages run ahead of a caller that has not taken them while their sizes fit the budget; one larger
    than the whole budget still goes through, alone."""
    monkeypatch.setattr(stage, "AHEAD_BYTES", 10)
    produced: list[int] = []

    def pages(stop):
        for number in range(12):
            produced.append(number)
            yield number

    walk = prepared(pages, lambda page: page, size=lambda page: 100 if page == 6 else 4)
    assert next(walk) == 0
    deadline = time.monotonic() + 10
    while len(produced) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # time to run further ahead, if it could
    assert produced == [0, 1, 2, 3]  # 1 and 2 wait (8 bytes); 3 waits for room
    assert list(walk) == list(range(1, 12))
