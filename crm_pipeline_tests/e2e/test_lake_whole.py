"""The lake works whole: one run loads every raw table into the lake and, in the same run, evaluates the
raw tables' checks, builds the SQL models with their checks and maintains the lake."""

from __future__ import annotations

import os
import subprocess

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.lake_helpers import ROOT, assert_exact


def test_one_run_loads_checks_models_and_maintains_the_lake(sandbox, lake, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {**os.environ, **sandbox.env(), **lake.env(), "DAGSTER_HOME": str(home), "CRM_AUTOMATION": "off"}
    done = subprocess.run(
        materialize_command("*"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )
    # Every step succeeded, asset checks and SQL models included (a failed check step fails the run).
    assert done.returncode == 0, done.stderr[-6000:]
    assert "OutOfMemoryException" not in done.stderr
    conn = lake.connect()
    assert_exact(conn, sandbox, [*EXPORT_FEEDS, *LIST_ENDPOINTS], sandbox.tenant_id)
    # the SQL models were built in the lake, from the rows just loaded
    customers = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
    assert conn.execute("SELECT count(*) FROM staging.stg_customers").fetchone()[0] > 0 < customers
