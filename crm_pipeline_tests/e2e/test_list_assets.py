"""The list assets through Dagster: one per list endpoint of the catalog, and `dg launch`
as a user runs it."""

from __future__ import annotations

import os
import subprocess

import duckdb

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.definitions import defs
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.compare import differences, served


def test_definitions_hold_one_raw_asset_per_catalog_endpoint_in_its_group():
    graph = defs().resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        groups.setdefault(graph.get(key).group_name, set()).add(key.to_user_string())
    assert groups["servicetitan_list"] == {f"raw_list/{ep.table}" for ep in LIST_ENDPOINTS}
    assert groups["servicetitan_export"] == {f"raw_export/{ep.table}" for ep in EXPORT_FEEDS}
    assert len(groups["servicetitan_export"]) == len(EXPORT_FEEDS)
    assert len(groups["servicetitan_list"]) == len(LIST_ENDPOINTS)
    notes = graph.get(
        next(k for k in graph.get_all_asset_keys() if k.to_user_string() == "raw_list/customers_notes")
    )
    assert "raw_list/customers" in {k.to_user_string() for k in notes.parent_keys}


def test_cli_materializes_the_list_group_then_only_a_handful_of_requests(sandbox, settings, tmp_path):
    env = {
        **os.environ,
        **sandbox.env(),
        "CRM_DUCKDB_PATH": settings.duckdb_path,
        "DAGSTER_HOME": str(tmp_path / "home"),
    }
    os.makedirs(env["DAGSTER_HOME"])
    command = materialize_command("group:servicetitan_list")
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.change("customers", n=3)
    sandbox.clear_log()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    api = [e for e in sandbox.request_log if "/crm/v2/" in e.path]
    assert len(api) < 60, f"{len(api)} requests for 3 changed customers"
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in LIST_ENDPOINTS:
            assert differences(conn, ep, settings.tenant_id, served(sandbox, ep)) == [], ep.path
