"""Runs of the real `dg` CLI in their own process groups, against a sandbox, with DAGSTER_HOME in a temp
folder: started, waited for, or killed with SIGKILL (the walk, the kill and the side-by-side tests)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from crm_pipeline.defs.servicetitan.jobs import list_run_config

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT = 120


def cli_env(sandbox, database: str, home: Path, **extra: str) -> dict:
    """The environment of a CLI run: the sandbox's settings, the DuckDB file, a DAGSTER_HOME of its own."""
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, **sandbox.env(), "CRM_DUCKDB_PATH": database, "DAGSTER_HOME": str(home), **extra}


def prepare_home(env: dict) -> None:
    """Create the instance's storage first (two processes creating a brand-new one at once race in
    Dagster's migrations; see test_concurrent_writers.both)."""
    dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()


def materialize_command(selection: str, *extra: str) -> list[str]:
    """`dg launch --assets` of `selection` in the project folder, as a user runs it (more arguments after
    it: a partition, run config); dg of the test's own environment."""
    return [str(Path(sys.executable).parent / "dg"), "launch", "--assets", selection, *extra]


def start(selection: str, env: dict, log: Path, *, full_walk: bool | None = None) -> subprocess.Popen:
    command = materialize_command(selection)
    if full_walk is not None:
        command += ["--config-json", json.dumps(list_run_config(full_walk=full_walk))]
    with open(log, "wb") as out:
        return subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def finish(proc: subprocess.Popen, log: Path, timeout: float = RUN_TIMEOUT) -> None:
    """Wait for a run; it must succeed (killed, with its log in the message, if it does not end in time)."""
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == 0, log.read_text()[-4000:]


def run(selection: str, env: dict, log: Path, *, full_walk: bool | None = None) -> None:
    finish(start(selection, env, log, full_walk=full_walk), log)


def kill_when(proc: subprocess.Popen, log: Path, ready, timeout: float = RUN_TIMEOUT) -> None:
    """SIGKILL the run's whole process group once `ready()` is true; it must still be running then."""
    deadline = time.monotonic() + timeout
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed:\n" + log.read_text()[-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert group_is_gone(proc.pid), "a process of the killed run is still alive"


def group_is_gone(pgid: int, timeout: float = 10.0) -> bool:
    """Whether every process of the group has ended (waiting up to `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def requested_parents(sandbox, suffix: str = "/notes") -> list[int]:
    """The parent ids of the parent-scoped requests the sandbox saw (`.../customers/{id}/notes`), in order."""
    return [int(e.path.rstrip("/").split("/")[-2]) for e in sandbox.request_log if e.path.endswith(suffix)]
