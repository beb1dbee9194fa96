"""Several writers on one DuckDB file: the resource waits for the lock, analysts read a published copy,
and two `dg launch` runs started at the same moment both succeed and leave exact tables."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.resources import DUCKDB_POOL, _duckdb_from_env
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.storage.locking import DuckDBLockTimeout, connect_waiting
from crm_pipeline.storage.tuning import tune_for_raw_tables
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.dagster_helpers import resources

export_assets = [build_export_assets()]

FIRST_FEED = dg.AssetKey(EXPORT_FEEDS[0].asset_key_path)  # export/customers

ROOT = Path(__file__).resolve().parents[2]
HOLD = (
    "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]);"
    " c.execute('CREATE TABLE IF NOT EXISTS held (x INT)');"
    " print('held', flush=True); time.sleep(float(sys.argv[2])); c.close()"
)


@contextmanager
def held(path: str, seconds: float):
    """Another process holding `path` open read-write for `seconds` (like a run, or a DuckDB CLI session)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, path, str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.wait(timeout=seconds + 30)


def test_opening_waits_while_another_process_holds_the_file(tmp_path):
    path, waits = str(tmp_path / "crm.duckdb"), []
    with held(path, 1.5):
        began = time.monotonic()
        conn = connect_waiting(path, timeout=30, on_wait=lambda message, _: waits.append(message))
        waited = time.monotonic() - began
    assert waited >= 1.0 and conn.execute("SELECT count(*) FROM held").fetchone() == (0,)
    conn.close()
    assert len(waits) == 1 and "locked by another process" in waits[0] and "waiting up to 30s" in waits[0]


def test_waiting_is_bounded_and_says_what_to_do(tmp_path):
    path = str(tmp_path / "crm.duckdb")
    with held(path, 3):
        began = time.monotonic()
        with pytest.raises(DuckDBLockTimeout) as caught:
            connect_waiting(path, timeout=0.5)
        assert time.monotonic() - began < 2
    message = str(caught.value)
    assert path in message and "CRM_DUCKDB_LOCK_TIMEOUT_SECONDS" in message and "read-only copy" in message


def test_settings_of_the_resource_come_from_the_environment(tmp_path):
    database = str(tmp_path / "crm.duckdb")
    default = _duckdb_from_env({"CRM_DUCKDB_PATH": database})
    assert (
        default.readonly_copy == str(tmp_path / "crm_readonly.duckdb")
        and default.lock_timeout_seconds == 1800
    )
    custom = _duckdb_from_env(
        {
            "CRM_DUCKDB_PATH": database,
            "CRM_DUCKDB_READONLY_PATH": "off",
            "CRM_DUCKDB_LOCK_TIMEOUT_SECONDS": "60",
        }
    )
    assert custom.readonly_copy is None and custom.lock_timeout_seconds == 60


def test_a_run_publishes_a_readonly_copy_analysts_can_query_while_the_file_is_written(
    sandbox, settings, env, instance
):
    copy = str(Path(settings.duckdb_path).with_name("analysts.duckdb"))
    result = dg.materialize(
        export_assets,
        selection=[FIRST_FEED],
        instance=instance,
        resources=resources(settings, readonly_copy=copy),
    )
    assert result.success
    with held(settings.duckdb_path, 3):  # a writer holds the main file: the copy still opens
        with pytest.raises(duckdb.IOException):
            duckdb.connect(settings.duckdb_path, read_only=True)
        with duckdb.connect(copy, read_only=True) as conn:
            count = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
    assert count == len(sandbox.records("export/customers"))


def cli(selection: str, env: dict) -> subprocess.Popen:
    command = materialize_command(selection)
    return subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def both(env: dict, *selections: str) -> list[str]:
    """Start one CLI run per selection at the same moment; each must succeed. Returns their logs.

    The instance's storage is created first, as any earlier `dagster` command does: two processes
    creating a brand-new sqlite instance at once race in Dagster's own migrations.
    """
    dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).dispose()
    procs = [cli(selection, env) for selection in selections]
    logs = [proc.communicate(timeout=280)[0] for proc in procs]
    for proc, log in zip(procs, logs, strict=False):
        assert proc.returncode == 0, log[-3000:]
    return logs


def test_two_cli_runs_started_at_once_both_succeed_and_leave_the_tables_exact(
    sandbox, settings, env, tmp_path
):
    home = tmp_path / "dagster_home"  # no dagster.yaml: the resource's wait-for-lock alone keeps them apart
    home.mkdir()
    logs = both({**env, "DAGSTER_HOME": str(home)}, "group:servicetitan_export", "group:servicetitan_list")
    assert any("is locked by another process" in log for log in logs)  # they did collide, and waited
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in EXPORT_FEEDS:
            assert differences(conn, ep, settings.tenant_id, sandbox.records(ep.path)) == [], ep.path
        for ep in LIST_ENDPOINTS:
            assert differences(conn, ep, settings.tenant_id, served(sandbox, ep)) == [], ep.path
    assert Path(settings.duckdb_path).with_name("crm_readonly.duckdb").exists()


def test_with_the_shipped_instance_settings_two_runs_at_once_both_succeed(sandbox, settings, env, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home)
    env = {**env, "DAGSTER_HOME": str(home)}
    both(env, "raw_export/customers,raw_export/leads", "raw_list/customers,raw_list/leads")
    with dg.DagsterInstance.from_config(
        str(home)
    ) as inst:  # no pool limit: a killed run cannot block later ones
        assert inst.event_log_storage.get_concurrency_info(DUCKDB_POOL).slot_count in (None, 0)
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM raw_list.customers").fetchone()[0]
        exported = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
    assert stored == len(sandbox.records("customers")) == exported


def memory_limit_and_threads(conn: duckdb.DuckDBPyConnection) -> tuple[str, int]:
    return conn.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()


def test_a_raw_table_connection_gets_the_memory_cap_and_one_thread():
    conn = duckdb.connect()
    tune_for_raw_tables(conn, "48MB")
    limit, threads = memory_limit_and_threads(conn)
    assert limit in ("48.0 MB", "45.7 MiB") and threads == 1, (limit, threads)
    tune_for_raw_tables(conn)  # the default
    assert conn.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("32.0 MB", "30.5 MiB")
    with pytest.raises(ValueError, match="CRM_DUCKDB_MEMORY_LIMIT"):
        tune_for_raw_tables(conn, "32MB'; DROP TABLE x; --")


def test_the_resources_raw_table_connection_takes_the_cap_from_the_environment(tmp_path):
    """Loads and checks of raw tables open their connection here (runs.py, checks.py)."""
    database = _duckdb_from_env(
        {"CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb"), "CRM_DUCKDB_MEMORY_LIMIT": "48MB"}
    )
    with database.raw_table_connection() as conn:
        limit, threads = memory_limit_and_threads(conn)
    assert limit in ("48.0 MB", "45.7 MiB") and threads == 1, (limit, threads)
