"""A team's model from the component's `sql_models_path`, built through Dagster beside ours against a DuckDB
file the pipeline loaded from the sandbox: it reads our model and our raw table, and its data test runs."""

from __future__ import annotations

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest import sync_export
from crm_pipeline_tests.unit.test_component_sql_models import (
    TEAM_FILES,
    TEAM_MODEL,
    component_defs,
    write_folder,
)

STAGED = dg.AssetKey(["staging", "stg_customers"])


@pytest.fixture
def loaded(settings, client) -> str:
    """The test's DuckDB file with raw_export.customers loaded from the sandbox."""
    with duckdb.connect(settings.duckdb_path) as conn:
        sync_export(client, conn, endpoint("export/customers"), tenant_id=settings.tenant_id)
    return settings.duckdb_path


def test_a_team_model_builds_on_ours_and_its_test_runs(loaded, sandbox, instance, tmp_path):
    write_folder(tmp_path / "team_sql", TEAM_FILES)
    definitions = component_defs(
        tmp_path, duckdb_path=loaded, endpoints=["raw_export/customers"], sql_models_path="team_sql"
    )
    job = definitions.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(instance=instance, asset_selection=[STAGED, TEAM_MODEL])
    assert result.success
    checks = {(e.asset_key, e.check_name): e.passed for e in result.get_asset_check_evaluations()}
    assert checks[(TEAM_MODEL, "all_staged")] and checks[(TEAM_MODEL, "unique_tenant_id_customer_id")]
    served = {record["id"] for record in sandbox.records("export/customers")}
    with duckdb.connect(loaded, read_only=True) as conn:
        rows = conn.execute("SELECT customer_id, name FROM marts.team_customers").fetchall()
        raw = dict(conn.execute("SELECT id, name FROM raw_export.customers").fetchall())
    assert len(rows) == len(served) > 0 and {customer for customer, _ in rows} == served
    assert dict(rows) == raw
