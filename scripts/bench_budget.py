"""The parent-scoped collections against a sandbox that limits its requests/s: how much of the server's
limit the client's adaptive budget uses, with its ceiling at the documented 60/s and its budget shared
through a file as the Dagster resource shares it. Also a leg of `scripts/benchmark.py`.

    .venv/bin/python scripts/bench_budget.py                  # server limits of 60/s and 20/s
    .venv/bin/python scripts/bench_budget.py --limits 30 --seconds 60
    .venv/bin/python scripts/bench_budget.py --postgres "$(bash scripts/postgres.sh)"   # also shared in PG

Each leg walks the notes of as many customers as the limit allows in about `--seconds`; its share is the
requests the server accepted (all but its 429s) per second of the walk, over the server's limit.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from crm_pipeline.catalog import endpoint  # noqa: E402
from crm_pipeline.ingest import sync_list  # noqa: E402
from crm_pipeline.servicetitan import ServiceTitanClient  # noqa: E402
from crm_pipeline.settings import Settings  # noqa: E402

CEILING = 60.0  # the documented limit: the client's default budget


def start_sandbox(
    customers: int, page_size: int, rate_limit: float | None = None
) -> tuple[subprocess.Popen, dict]:
    """The sandbox in its own process; the settings it prints."""
    command = [sys.executable, "-m", "crm_pipeline_tests.sandbox", "--port", "0"]
    command += ["--customers", str(customers), "--page-size", str(page_size)]
    command += ["--rate-limit", str(rate_limit)] if rate_limit else []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    env = {}
    while len(env) < 6:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox did not start")
        match = re.match(r"export (\w+)=(.*)", line.strip())
        if match:
            env[match[1]] = match[2].strip("'")
    return proc, env


def bench_parents(customers: int, limit: float, postgres: str | None = None) -> dict:
    """The notes of ``customers`` customers from a sandbox limiting at ``limit`` requests/s; the budget in
    the PostgreSQL database ``postgres`` names (as every machine shares it) instead of a file."""
    proc, env = start_sandbox(customers, 5000, rate_limit=limit)
    try:
        settings = Settings.from_env(env)
        conn = duckdb.connect()
        with (
            tempfile.TemporaryDirectory() as shared,
            ServiceTitanClient(
                settings, rate_limit=CEILING, rate_limit_dir=shared, rate_limit_postgres=postgres
            ) as client,
        ):
            sync_list(client, conn, endpoint("raw_list.customers"), tenant_id=settings.tenant_id)
            result = sync_list(
                client, conn, endpoint("raw_list.customers_notes"), tenant_id=settings.tenant_id, full=True
            )
    finally:
        proc.terminate()
        proc.wait()
    accepted = (result.api.requests - result.api.requests_429) / result.seconds
    return {
        "parents_requests": result.requests,
        "requests_429": result.api.requests_429,
        "accepted_per_s": accepted,
        "settled_rate": result.api.settled_rate,
        "limit": limit,
        "share": accepted / limit,
        "budget": "in PostgreSQL" if postgres else "in a file",
    }


def report(p: dict) -> str:
    return (
        f"parent-scoped at a server limit of {p['limit']:g}/s (client ceiling {CEILING:g}/s, budget "
        f"{p.get('budget', 'in a file')}): "
        f"{p['parents_requests']} requests, {p['requests_429']} answered 429, {p['accepted_per_s']:.1f}/s "
        f"accepted = {100 * p['share']:.0f}% of the limit, budget settled at {p['settled_rate']:.1f}/s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limits", type=float, nargs="+", default=[CEILING, 20.0])
    parser.add_argument("--seconds", type=float, default=30.0, help="about how long each leg walks")
    parser.add_argument("--postgres", help="libpq string: each leg again with the budget in that database")
    args = parser.parse_args()
    for postgres in [None, args.postgres] if args.postgres else [None]:
        for limit in args.limits:
            print(report(bench_parents(int(limit * args.seconds), limit, postgres)), flush=True)


if __name__ == "__main__":
    main()
