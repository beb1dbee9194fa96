"""Benchmark: the project against a floor and a baseline, on the same sandbox data, in one run.

    .venv/bin/python scripts/benchmark.py                 # N = 300,000 customers
    .venv/bin/python scripts/benchmark.py --sizes 100000 1000000

For each N it starts the sandbox in its own process and measures:
  floor     fetch every page of export/customers and parse it, nothing else (scripts/bench_loaders.py);
  baseline  the fastest simple loader: each page into DuckDB by `read_json` with the columns and their
            types given, unnested and inserted, all in one transaction, no validation (bench_loaders.py);
  project   `dg launch --assets raw_export/customers` with the defaults (the step's duration as Dagster
            records it, and the command's peak RSS); baseline and project in turn, LOAD_ROUNDS times,
            each into a new file: project/baseline is the median of the rounds' ratios;
  tail      the same command after 100 changed records;
  history   `project` with CRM_HISTORY=off against on (each into a new file, twice, the faster kept): on/off,
            and on against the baseline;
  large history  an incremental run (100 changes) into one of those files after `--versions` older
            versions were written into its history, against one into the other (scripts/bench_history.py);
  storage   `project` in the newest storage format (CRM_DUCKDB_STORAGE_VERSION=latest) against the
            default older one that the analysts' DuckDB CLI reads: default/latest;
  lake      with --lake-server (a libpq string of a PostgreSQL server, e.g. `"$(bash scripts/postgres.sh)"`):
            project and tail again into a DuckLake whose catalog is a new database on that server;
  lake on S3  with --lake-server and --object-store: the same into a DuckLake whose data is in a bucket of
            moto's S3 server, started on loopback for the run (crm_pipeline_tests/object_store.py);
and once per server limit (60/s, the documented one, and 20/s), the parent-scoped collections against
the sandbox limiting at it, the client at its default budget (scripts/bench_budget.py); and a parent
fan-out without a rate limit against 16 plain threaded httpx clients doing the same GETs
(scripts/bench_fanout.py).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import nullcontext
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_budget import bench_parents, report, start_sandbox  # noqa: E402
from bench_fanout import bench_fanout  # noqa: E402
from bench_fanout import report as fanout_report  # noqa: E402
from bench_history import large_history_tails, seed_versions  # noqa: E402
from bench_loaders import baseline, floor  # noqa: E402

from crm_pipeline.settings import Settings  # noqa: E402
from crm_pipeline_tests.object_store import moto_server  # noqa: E402


def project(
    env: dict, workdir: Path, home: Path, database: str = "project.duckdb", storage: dict | None = None
) -> tuple[float, float]:
    """Materialize raw_export/customers with the Dagster CLI into `database` (in `workdir`), with `env`
    over the environment; (step seconds, peak RSS MB of the command). `storage`: CRM_DUCKDB_PATH (and
    CRM_DUCKLAKE_DATA_PATH) instead of a DuckDB file in `workdir`."""
    wrapper = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    dg = str(Path(sys.executable).parent / "dg")  # the project's own code location, as a user launches it
    command = [sys.executable, "-c", wrapper, dg, "launch", "--assets", "raw_export/customers"]
    run_env = {
        **os.environ,
        **env,
        "CRM_DUCKDB_PATH": str(workdir / database),
        "DAGSTER_HOME": str(home),
        **(storage or {}),
    }
    done = subprocess.run(command, env=run_env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    peak_mb = int(re.search(r"MAXRSS (\d+)", done.stdout)[1]) / 1024
    return _step_seconds(home), peak_mb


def _step_seconds(home: Path) -> float:
    """The duration Dagster recorded for the step (STEP_SUCCESS) that loads the selected export feed: the
    sync, the row count and its last checkpoint included."""
    from dagster import DagsterEventType, DagsterInstance

    from crm_pipeline.defs.servicetitan.export_assets import EXPORT_OP  # the export feeds' step

    os.environ["DAGSTER_HOME"] = str(home)
    with DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        events = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_SUCCESS)
        step = next(e for e in events if e.step_key == EXPORT_OP)
        return step.dagster_event.event_specific_data.duration_ms / 1000


def timed(fn, *args):
    began = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - began


def lake_storage(server: str, workdir: Path) -> dict:
    """A new catalog database on `server` and a data folder in `workdir`, as the lake's settings."""
    import psycopg2

    name = f"crm_bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(f"{server} dbname=postgres")
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    admin.close()
    return {
        "CRM_DUCKDB_PATH": f"ducklake:postgres:{server} dbname={name}",
        "CRM_DUCKLAKE_DATA_PATH": str(workdir / "lake"),
    }


def bench_large_history(env: dict, settings: Settings, *, work: Path, home: Path, versions: int) -> dict:
    """An incremental run into a file whose history holds `versions` versions against one into a file
    loaded alike with a small history (scripts/bench_history.py); the files of `variant_seconds`."""
    small, large = "history_on_0.duckdb", "history_on_1.duckdb"
    held = seed_versions(work / large, versions)

    def run(database: str) -> float:
        return project(env, work, home, database=database)[0]

    small_s, large_s = large_history_tails(run, settings.api_url, small=small, large=large)
    return {"history_versions": held, "tail_small_history_s": small_s, "tail_large_history_s": large_s}


def lake_leg(env: dict, settings: Settings, storage: dict, work: Path, home: Path, name: str) -> dict:
    """A whole load and a tail of 100 changes into the lake of `storage`, as `{name}_s` and so on."""
    seconds, peak_mb = project(env, work, home, storage=storage)
    httpx.post(f"{settings.api_url}/_sandbox/change", json={"feed": "export/customers", "n": 100})
    tail_s, _ = project(env, work, home, storage=storage)
    return {f"{name}_s": seconds, f"{name}_peak_rss_mb": peak_mb, f"{name}_tail_s": tail_s}


def bench_lake(env: dict, settings: Settings, server: str, work: Path, home: Path, store=None) -> dict:
    """The lake with its data in a local folder; with `store` (an ObjectStore), in one of its buckets too."""
    legs = lake_leg(env, settings, lake_storage(server, work), work, home, "lake")
    if store is not None:
        on_s3 = {**lake_storage(server, work), **store.env()}
        on_s3["CRM_DUCKLAKE_DATA_PATH"] = f"s3://{store.create_bucket()}/data/"
        legs |= lake_leg(env, settings, on_s3, work, home, "lake_s3")
    return legs


def bench_size(
    n: int, page_size: int, lake_server: str | None = None, versions: int = 1_000_000, store=None
) -> dict:
    proc, env = start_sandbox(n, page_size)
    try:
        settings = Settings.from_env(env)
        with tempfile.TemporaryDirectory() as tmp:
            work, home = Path(tmp), Path(tmp) / "dagster_home"
            home.mkdir()
            (home / "dagster.yaml").write_text("")
            records, floor_s = timed(floor, settings)
            loads = [load_round(settings, env, work=work, home=home, number=r) for r in range(LOAD_ROUNDS)]
            base_records = loads[0]["baseline_records"]
            base_s, project_s = (statistics.median(x[k] for x in loads) for k in ("baseline_s", "project_s"))
            peak_mb = max(x["peak_mb"] for x in loads)
            httpx.post(f"{settings.api_url}/_sandbox/change", json={"feed": "export/customers", "n": 100})
            tail_s, _ = project(env, work, home)
            variants = variant_seconds(env, work, home)
            history = bench_large_history(env, settings, work=work, home=home, versions=versions)
            lake = bench_lake(env, settings, lake_server, work, home, store) if lake_server else {}
    finally:
        proc.terminate()
        proc.wait()
    return {
        "n": records,
        "floor_rps": records / floor_s,
        "baseline_rps": base_records / base_s,
        "project_rps": records / project_s,
        "project_s": project_s,
        "baseline_s": base_s,
        "floor_s": floor_s,
        "project_vs_baseline": statistics.median(x["project_s"] / x["baseline_s"] for x in loads),
        "rounds_vs_baseline": [x["project_s"] / x["baseline_s"] for x in loads],
        "project_vs_floor": project_s / floor_s,
        "peak_rss_mb": peak_mb,
        "tail_s": tail_s,
        **lake,
        "history_on_s": variants["history on"],
        "history_off_s": variants["history off"],
        "history_on_vs_off": variants["history on"] / variants["history off"],
        "history_on_vs_baseline": variants["history on"] / base_s,
        **history,
        "default_vs_latest_storage": variants["history on"] / variants["latest storage"],
    }


LOAD_ROUNDS = 3  # a single load against a single load moves by some 8% from run to run on a shared VM


def load_round(settings: Settings, env: dict, *, work: Path, home: Path, number: int) -> dict:
    """The baseline and the project's first load, each into a new file, in turn (the first of them
    alternating from round to round); the first round's project file is the one later runs continue."""
    (work / "baseline.duckdb").unlink(missing_ok=True)
    database = "project.duckdb" if number == 0 else f"project_round_{number}.duckdb"
    if number % 2 == 0:
        base_records, base_s = timed(baseline, settings, work)
        project_s, peak_mb = project(env, work, home, database)
    else:
        project_s, peak_mb = project(env, work, home, database)
        base_records, base_s = timed(baseline, settings, work)
    return {
        "baseline_records": base_records,
        "baseline_s": base_s,
        "project_s": project_s,
        "peak_mb": peak_mb,
    }


VARIANTS = {
    "history on": {"CRM_HISTORY": "on"},
    "history off": {"CRM_HISTORY": "off"},
    "latest storage": {"CRM_HISTORY": "on", "CRM_DUCKDB_STORAGE_VERSION": "latest"},
}


def variant_seconds(env: dict, work: Path, home: Path, rounds: int = 2) -> dict[str, float]:
    """A whole load of the same data into a new file per variant, the variants alternating; each one's
    fastest."""
    best: dict[str, float] = {}
    for r in range(rounds):
        for name, extra in VARIANTS.items():
            seconds, _ = project(
                {**env, **extra}, work, home, database=f"{name.replace(' ', '_')}_{r}.duckdb"
            )
            best[name] = min(seconds, best.get(name, seconds))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[300_000])
    parser.add_argument(
        "--versions", type=int, default=1_000_000, help="versions in the large history of the incremental leg"
    )
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument(
        "--parents", type=int, default=2000, help="customers for the parent-scoped measure (0: skip)"
    )
    parser.add_argument(
        "--rate-limits", type=float, nargs="+", default=[60.0, 20.0], help="server limits of the parent leg"
    )
    parser.add_argument("--lake-server", help="libpq string of a PostgreSQL server: adds the DuckLake leg")
    parser.add_argument(
        "--object-store", action="store_true", help="with --lake-server: the lake's data on S3 (moto) too"
    )
    parser.add_argument(
        "--fanout-customers", type=int, default=3000, help="customers of the unlimited fan-out leg (0: skip)"
    )
    args = parser.parse_args()
    with moto_server() if args.object_store and args.lake_server else nullcontext() as store:
        for n in args.sizes:
            report_size(bench_size(n, args.page_size, args.lake_server, versions=args.versions, store=store))
    for limit in args.rate_limits if args.parents else []:
        print(report(bench_parents(args.parents if limit >= 60 else args.parents // 3, limit)), flush=True)
    if args.fanout_customers:
        print(fanout_report(bench_fanout(args.fanout_customers, rounds=3)), flush=True)
    print(json.dumps({"machine": f"{os.cpu_count()} cores", "python": sys.version.split()[0]}))


def report_size(r: dict) -> None:
    print(
        f"N={r['n']:>9,}  floor {r['floor_rps']:>9,.0f} rec/s | "
        f"baseline {r['baseline_rps']:>9,.0f} rec/s | project {r['project_rps']:>9,.0f} rec/s | "
        f"project/baseline {r['project_vs_baseline']:.2f} (median of "
        f"{', '.join(f'{x:.2f}' for x in r['rounds_vs_baseline'])}) | "
        f"project/floor {r['project_vs_floor']:.2f} | "
        f"peak RSS {r['peak_rss_mb']:.0f} MB | 100 changes {r['tail_s']:.2f} s | "
        f"storage default/latest {r['default_vs_latest_storage']:.2f}",
        flush=True,
    )
    large = r["tail_large_history_s"]
    print(
        f"  history on {r['history_on_s']:.2f} s, off {r['history_off_s']:.2f} s: on/off "
        f"{r['history_on_vs_off']:.2f}, on/baseline {r['history_on_vs_baseline']:.2f} | 100 changes: "
        f"{r['tail_small_history_s']:.2f} s, at a history of {r['history_versions']:,} versions "
        f"{large:.2f} s ({large / r['tail_small_history_s']:.2f}x)",
        flush=True,
    )
    if "lake_s" in r:
        print(
            f"  DuckLake: project {r['n'] / r['lake_s']:>9,.0f} rec/s ({r['lake_s']:.1f} s, file "
            f"{r['project_s']:.1f} s) | peak RSS {r['lake_peak_rss_mb']:.0f} MB | "
            f"100 changes {r['lake_tail_s']:.2f} s",
            flush=True,
        )
    if "lake_s3_s" in r:
        print(
            f"  DuckLake, data on S3 (moto on loopback): project {r['n'] / r['lake_s3_s']:>9,.0f} rec/s "
            f"({r['lake_s3_s']:.1f} s; {r['lake_s3_s'] / r['project_s']:.2f}x the file's, "
            f"{r['lake_s3_s'] / r['lake_s']:.2f}x the local-folder lake's) | peak RSS "
            f"{r['lake_s3_peak_rss_mb']:.0f} MB | 100 changes {r['lake_s3_tail_s']:.2f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
