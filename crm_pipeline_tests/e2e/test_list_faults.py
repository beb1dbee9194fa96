"""The whole list group, parent fan-outs included, under the issue's fault mix (#18, point 2), through
Dagster: 5 % 429s with Retry-After, 3 % 500s, 2 % bodies cut off, 1 % slow answers, a server limit of 20
requests/s and tokens that live 15 s. Every list table ends exactly as the sandbox serves it, with no
duplicate keys."""

from __future__ import annotations

import time

import duckdb
import pytest

from crm_pipeline.catalog import LIST_ENDPOINTS
from crm_pipeline.settings import Settings
from crm_pipeline_tests.faults import ISSUE_RATES, api_log, assert_exact
from crm_pipeline_tests.list_runs import materialize_lists
from crm_pipeline_tests.sandbox import Sandbox

CHILDREN = [ep for ep in LIST_ENDPOINTS if ep.parent is not None]


@pytest.fixture
def faulty(monkeypatch, tmp_path):
    """A sandbox with the issue's limits, its settings exported, and the run's Settings."""
    with Sandbox(seed=41, sizes={"customers": 40}, page_size=20, token_ttl=15, rate_limit=20) as sb:
        env = {**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        yield sb, Settings.from_env(env)


def test_the_list_group_lands_exactly_under_the_issue_fault_mix(faulty, instance):
    sb, settings = faulty
    sb.faults.set_rates(ISSUE_RATES, seed=3, retry_after=1, delay=2.5)
    # each kind met at least once on a fan-out, whatever the dice say
    for kind, ep in zip(ISSUE_RATES, CHILDREN, strict=False):
        sb.faults.add(kind, count=1, path_contains="/" + ep.path.rsplit("/", 1)[-1], retry_after=1, delay=2.5)
    began = time.monotonic()
    result = materialize_lists(settings, instance)
    elapsed = time.monotonic() - began
    faults = [e.fault for e in api_log(sb)]
    sb.faults.clear()
    assert result.success
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        assert_exact(conn, sb, settings.tenant_id, LIST_ENDPOINTS)
    for kind in ("429", "500", "truncate", "slow", "rate_limit"):
        assert kind in faults, f"the run met no {kind!r} fault: the test proves nothing about it"
    fanned_out = {e.path.split("/")[-1] for e in api_log(sb) if e.fault}
    assert len(fanned_out) >= 3, f"faults hit only {fanned_out}"
    assert elapsed > 15, "the run must outlive a token for the 15 s token lifetime to be tested"
