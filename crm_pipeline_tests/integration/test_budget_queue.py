"""When the budget's rate drops, the requests already waiting for a slot go out at the new rate: their
slots were spaced at the rate the 429s refused (with many threads, seconds of them)."""

from __future__ import annotations

import threading
import time

import pytest

from crm_pipeline.servicetitan.pgbudget import PostgresRateLimiter
from crm_pipeline.servicetitan.ratelimit import RateLimiter, SharedRateLimiter
from crm_pipeline_tests.e2e.test_shared_budget_postgres import budget_db  # noqa: F401 (a fixture)

CEILING = 50.0
WAITING = 40


def _limiter(kind: str, tmp_path, request):
    if kind == "own":
        return RateLimiter(CEILING)
    if kind == "file":
        return SharedRateLimiter(CEILING, str(tmp_path / "budget"))
    return PostgresRateLimiter(CEILING, dsn=request.getfixturevalue("budget_db"), key="queue-test")


@pytest.mark.parametrize("kind", ["own", "file", "postgres"])
def test_the_requests_waiting_at_a_drop_go_out_at_the_new_rate(kind, tmp_path, request):
    limiter = _limiter(kind, tmp_path, request)
    slots: list = []
    lock = threading.Lock()

    def request() -> None:
        slot = limiter.acquire()
        with lock:
            slots.append(slot)

    threads = [threading.Thread(target=request) for _ in range(WAITING)]
    for thread in threads:
        thread.start()
    while len(slots) < 10:  # the queue, spaced at the ceiling, is under way
        time.sleep(0.005)
    with lock:
        sent = list(slots)
    for slot in sent[:7]:
        limiter.answered(slot, throttled=False)
    for slot in sent[7:10]:  # three 429s in a row: the server's limit
        limiter.answered(slot, throttled=True)
    dropped_at = time.monotonic() if kind == "own" else time.time()  # the budget's clock
    rate = limiter.rate
    for thread in threads:
        thread.join(timeout=30)
    limiter.close()
    assert rate < 0.8 * CEILING, f"the rate did not drop ({rate})"
    later = sorted(s.at for s in slots if s.at > dropped_at)
    assert len(later) >= WAITING // 2, "the queue went out before the drop: nothing tested"
    mean_gap = (later[-1] - later[0]) / (len(later) - 1)
    assert mean_gap >= 0.9 / rate, f"after the drop to {rate:.1f}/s requests went {1 / mean_gap:.1f}/s"
