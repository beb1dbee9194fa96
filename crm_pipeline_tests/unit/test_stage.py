"""The prefetch stage hands the GIL over sooner while pages flow, and gives the interpreter its own
interval back however the walk ends."""

from __future__ import annotations

import sys

import pytest

from crm_pipeline.ingest.stage import GIL_HANDOVER_SECONDS, prepared


def _pages(n: int, fail_at: int | None = None):
    def walk(stop):
        for i in range(n):
            if i == fail_at:
                raise RuntimeError("the walk broke")
            yield i

    return walk


@pytest.fixture
def interval():
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)  # not the default, so that a restore to the default is caught too
    yield 0.004
    sys.setswitchinterval(before)


def test_pages_flow_with_the_quick_handover_and_the_interval_comes_back(interval):
    seen = []
    for page in prepared(_pages(3), lambda p: p * 10):
        seen.append((page, sys.getswitchinterval()))
    assert seen == [(0, GIL_HANDOVER_SECONDS), (10, GIL_HANDOVER_SECONDS), (20, GIL_HANDOVER_SECONDS)]
    assert sys.getswitchinterval() == interval


def test_a_walk_that_breaks_or_is_left_early_gives_the_interval_back(interval):
    with pytest.raises(RuntimeError, match="the walk broke"):
        list(prepared(_pages(5, fail_at=2), lambda p: p))
    assert sys.getswitchinterval() == interval
    early = prepared(_pages(5), lambda p: p)
    assert next(early) == 0
    early.close()
    assert sys.getswitchinterval() == interval


def test_walks_at_once_share_the_handover_until_the_last_ends(interval):
    first, second = prepared(_pages(3), lambda p: p), prepared(_pages(3), lambda p: p)
    next(first), next(second)
    first.close()
    assert sys.getswitchinterval() == GIL_HANDOVER_SECONDS  # the second still runs
    second.close()
    assert sys.getswitchinterval() == interval
