"""One budget for a tenant across machines (#24): processes that share nothing but a PostgreSQL (each its
own temp folder, so no shared file) share its rate limit and what it learned, through that database."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from contextlib import closing

import pytest

from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.servicetitan.adaptive import BudgetState
from crm_pipeline.servicetitan.pgbudget import TABLE
from crm_pipeline.servicetitan.ratelimit import budget_key
from crm_pipeline.settings import Settings, budget_postgres
from crm_pipeline_tests.e2e.test_shared_budget import CLIENT_RATE, FAST, HAMMER, HAMMER_SECONDS, SERVER_RATE
from crm_pipeline_tests.lake_helpers import admin_connection
from crm_pipeline_tests.sandbox import Sandbox


@pytest.fixture
def budget_db():
    """A new database on the test PostgreSQL: its libpq string."""
    configured = os.environ.get("CRM_TEST_POSTGRES")
    if not configured:
        if os.environ.get("CI"):
            pytest.fail("CRM_TEST_POSTGRES is not set: .ci/run starts PostgreSQL with scripts/postgres.sh")
        pytest.skip('no PostgreSQL: export CRM_TEST_POSTGRES="$(bash scripts/postgres.sh)"')
    server = re.sub(r"\bdbname=\S+", "", configured).strip()
    name = f"crm_budget_{uuid.uuid4().hex[:12]}"
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    yield f"{server} dbname={name}"
    with closing(admin_connection(server)) as admin, admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def stored_state(dsn: str, sb: Sandbox) -> BudgetState:
    import psycopg2

    with closing(psycopg2.connect(dsn)) as conn, conn.cursor() as cur:
        key = budget_key(sb.api_url, sb.tenant_id)
        cur.execute(f"SELECT state FROM {TABLE} WHERE budget_key = %s", (key,))
        return BudgetState(*cur.fetchone()[0])


def hammer_as_machines(sb: Sandbox, tmp_path, dsn: str | None, machines: int = 2, threads: int = 4):
    """`machines` processes hammering at once, each with its own HOME, TMPDIR and budget folder;
    (API requests the sandbox saw, 429s among them, seconds)."""
    start = time.time() + 2.0
    procs = []
    for i in range(machines):
        own = tmp_path / f"machine{i}"
        (own / "tmp").mkdir(parents=True)
        client = {**FAST, "rate_limit": CLIENT_RATE, "rate_limit_dir": str(own / "limits")}
        client["rate_limit_postgres"] = dsn
        arg = json.dumps(
            {"env": sb.env(), "client": client, "start": start, "seconds": HAMMER_SECONDS, "threads": threads}
        )
        env = {**os.environ, "HOME": str(own), "TMPDIR": str(own / "tmp")}
        procs.append(
            subprocess.Popen([sys.executable, "-c", HAMMER, arg], stdout=subprocess.PIPE, text=True, env=env)
        )
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    elapsed = max(json.loads(out)["ended"] for out in outs) - start
    api = [e for e in sb.request_log if e.path.startswith("/crm/")]
    return len(api), sum(e.status == 429 for e in api), elapsed


def test_machines_that_share_only_postgres_share_one_budget(tmp_path, budget_db):
    with Sandbox(seed=6, sizes={"customers": 60}, page_size=20, rate_limit=SERVER_RATE) as sb:
        requests, limited, elapsed = hammer_as_machines(sb, tmp_path / "shared", budget_db)
        # together no faster than one client's budget (plus the first slot and the lease of each)
        assert requests <= CLIENT_RATE * elapsed + 4, (requests, elapsed)
        assert limited <= 0.01 * requests
        sb.clear_log()
        requests, limited, elapsed = hammer_as_machines(sb, tmp_path / "apart", None)
        assert limited >= 0.01 * requests and requests > CLIENT_RATE * elapsed + 2  # the same without it


def test_what_one_machine_learns_from_429s_is_the_next_machine_s_rate(budget_db):
    with Sandbox(seed=7, sizes={"customers": 20}, page_size=20) as sb:
        settings = Settings.from_env(sb.env())
        with ServiceTitanClient(
            settings, rate_limit=CLIENT_RATE, rate_limit_postgres=budget_db, **FAST
        ) as first:
            sb.faults.add("429", count=3, path_contains="export/customers", retry_after=0)
            first.get_json("export/customers")  # 429s in a row: the budget is spent, the rate drops
            assert first.stats["by_status"] == {429: 3, 200: 1}
        state = stored_state(budget_db, sb)
        assert state.w_max < CLIENT_RATE and time.time() - 60 < state.last_drop <= time.time() + 1
        with ServiceTitanClient(
            settings, rate_limit=CLIENT_RATE, rate_limit_postgres=budget_db, **FAST
        ) as later:
            later.get_json("customers")
            assert later.rate == pytest.approx(state.rate(time.time(), CLIENT_RATE), rel=0.2)
            assert later.rate < CLIENT_RATE


def test_the_budget_database_is_the_lake_s_catalog_unless_a_setting_names_another():
    lake = {"CRM_DUCKDB_PATH": "ducklake:postgres:host=db dbname=lake"}
    assert budget_postgres(lake) == "host=db dbname=lake"
    assert (
        budget_postgres({**lake, "CRM_BUDGET_POSTGRES": "host=ops dbname=dagster"})
        == "host=ops dbname=dagster"
    )
    assert budget_postgres({"CRM_DUCKDB_PATH": "data/crm.duckdb"}) is None
    assert "host=db" not in repr(Settings("c", "s", "k", "1", budget_postgres="host=db password=x"))
