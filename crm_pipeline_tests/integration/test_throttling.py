"""When the API gives less than the documents promise (#23): 429s wait as the server says and use no
attempt, the budget learns the server's real limit, maintenance windows are waited out and said once,
gateway pages are named as such. Against the sandbox over real HTTP."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm_pipeline.servicetitan import ServiceTitanClient, errors
from crm_pipeline.servicetitan.answers import in_maintenance
from crm_pipeline.servicetitan.retry import seconds_in_title
from crm_pipeline.settings import Settings
from crm_pipeline_tests.sandbox import Sandbox

FEED = "export/customers"
FAST = dict(max_attempts=3, backoff_base=0.01, backoff_cap=0.05, read_timeout=5.0, connect_timeout=2.0)


@pytest.fixture(scope="module")
def box():
    with Sandbox(seed=23, sizes={"customers": 120}, page_size=200, rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def sb(box):
    box.faults.clear()
    box.clear_log()
    box.rate_limit, box.retry_after_header, box.maintenance_seconds = None, True, 0
    yield box
    box.faults.clear()
    box.maintenance_seconds = 0


@pytest.fixture
def settings(sb) -> Settings:
    return Settings.from_env(sb.env())


def make(settings: Settings, **overrides) -> ServiceTitanClient:
    return ServiceTitanClient(settings, **{"rate_limit": None, **FAST, **overrides})


def test_the_wait_of_a_429_title_is_the_word_before_last():
    assert seconds_in_title("Rate limit is exceeded. Try again in 2 seconds.") == 2
    assert seconds_in_title("Too Many Requests") is None and seconds_in_title(None) is None
    assert in_maintenance(409, "title='The service is suspended for maintenance.'")
    assert not in_maintenance(409, "title='Conflict'") and not in_maintenance(500, "maintenance")


def test_429s_use_no_attempt_meant_for_errors(sb, settings):
    sb.faults.add("429", count=6, path_contains=FEED, retry_after=0)
    sb.faults.add("500", count=2, path_contains=FEED)
    with make(settings, max_attempts=3) as client:  # 6 throttles and 2 errors: the 3 attempts are the errors'
        assert client.get_json(FEED)["data"]
        assert client.stats["by_status"] == {429: 6, 500: 2, 200: 1}
    sb.faults.add("500", count=3, path_contains=FEED)
    with make(settings, max_attempts=3) as client, pytest.raises(errors.RetriesExhausted) as info:
        client.get_json(FEED)
    assert "max_attempts=3" in str(info.value)


def test_without_retry_after_the_429_title_gives_the_wait(sb, settings):
    sb.retry_after_header = False
    sb.faults.add("429", count=1, path_contains=FEED, retry_after=1)
    began = time.monotonic()
    with make(settings) as client:
        client.get_json(FEED)
        assert client.stats["by_status"] == {429: 1, 200: 1}
    assert time.monotonic() - began >= 1.0  # no header and no rate limit: only the title says to wait


def test_throttling_gives_up_after_its_time_budget_and_says_how_long_and_at_what_rate(sb, settings):
    sb.faults.add("429", count=1000, path_contains=FEED, retry_after=1)
    with make(settings, rate_limit=30.0, max_throttle_seconds=2.5) as client:
        with pytest.raises(errors.RetriesExhausted) as info:
            client.get_json(FEED)
    message = str(info.value)
    assert "throttled (HTTP 429) for" in message and "max_throttle_seconds=2.5" in message
    assert "requests/s" in message and info.value.attempts >= 3  # more tries than max_attempts allows errors


def test_a_maintenance_window_is_waited_out_and_said_once(sb, settings, caplog):
    caplog.set_level(logging.DEBUG, logger="crm_pipeline.servicetitan")
    sb.maintenance_seconds = 4
    with make(settings) as client, ThreadPoolExecutor(4) as pool:
        pages = list(pool.map(lambda _: client.get_json(FEED)["data"], range(4)))
    assert all(len(p) == len(sb.records(FEED)) for p in pages)
    assert sum(e.fault == "maintenance" for e in sb.request_log) >= 4
    said = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO and "maintenance" in r.getMessage()
    ]
    assert len(said) == 2 and "suspended for maintenance" in said[0] and "over" in said[1], said


def test_a_maintenance_longer_than_its_setting_fails_naming_it(sb, settings):
    sb.maintenance_seconds = 60
    with make(settings, max_maintenance_seconds=2) as client, pytest.raises(errors.RetriesExhausted) as info:
        client.get_json(FEED)
    assert "maintenance" in str(info.value) and "max_maintenance_seconds=2" in str(info.value)


def test_a_gateway_page_is_quoted_by_its_title_not_as_the_whole_page(sb, settings):
    sb.faults.add("502", count=1, path_contains=FEED)
    with make(settings) as client:  # retried like any 5xx
        assert client.get_json(FEED)["data"]
    sb.faults.add("502", count=10, path_contains=FEED)
    with make(settings, max_attempts=2) as client, pytest.raises(errors.RetriesExhausted) as info:
        client.get_json(FEED)
    message = str(info.value)
    assert "'502 Bad Gateway'" in message and "a gateway in front of the API answered" in message
    assert "<html>" not in message and "<center>" not in message


def test_the_budget_learns_a_limit_below_the_documented_one(sb, settings):
    sb.rate_limit = 20.0
    stop = threading.Event()
    with make(settings, rate_limit=60.0, max_attempts=8) as client:

        def hammer(_):
            while not stop.is_set():
                client.get_json("customers", {"pageSize": 1})

        with ThreadPoolExecutor(8) as pool:
            running = [pool.submit(hammer, i) for i in range(8)]
            time.sleep(12)
            stop.set()
            for future in running:
                future.result()  # no request ran out of attempts
        settled = client.rate
    answers = [e for e in sb.request_log if "/crm/v2/" in e.path]
    late = answers[len(answers) // 3 :]  # once the budget has learned
    throttled = sum(e.status == 429 for e in late)
    assert settled is not None and settled < 40, "the rate did not come down to the server's limit"
    assert throttled <= 0.05 * len(late), f"{throttled} of {len(late)} answers were 429"
