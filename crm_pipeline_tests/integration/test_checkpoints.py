"""Loads checkpoint the DuckDB file themselves, once per row group (crm_pipeline.storage.checkpoints)."""

from __future__ import annotations

import os

import dagster as dg
import duckdb
import httpx
import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.components import ServiceTitanComponent
from crm_pipeline.ingest import sync_export, sync_list
from crm_pipeline.storage import checkpoints
from crm_pipeline.storage.history import superseded_table
from crm_pipeline.storage.tuning import tune_for_raw_tables
from crm_pipeline_tests.compare import differences


def load_and_measure_the_log(sandbox, client, tenant_id: str, database: str, path: str) -> int:
    """Load `path` (pages of 40 records) into a fresh file; the bytes left in its write-ahead log."""
    ep = endpoint(path)
    with duckdb.connect(database) as conn:
        tune_for_raw_tables(conn)
        if ep.kind == "export":
            sync_export(client, conn, ep, tenant_id=tenant_id)
        else:
            sync_list(client, conn, ep, tenant_id=tenant_id, page_size=40)
        assert differences(conn, ep, tenant_id, sandbox.records(path)) == []
        wal = database + ".wal"
        return os.path.getsize(wal) if os.path.exists(wal) else 0


@pytest.mark.parametrize("path", ["export/customers", "customers"])
def test_committed_pages_reach_the_file_once_a_row_group_of_them_is_in(
    sandbox, settings, client, tmp_path, monkeypatch, path
):
    """With a 'row group' of 40 rows every page is checkpointed, and the log ends with at most the
    walk's closing transaction; with none, DuckDB's own threshold (raised for loads) leaves every
    page in the log."""
    monkeypatch.setattr(checkpoints, "ROW_GROUP", 40)
    each_page = load_and_measure_the_log(
        sandbox, client, settings.tenant_id, str(tmp_path / "a.duckdb"), path
    )
    monkeypatch.setattr(checkpoints, "ROW_GROUP", 10**9)
    never = load_and_measure_the_log(sandbox, client, settings.tenant_id, str(tmp_path / "b.duckdb"), path)
    assert each_page * 20 < never, (each_page, never)


def test_runs_that_replace_versions_of_a_wide_feed_checkpoint_under_the_load_memory_cap(
    sandbox, settings, env, instance, tmp_path, monkeypatch
):
    """The step's checkpoint writes the raw table and its history's superseded table, both changed: under
    the load's memory cap alone DuckDB failed it fatally from the third run on (a block per column)."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    leads = endpoint("raw_export.leads")
    component = ServiceTitanComponent(duckdb_path=settings.duckdb_path, automation=False)
    defs = component.build_defs(dg.ComponentTree.for_test().load_context)
    for _ in range(4):
        result = dg.materialize(
            list(defs.assets),
            selection=[dg.AssetKey(leads.asset_key_path)],
            instance=instance,
            resources=defs.resources,
            raise_on_error=False,
        )
        assert result.success
        httpx.post(
            f"{sandbox.api_url}/_sandbox/change", json={"feed": "export/leads", "n": 4}
        ).raise_for_status()
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        assert conn.execute(f"SELECT count(*) FROM {superseded_table(leads)}").fetchone()[0] == 12
