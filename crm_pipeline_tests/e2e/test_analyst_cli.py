"""The analysts' copy opens in the DuckDB CLI that scripts/setup.sh installs (the `duckdb-cli` package,
a release older than the pipeline's DuckDB), as the README tells them to run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb

from crm_pipeline.cli import main as crm_pipeline
from crm_pipeline.defs.resources import default_resources
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.storage.compat import DEFAULT_STORAGE_NUMBER, READABLE_BY_LAST_RELEASES, file_storage_number

export_assets = [build_export_assets()]

DUCKDB_CLI = Path(sys.executable).parent / "duckdb"  # .venv/bin/duckdb


def cli(database: str, sql: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(DUCKDB_CLI), "-readonly", database, "-csv", "-noheader", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_installed_cli_reads_the_published_copy(sandbox, settings, env):  # noqa: F811
    assert DUCKDB_CLI.exists(), "scripts/setup.sh installs the DuckDB CLI (duckdb-cli) into .venv/bin"
    result = dg.materialize(export_assets, selection="raw_export/customers", resources=default_resources())
    assert result.success
    copy = str(Path(settings.duckdb_path).with_name("crm_readonly.duckdb"))
    assert file_storage_number(copy) in READABLE_BY_LAST_RELEASES
    done = cli(
        copy, 'SELECT count(*), count(DISTINCT id), max("modifiedOn") IS NOT NULL FROM raw_export.customers'
    )
    assert done.returncode == 0, done.stderr
    served = sandbox.records("export/customers")
    assert done.stdout.strip() == f"{len(served)},{len(served)},true"
    comment = cli(
        copy,
        "SELECT comment FROM duckdb_columns() WHERE table_name = 'customers' "
        "AND schema_name = 'raw_export' AND column_name = 'name'",
    )
    assert comment.stdout.strip() == "Name of the customer"


def test_a_file_in_the_newest_format_is_rewritten_once_for_older_readers(tmp_path, monkeypatch):
    database = str(tmp_path / "crm.duckdb")
    with duckdb.connect(database, config={"storage_compatibility_version": "latest"}) as conn:
        conn.execute("CREATE SCHEMA raw_export; CREATE TABLE raw_export.t (id BIGINT PRIMARY KEY)")
        conn.execute(
            "INSERT INTO raw_export.t VALUES (1), (2); COMMENT ON COLUMN raw_export.t.id IS 'the id'"
        )
    newest = file_storage_number(database)
    if newest not in READABLE_BY_LAST_RELEASES:  # a DuckDB newer than the CLI's (not the pinned 1.5.5)
        assert cli(database, "SELECT 1 FROM raw_export.t").returncode != 0
    monkeypatch.setenv("CRM_DUCKDB_PATH", database)
    assert crm_pipeline(["rewrite-storage"]) == 0
    # v1.2.0: DuckDB 1.2 to 1.5 read it
    assert file_storage_number(database) == DEFAULT_STORAGE_NUMBER < newest
    done = cli(
        database,
        "SELECT sum(id), any_value(comment) FROM raw_export.t, duckdb_columns() "
        "WHERE column_name = 'id' AND table_name = 't'",
    )
    assert done.returncode == 0 and done.stdout.strip() == "3,the id", done.stderr
