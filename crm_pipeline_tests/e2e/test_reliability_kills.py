"""Runs killed with SIGKILL, with real processes: the `dagster` CLI as a user (or the daemon) runs it.

The sandbox runs in the test process; `dg launch` runs in its own session and
is killed with its whole process group (the step subprocess included) at random moments after its
first requests, three times in a row, then a fourth run goes to the end. After every kill:
- the DuckDB file opens read-write at once (no stale lock) and the raw table holds exactly the
  records of the pages up to the stored cursor (a page and its cursor commit together, or neither);
- no process of the killed run is left.
After the fourth run the table is exact, and the cursor is the feed's last continueFrom.

With the instance settings shipped in dagster_home/dagster.yaml, a killed run must not leave
anything behind that blocks the next run (such as a concurrency pool slot).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb

from crm_pipeline.catalog import endpoint
from crm_pipeline.settings import Settings
from crm_pipeline.storage import read_position
from crm_pipeline_tests.cli_runs import group_is_gone, materialize_command
from crm_pipeline_tests.compare import differences
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.sandbox import Sandbox

CUSTOMERS = endpoint("export/customers")
COMMAND = materialize_command("raw_export/customers")
RUN_TIMEOUT = 120


def feed_requests(sb) -> int:
    return sum(e.path.endswith("/export/customers") for e in sb.request_log)


def walk(settings: Settings) -> list[tuple[str, set]]:
    """(continueFrom, ids) of every page of the feed, from the start (the data does not change here)."""
    with make_client(settings, rate_limit=None) as client:
        return [(p.continue_from, {r["id"] for r in p.data}) for p in client.export_pages(CUSTOMERS.path)]


def committed_state(settings: Settings, pages: list[tuple[str, set]]) -> tuple[int, int]:
    """Open the file read-write (fails if a lock was left) and check rows match the stored cursor.

    Returns (pages committed, rows stored)."""
    with duckdb.connect(settings.duckdb_path) as conn:  # read-write: no other process may hold it
        tables = conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'raw_export' "
            "AND table_name = 'customers'"
        ).fetchone()[0]
        stored = conn.execute("SELECT id FROM raw_export.customers").fetchall() if tables else []
        position = read_position(conn, settings.tenant_id, CUSTOMERS.path) if tables else None
    ids = {row[0] for row in stored}
    if position is None:
        assert ids == set(), "rows were stored without their cursor"
        return 0, 0
    cursors = [cont for cont, _ in pages]
    assert position.position in cursors, f"the stored cursor {position.position!r} is no page's continueFrom"
    done = cursors.index(position.position) + 1
    expected = set().union(*(page_ids for _, page_ids in pages[:done]))
    assert ids == expected, f"{len(ids)} rows stored, {len(expected)} in the {done} pages up to the cursor"
    assert position.has_more == (done < len(pages))
    return done, len(ids)


def test_three_sigkills_then_a_run_to_the_end_leave_the_table_exact(tmp_path):
    home = tmp_path / "dagster_home"  # no instance settings: the next test covers the shipped ones
    home.mkdir()
    rng = random.Random(20240601)
    with Sandbox(seed=31, sizes={"customers": 320}, page_size=8) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        env = {**os.environ, **sb.env(), "CRM_DUCKDB_PATH": settings.duckdb_path, "DAGSTER_HOME": str(home)}
        pages = walk(settings)
        assert len(pages) >= 40
        # a light fault mix, so that kills also land in retries and waits (production backoff in the CLI)
        sb.faults.set_rates(
            {"429": 0.02, "500": 0.02, "truncate": 0.02, "slow": 0.03}, seed=7, retry_after=0, delay=0.4
        )
        progress = []
        for attempt in range(3):
            sb.clear_log()
            kill_after = rng.randint(2, 8)  # requests of the feed: the first pages are being committed
            with open(tmp_path / f"run{attempt}.log", "wb") as out:
                proc = subprocess.Popen(
                    COMMAND, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                )
                deadline = time.monotonic() + RUN_TIMEOUT
                while feed_requests(sb) < kill_after and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.02)
                time.sleep(rng.uniform(0, 0.3))  # anywhere: fetching, validating, committing, logging
                assert proc.poll() is None, (
                    f"run {attempt} ended before it could be killed:\n"
                    + (tmp_path / f"run{attempt}.log").read_text()[-3000:]
                )
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            assert group_is_gone(proc.pid), "a process of the killed run is still alive"
            progress.append(committed_state(settings, pages))
        assert progress[-1][0] < len(pages), "the killed runs already got to the end: kill earlier"
        assert [p for p, _ in progress] == sorted(p for p, _ in progress), "a resumed run went backwards"
        assert progress[-1][0] > 0, "no page was ever committed before a kill"
        sb.faults.clear()
        last = subprocess.run(COMMAND, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert last.returncode == 0, last.stdout[-2000:] + last.stderr[-3000:]
        assert committed_state(settings, pages) == (len(pages), len(sb.records(CUSTOMERS.path)))
        with duckdb.connect(settings.duckdb_path) as conn:
            assert differences(conn, CUSTOMERS, settings.tenant_id, sb.records(CUSTOMERS.path)) == []
            assert read_position(conn, settings.tenant_id, CUSTOMERS.path).position == pages[-1][0]
            assert conn.execute("SELECT count(*) FROM pipeline_state.quarantine").fetchone()[0] == 0


SHIPPED_INSTANCE = Path(__file__).resolve().parents[2] / "dagster_home" / "dagster.yaml"


def test_with_the_shipped_instance_settings_a_killed_run_leaves_no_pool_slot_behind(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(SHIPPED_INSTANCE, home / "dagster.yaml")
    with Sandbox(seed=32, sizes={"customers": 300}, page_size=5) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        env = {**os.environ, **sb.env(), "CRM_DUCKDB_PATH": settings.duckdb_path, "DAGSTER_HOME": str(home)}
        sb.faults.set_rates({"slow": 0.2}, seed=1, delay=0.2)  # a few seconds of run to kill
        killed = subprocess.Popen(
            COMMAND, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + RUN_TIMEOUT
        while feed_requests(sb) < 3 and killed.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert killed.poll() is None, "the run ended before it could be killed"
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        assert group_is_gone(killed.pid)
        sb.faults.clear()
        sb.clear_log()
        with open(tmp_path / "next.log", "wb") as out:  # the next run, as the sensor or a user would start it
            following = subprocess.Popen(
                COMMAND, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
            try:
                deadline, blocked_since = time.monotonic() + RUN_TIMEOUT, None
                while following.poll() is None and time.monotonic() < deadline:
                    blocked = b"blocked by limit for pool" in (tmp_path / "next.log").read_bytes()
                    if blocked and feed_requests(sb) == 0:
                        blocked_since = blocked_since or time.monotonic()
                        if time.monotonic() - blocked_since > 3:
                            break  # waiting on a slot nobody will free
                    time.sleep(0.1)
            finally:
                if following.poll() is None:
                    os.killpg(following.pid, signal.SIGKILL)
                following.wait(timeout=30)
        assert following.returncode == 0, (
            "the next run did not finish: " + (tmp_path / "next.log").read_text()[-600:]
        )
        assert committed_state(settings, walk(settings))[1] == len(sb.records(CUSTOMERS.path))
