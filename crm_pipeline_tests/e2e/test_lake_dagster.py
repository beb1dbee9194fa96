"""The lake's maintenance, and a deployment's shape: the Dagster instance itself on PostgreSQL
(dagster-postgres) running the assets into a DuckLake whose catalog is on the same server."""

from __future__ import annotations

import os
import subprocess
import uuid
from contextlib import closing
from datetime import timedelta
from pathlib import Path

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.ingest import sync_export
from crm_pipeline.settings import Settings
from crm_pipeline.storage.cursors import reset_position
from crm_pipeline.storage.maintenance import lake_files, maintain_lake
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.lake_helpers import ROOT, admin_connection, assert_exact

CUSTOMERS = next(e for e in EXPORT_FEEDS if e.path == "export/customers")


def parquet_files(data_path: str) -> int:
    return sum(1 for _ in Path(data_path).rglob("*.parquet"))


def test_maintenance_merges_files_expires_snapshots_and_keeps_rows_exact(sandbox, lake):
    settings = Settings.from_env({**sandbox.env(), **lake.env()})
    conn = lake.connect()
    with make_client(settings) as client:
        sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
        # the whole feed again each time: files per page, and delete files from the upserts
        for _ in range(3):
            reset_position(conn, settings.tenant_id, CUSTOMERS.path)
            sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    on_disk = parquet_files(lake.data_path)  # the files of every page ever committed, kept for old snapshots
    before, after = maintain_lake(conn, retention=timedelta(0))
    assert on_disk > 10 and before.snapshots > 10
    assert after.data_files < before.data_files and after.snapshots == 1
    # Nothing left on disk that the one remaining snapshot does not reference.
    assert parquet_files(lake.data_path) == after.data_files + after.delete_files
    assert_exact(conn, sandbox, [CUSTOMERS], settings.tenant_id)
    assert lake_files(conn) == after


def test_a_dagster_instance_on_postgres_runs_the_assets_into_the_lake(sandbox, lake, tmp_path):
    instance_db = f"dagster_{uuid.uuid4().hex[:12]}"
    with closing(admin_connection(lake.server)) as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {instance_db}")
    params = dict(part.split("=", 1) for part in lake.server.split())
    home = tmp_path / "dagster_home"
    home.mkdir()
    # postgresql+psycopg2: SQLAlchemy 2.1 would pick psycopg 3 for postgresql://, which dagster-postgres
    # does not install.
    url = f"postgresql+psycopg2://{params['user']}@{params['host']}:{params['port']}/{instance_db}"
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: {url}\ntelemetry:\n  enabled: false\n"
    )
    env = {**os.environ, **sandbox.env(), **lake.env(), "DAGSTER_HOME": str(home), "CRM_AUTOMATION": "off"}
    try:
        done = subprocess.run(
            materialize_command('key:"raw_export/customers" or key:ducklake_maintenance'),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        with closing(admin_connection(lake.server, instance_db)) as db, db.cursor() as cur:
            cur.execute("SELECT status FROM runs")
            assert cur.fetchall() == [("SUCCESS",)]  # the run is recorded in PostgreSQL, not in DAGSTER_HOME
            cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            assert cur.fetchone()[0] == 2
            cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_CHECK_EVALUATION'")
            assert cur.fetchone()[0] >= 2  # the raw table's checks (quarantine, key) ran on the lake too
        assert not (home / "history").exists()
        assert_exact(lake.connect(), sandbox, [CUSTOMERS], sandbox.tenant_id)
    finally:
        with closing(admin_connection(lake.server)) as admin, admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {instance_db} WITH (FORCE)")
