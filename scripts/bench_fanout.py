"""A parent fan-out with the rate limit out of the way, against a plain client doing the same GETs: the
notes of every customer (one request each), from a sandbox in its own process, on the same machine.

    .venv/bin/python scripts/bench_fanout.py                  # 3,000 customers
    .venv/bin/python scripts/bench_fanout.py --customers 10000 --rounds 3

plain    16 threads, each with its own keep-alive httpx client, GET every customer's notes and parse them;
project  `sync_list` of `raw_list.customers_notes` (a whole walk) with no rate limit: the requests, the
         validation and the commits of the walk in one process, as its Dagster step runs them (the step's
         start-up, a second or two of Dagster and imports, is not counted).
Legs alternate `--rounds` times; the fastest of each is kept. Also a leg of `scripts/benchmark.py`.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_budget import start_sandbox  # noqa: E402

from crm_pipeline.catalog import endpoint  # noqa: E402
from crm_pipeline.ingest import sync_list  # noqa: E402
from crm_pipeline.servicetitan import ServiceTitanClient  # noqa: E402
from crm_pipeline.settings import Settings  # noqa: E402

THREADS = 16  # as many as the walk's workers (FanOutOptions.workers)
PAGE_SIZE = 5000


def plain_token(settings: Settings) -> str:
    form = {"grant_type": "client_credentials", "client_id": settings.client_id}
    form["client_secret"] = settings.client_secret
    resp = httpx.post(settings.auth_url, data=form)
    resp.raise_for_status()
    return resp.json()["access_token"]


def plain_seconds(settings: Settings, ids: list, token: str) -> float:
    """16 threads with a keep-alive client each: every customer's notes, parsed."""
    base = f"{settings.api_url}/crm/v2/tenant/{settings.tenant_id}/customers/"
    headers = {"Authorization": f"Bearer {token}", "ST-App-Key": settings.app_key}
    local, clients = threading.local(), []

    def notes(customer_id) -> int:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(headers=headers)
            clients.append(client)
        resp = client.get(f"{base}{customer_id}/notes", params={"page": 1, "pageSize": PAGE_SIZE})
        resp.raise_for_status()
        return len(resp.json()["data"])

    began = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        sum(pool.map(notes, ids))
    seconds = time.perf_counter() - began
    for client in clients:
        client.close()
    return seconds


def project_seconds(settings: Settings, conn: duckdb.DuckDBPyConnection) -> tuple[float, int]:
    """A whole walk of the customers' notes without a rate limit: (seconds, requests)."""
    with ServiceTitanClient(settings, rate_limit=None) as client:
        began = time.perf_counter()
        result = sync_list(
            client, conn, endpoint("raw_list.customers_notes"), tenant_id=settings.tenant_id, full=True
        )
        seconds = time.perf_counter() - began
    if result.has_more or result.parents_done != result.parents_planned:
        raise RuntimeError(f"the walk stopped short: {result.parents_done} of {result.parents_planned}")
    return seconds, result.requests


def bench_fanout(customers: int, rounds: int = 2) -> dict:
    proc, env = start_sandbox(customers, PAGE_SIZE)
    try:
        settings = Settings.from_env(env)
        conn = duckdb.connect()
        with ServiceTitanClient(settings, rate_limit=None) as client:
            sync_list(client, conn, endpoint("raw_list.customers"), tenant_id=settings.tenant_id)
        token = plain_token(settings)
        ids = [row[0] for row in conn.execute("SELECT id FROM raw_list.customers").fetchall()]
        plain, project = [], []
        for _ in range(rounds):
            plain.append(plain_seconds(settings, ids, token))
            seconds, requests = project_seconds(settings, conn)
            project.append(seconds)
    finally:
        proc.terminate()
        proc.wait()
    return {
        "requests": requests,
        "plain_per_s": len(ids) / min(plain),
        "project_per_s": requests / min(project),
        "ratio": (requests / min(project)) / (len(ids) / min(plain)),
    }


def report(r: dict) -> str:
    return (
        f"fan-out without a rate limit: {r['requests']} requests, project {r['project_per_s']:.0f}/s, "
        f"{THREADS} plain httpx threads {r['plain_per_s']:.0f}/s: project/plain {r['ratio']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(report(bench_fanout(args.customers, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
