"""A full disk or a broken file (#18, point 5), through Dagster runs of the list group.

The disk is a real one that fills up: a 1 MB tmpfs mounted for the test (root only; skipped where
mounting is not permitted), grown afterwards with `mount -o remount`.
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import duckdb
import pytest

from crm_pipeline.catalog import LIST_ENDPOINTS
from crm_pipeline.settings import Settings
from crm_pipeline.storage.tables import quote
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.list_runs import failure_texts, materialize_lists
from crm_pipeline_tests.sandbox import Sandbox

HEADER_BYTES = 4096  # DuckDB's main header: an 8-byte checksum, then "DUCK" and the storage version


def _mount(folder: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs, unmounted afterwards; `grow(size)` gives it more room."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = _mount(folder, "size=1m")
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN): {mounted.stderr.strip()}")

    def grow(size: str) -> None:
        assert _mount(folder, "remount", f"size={size}").returncode == 0

    try:
        yield folder, grow
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def sandbox_env(monkeypatch):
    with Sandbox(seed=31, sizes={"customers": 150}, page_size=20) as sb:
        for name, value in sb.env().items():
            monkeypatch.setenv(name, value)
        yield sb


def settings_for(sandbox, database: Path, monkeypatch) -> Settings:
    monkeypatch.setenv("CRM_DUCKDB_PATH", str(database))
    return Settings.from_env({**sandbox.env(), "CRM_DUCKDB_PATH": str(database)})


def stored_rows_are_exact(settings: Settings, sandbox) -> int:
    """The rows committed before a failure, each exactly as served; returns how many there are."""
    total = 0
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        tables = {
            f"{s}.{t}"
            for s, t in conn.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
        }
        for ep in LIST_ENDPOINTS:
            if ep.qualified_table not in tables:
                continue
            keys = {
                tuple(row)
                for row in conn.execute(
                    f"SELECT {', '.join(quote(k) for k in ep.key)} FROM {ep.qualified_table}"
                ).fetchall()
            }
            committed = [r for r in served(sandbox, ep) if tuple(r[k] for k in ep.key) in keys]
            assert (
                len(committed) == len(keys) and differences(conn, ep, settings.tenant_id, committed) == []
            ), ep.path
            total += len(keys)
    return total


def test_a_full_disk_names_the_file_loses_nothing_and_the_next_run_resumes(
    sandbox_env, small_disk, instance, monkeypatch
):
    folder, grow = small_disk
    settings = settings_for(sandbox_env, folder / "crm.duckdb", monkeypatch)
    failed = materialize_lists(settings, instance, raise_on_error=False)
    assert not failed.success
    text = failure_texts(failed)
    assert "DiskFull" in text and f"No space left on the disk of {folder}/crm.duckdb" in text
    assert "nothing committed is lost" in text
    grow("64m")
    assert stored_rows_are_exact(settings, sandbox_env) > 0, "the disk filled before anything was committed"
    again = materialize_lists(settings, instance)
    assert again.success
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in LIST_ENDPOINTS:
            assert differences(conn, ep, settings.tenant_id, served(sandbox_env, ep)) == [], ep.path


def test_a_file_that_is_not_duckdb_is_named_as_such_and_left_untouched(
    sandbox_env, instance, tmp_path, monkeypatch
):
    database = tmp_path / "crm.duckdb"
    database.write_bytes(b"customer,phone\n" * 1000)
    before = database.read_bytes()
    settings = settings_for(sandbox_env, database, monkeypatch)
    failed = materialize_lists(settings, instance, selection=["raw_list/customers"], raise_on_error=False)
    text = failure_texts(failed)
    assert not failed.success and "NotADuckDBFile" in text
    assert f"{database} exists but is not a DuckDB database file" in text and database.read_bytes() == before


def _checksum(block: bytes) -> int:
    """DuckDB's block checksum: 5381 xor every little-endian 64-bit word times 0xbf58476d1ce4e5b9."""
    result = 5381
    for (word,) in struct.iter_unpack("<Q", block):
        result ^= (word * 0xBF58476D1CE4E5B9) & 0xFFFF_FFFF_FFFF_FFFF
    return result


def test_a_file_from_a_newer_duckdb_says_so(sandbox_env, instance, tmp_path, monkeypatch):
    database = tmp_path / "crm.duckdb"
    duckdb.connect(str(database)).close()
    data = bytearray(database.read_bytes())
    data[12:20] = struct.pack("<Q", 10_000)  # a storage version from the future, header checksum kept valid
    data[0:8] = struct.pack("<Q", _checksum(bytes(data[8:HEADER_BYTES])))
    database.write_bytes(bytes(data))
    settings = settings_for(sandbox_env, database, monkeypatch)
    failed = materialize_lists(settings, instance, selection=["raw_list/customers"], raise_on_error=False)
    text = failure_texts(failed)
    assert not failed.success and "NewerDuckDBFile" in text
    assert f"{database} was written by a newer DuckDB" in text and database.read_bytes() == bytes(data)
