"""One budget per tenant: a rate limit shared by processes, one access token shared by clients
(against the sandbox, over real HTTP)."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from crm_pipeline.servicetitan import ServiceTitanClient, errors
from crm_pipeline.servicetitan.adaptive import BudgetState
from crm_pipeline.servicetitan.auth import forget_shared_tokens
from crm_pipeline.servicetitan.ratelimit import STATE, rate_limit_folder
from crm_pipeline.settings import Settings
from crm_pipeline_tests.sandbox import Sandbox

CLIENT_RATE = 20.0
SERVER_RATE = 24.0  # slightly above the client's: only a shared budget keeps two processes under it
HAMMER_SECONDS = 3.0
FAST = dict(
    max_attempts=20,
    max_retry_seconds=30.0,
    backoff_base=0.01,
    backoff_cap=0.05,
    read_timeout=5.0,
    connect_timeout=2.0,
)

# One process of a run: THREADS threads ask for export and list pages from `start` (wall clock) for
# `seconds`, through one client; prints its counters and when its last request was answered.
HAMMER = """
import json, sys, time
from concurrent.futures import ThreadPoolExecutor
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import Settings

args = json.loads(sys.argv[1])
settings = Settings.from_env(args["env"])
with ServiceTitanClient(settings, **args["client"]) as client:
    time.sleep(max(0.0, args["start"] - time.time()))
    def hammer(i):
        while time.time() < args["start"] + args["seconds"]:
            if i % 2:
                client.get_json("customers", {"page": 1, "pageSize": 20})
            else:
                client.get_json("export/customers")
    with ThreadPoolExecutor(args["threads"]) as pool:
        list(pool.map(hammer, range(args["threads"])))
    ended = time.time()
    print(json.dumps({"ended": ended, "stats": client.stats}))
"""


@pytest.fixture(scope="module")
def box():
    with Sandbox(seed=5, sizes={"customers": 60}, page_size=20, token_ttl=900, rate_limit=None) as sandbox:
        yield sandbox


@pytest.fixture
def sb(box):
    box.faults.clear()
    box.clear_log()
    box.rate_limit, box.token_ttl = None, 900
    forget_shared_tokens()
    return box


def token_requests(sb: Sandbox) -> int:  # since the fixture cleared the log
    return sum(e.path == "/connect/token" for e in sb.request_log)


def hammer_from_processes(sb: Sandbox, rate_limit_dir: str | None, processes: int = 2, threads: int = 4):
    """Run `processes` hammering processes at once.

    Returns (API requests the sandbox saw, 429s among them, seconds)."""
    start = time.time() + 2.0  # every process has imported the client and is waiting by then
    client = {**FAST, "rate_limit": CLIENT_RATE, "rate_limit_dir": rate_limit_dir}
    arg = json.dumps(
        {"env": sb.env(), "client": client, "start": start, "seconds": HAMMER_SECONDS, "threads": threads}
    )
    sb.clear_log()
    procs = [
        subprocess.Popen([sys.executable, "-c", HAMMER, arg], stdout=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    reports = [json.loads(out) for out in outs]
    elapsed = max(r["ended"] for r in reports) - start
    api = [e for e in sb.request_log if e.path.startswith("/crm/")]
    assert sum(r["stats"]["requests"] for r in reports) == len(api)  # the sandbox saw every request
    return len(api), sum(e.status == 429 for e in api), elapsed


def test_processes_of_one_tenant_share_one_rate_limit(sb, tmp_path):
    sb.rate_limit = SERVER_RATE
    shared = rate_limit_folder(str(tmp_path / "data" / "crm.duckdb"))
    requests, limited, elapsed = hammer_from_processes(sb, shared)
    assert requests > CLIENT_RATE * HAMMER_SECONDS * 0.8, "the processes hardly sent anything: nothing tested"
    assert limited < 0.01 * requests
    # the server's bucket holds one second's burst: it serves at most SERVER_RATE * (1 + elapsed); the
    # processes together keep to the client's own rate, one budget for the tenant
    assert requests <= SERVER_RATE * (1 + elapsed)
    assert requests <= CLIENT_RATE * elapsed + 2
    files = os.listdir(shared)
    assert (
        os.path.dirname(shared) == str(tmp_path / "data") and stat.S_IMODE(os.stat(shared).st_mode) == 0o700
    )
    assert len(files) == 1 and stat.S_IMODE(os.stat(os.path.join(shared, files[0])).st_mode) == 0o600
    assert not any(s in files[0] for s in (sb.client_id, sb.client_secret, sb.app_key, sb.tenant_id))
    assert os.path.getsize(os.path.join(shared, files[0])) == STATE.size  # times and a rate, nothing else
    # without the shared folder each process keeps its own budget: together they exceed the server's limit
    sb.rate_limit = SERVER_RATE
    requests, limited, elapsed = hammer_from_processes(sb, None)
    assert limited >= 0.01 * requests and requests > CLIENT_RATE * elapsed + 2


def test_the_rate_one_client_learns_from_429s_is_every_client_s_of_the_tenant(sb, tmp_path):
    shared = str(tmp_path / "limits")
    settings = Settings.from_env(sb.env())
    with ServiceTitanClient(settings, rate_limit=CLIENT_RATE, rate_limit_dir=shared, **FAST) as first:
        sb.faults.add("429", count=1, path_contains="export/customers", retry_after=0)
        first.get_json("export/customers")  # one 429 among good answers: a blip, the rate stays
        assert first.stats["by_status"] == {429: 1, 200: 1} and first.rate == CLIENT_RATE
        sb.faults.add("429", count=3, path_contains="export/customers", retry_after=0)
        first.get_json("export/customers")  # 429s in a row: the budget is spent, the rate drops
        assert first.stats["by_status"] == {429: 4, 200: 2}
    (path,) = [os.path.join(shared, name) for name in os.listdir(shared)]
    with open(path, "rb") as file:  # the learned rate is in the shared file: the limit's estimate and when
        state = BudgetState(*STATE.unpack(file.read()))
    assert state.w_max < CLIENT_RATE and time.time() - 60 < state.last_drop <= time.time()
    with ServiceTitanClient(settings, rate_limit=CLIENT_RATE, rate_limit_dir=shared, **FAST) as later:
        rate = later.rate  # a later run starts where the others left the rate: on its curve back up
        assert rate == pytest.approx(state.rate(time.time(), CLIENT_RATE), rel=0.2)
        began = time.monotonic()
        for _ in range(4):
            later.get_json("customers")
        assert time.monotonic() - began >= 3 / CLIENT_RATE  # spaced by the budget (no faster than 20/s)
    with ServiceTitanClient(settings, rate_limit=CLIENT_RATE, **FAST) as own:  # no shared file: its own
        assert own.rate == CLIENT_RATE


def test_clients_of_one_tenant_in_one_process_share_one_token(sb):
    settings = Settings.from_env(sb.env())
    clients = [ServiceTitanClient(settings, rate_limit=None, share_token=True, **FAST) for _ in range(4)]
    try:
        with ThreadPoolExecutor(8) as pool:  # every client from two threads at once
            list(pool.map(lambda i: clients[i % 4].get_json("export/customers"), range(8)))
        assert token_requests(sb) == 1 and sum(c.stats["token_requests"] for c in clients) == 1
        clients[0].close()  # a later client (a later step of the run) still reuses the token
        with ServiceTitanClient(settings, rate_limit=None, share_token=True, **FAST) as later:
            later.get_json("customers")
            assert later.stats["token_requests"] == 0 and token_requests(sb) == 1
            sb.expire_tokens()  # refused: renewed once for all
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda c: c.get_json("export/customers"), [later, *clients[1:]]))
            assert token_requests(sb) == 2
            tokens = later._auth.seen_tokens
            assert len(tokens) == 2 and all(t not in later._auth.scrub(f"a {t} b") for t in tokens)
    finally:
        for c in clients:
            c.close()
    with ServiceTitanClient(settings, rate_limit=None, **FAST) as own:  # without share_token: its own token
        own.get_json("export/customers")
    assert own.stats["token_requests"] == 1 and token_requests(sb) == 3


def test_a_wrong_secret_does_not_borrow_the_shared_token(sb):
    settings = Settings.from_env(sb.env())
    with ServiceTitanClient(settings, rate_limit=None, share_token=True, **FAST) as good:
        good.get_json("export/customers")
    bad = dataclasses.replace(settings, client_secret="not-the-" + "secret-4k")
    with ServiceTitanClient(bad, rate_limit=None, share_token=True, **FAST) as client:
        with pytest.raises(errors.CredentialsRejected):
            client.get_json("export/customers")
    assert token_requests(sb) == 2 and client.stats["token_requests"] == 1
