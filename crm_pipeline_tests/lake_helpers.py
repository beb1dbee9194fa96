"""A fresh DuckLake per test, its catalog a new database on the PostgreSQL server of
CRM_TEST_POSTGRES (scripts/postgres.sh starts one; .ci/run does). Without it the lake tests are
skipped, but under CI they fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from crm_pipeline.storage.lake import connect_lake, object_store_settings
from crm_pipeline_tests.compare import differences, served

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Lake:
    server: str  # libpq string of the server, without dbname
    database: str  # the catalog's database
    data_path: str

    @property
    def path(self) -> str:
        """CRM_DUCKDB_PATH for this lake."""
        return f"ducklake:postgres:{self.server} dbname={self.database}"

    def env(self) -> dict[str, str]:
        return {"CRM_DUCKDB_PATH": self.path, "CRM_DUCKLAKE_DATA_PATH": self.data_path}

    def connect(self):
        return connect_lake(self.path, self.data_path, object_store=object_store_settings(os.environ))


def admin_connection(server: str, database: str = "postgres"):
    import psycopg2  # dagster-postgres's driver (extra `lake`)

    conn = psycopg2.connect(f"{server} dbname={database}")
    conn.autocommit = True
    return conn


@pytest.fixture
def lake(tmp_path):
    configured = os.environ.get("CRM_TEST_POSTGRES")
    if not configured:
        if os.environ.get("CI"):
            pytest.fail("CRM_TEST_POSTGRES is not set: .ci/run starts PostgreSQL with scripts/postgres.sh")
        pytest.skip(
            'no PostgreSQL for the lake tests: export CRM_TEST_POSTGRES="$(bash scripts/postgres.sh)"'
        )
    server = re.sub(r"\bdbname=\S+", "", configured).strip()
    name = f"crm_lake_{uuid.uuid4().hex[:12]}"
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    target = Lake(server=server, database=name, data_path=str(tmp_path / "lake_data"))
    # the catalog's first attach creates its tables: once, before any concurrent writer
    target.connect().close()
    yield target
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def start_worker(role: str, env: dict[str, str], *args: str) -> subprocess.Popen:
    """`python -m crm_pipeline_tests.lake_worker <role>` in a process of its own, printing a line a page."""
    return subprocess.Popen(
        [sys.executable, "-m", "crm_pipeline_tests.lake_worker", role, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def assert_exact(conn, sandbox, endpoints, tenant_id: str) -> None:
    """Every table holds exactly what the sandbox serves: each key once, every field as sent."""
    for endpoint in endpoints:
        records = served(sandbox, endpoint)
        assert differences(conn, endpoint, tenant_id, records) == []
        stored = conn.execute(
            f"SELECT count(*) FROM {endpoint.qualified_table} WHERE tenant_id = ?", [tenant_id]
        ).fetchone()[0]
        # none doubled
        assert stored == len({tuple(r[k] for k in endpoint.key) for r in records}), endpoint.path
