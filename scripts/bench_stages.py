"""Where a load's time goes: an in-process sync of export/customers with each stage's wall and CPU time.

    .venv/bin/python scripts/bench_stages.py                  # 300,000 customers, two loads
    .venv/bin/python scripts/bench_stages.py --customers 100000 --rounds 3

Each load goes into a new file with the step's storage settings (the `duckdb` resource's raw-table store).
For the three stages of docs/PERFORMANCE.md it prints the wall seconds spent in them and the CPU seconds
of the thread running them: fetch (the client's requests, in the prefetch thread), prepare (validation and
the Arrow layout, same thread) and commit (DuckDB, the caller's thread); then the whole sync, the process's
CPU and the sandbox's. A stage whose wall time is well above its CPU time waits: on the server, on the GIL
or on a core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_budget import start_sandbox  # noqa: E402

import crm_pipeline.ingest.export as export  # noqa: E402
from crm_pipeline.catalog import endpoint  # noqa: E402
from crm_pipeline.defs.resources import CrmDuckDB  # noqa: E402
from crm_pipeline.ingest import sync_export  # noqa: E402
from crm_pipeline.servicetitan import ServiceTitanClient  # noqa: E402
from crm_pipeline.settings import Settings  # noqa: E402
from crm_pipeline.storage.stream import StreamStorage  # noqa: E402

SPENT: dict[str, float] = defaultdict(float)
STAGES = ("fetch", "prepare", "commit")


def timed(owner, name: str, stage: str) -> None:
    """Wrap `owner.name` to add its wall and thread CPU seconds to SPENT[stage]."""
    wrapped = getattr(owner, name)

    def stage_call(*args, **kwargs):
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return wrapped(*args, **kwargs)
        finally:
            SPENT[stage] += time.perf_counter() - wall
            SPENT[f"{stage} cpu"] += time.thread_time() - cpu

    setattr(owner, name, stage_call)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_load(settings: Settings, sandbox_pid: int) -> str:
    SPENT.clear()
    with tempfile.TemporaryDirectory() as tmp:
        duckdb = CrmDuckDB(database=f"{tmp}/load.duckdb")
        with ServiceTitanClient(settings) as client:
            began, mine, theirs = time.perf_counter(), cpu_seconds(os.getpid()), cpu_seconds(sandbox_pid)
            store, feed = duckdb.raw_table_store(), endpoint("export/customers")
            sync_export(client, store, feed, tenant_id=settings.tenant_id)
            wall = time.perf_counter() - began
            process, sandbox = cpu_seconds(os.getpid()) - mine, cpu_seconds(sandbox_pid) - theirs
        duckdb.shared_file().close()
    stages = ", ".join(f"{s} {SPENT[s]:.2f} s (CPU {SPENT[s + ' cpu']:.2f})" for s in STAGES)
    return f"sync {wall:.2f} s | {stages} | process CPU {process:.2f} s, sandbox CPU {sandbox:.2f} s"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=2, help="loads, each into a new file (first: cold)")
    args = parser.parse_args()
    timed(ServiceTitanClient, "_get", "fetch")
    timed(export, "prepare_page", "prepare")
    timed(StreamStorage, "commit_page", "commit")
    sandbox, env = start_sandbox(args.customers, 5000)
    try:
        settings = Settings.from_env(env)
        for _ in range(args.rounds):
            print(one_load(settings, sandbox.pid), flush=True)
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
