"""The export assets through Dagster: in process, and with the `dagster` CLI as a user runs it."""

from __future__ import annotations

import os
import subprocess
import time

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.definitions import defs
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.compare import differences

export_assets = [build_export_assets()]

FIRST_FEED = dg.AssetKey(EXPORT_FEEDS[0].asset_key_path)  # export/customers


@pytest.fixture
def env(sandbox, settings, monkeypatch):
    for name, value in {**sandbox.env(), "CRM_DUCKDB_PATH": settings.duckdb_path}.items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


def test_definitions_hold_the_six_export_assets_in_their_group():
    graph = defs().resolve_asset_graph()
    keys = {
        k.to_user_string()
        for k in graph.get_all_asset_keys()
        if graph.get(k).group_name == "servicetitan_export"
    }
    assert keys == {f"raw_export/{ep.table}" for ep in EXPORT_FEEDS}


def test_materialize_in_process_reports_run_metadata(sandbox, settings, env):
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=settings.duckdb_path)}
    result = dg.materialize(export_assets, resources=resources)
    assert result.success
    events = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    meta = events["raw_export/customers"].materialization.metadata
    served = len(sandbox.records("export/customers"))
    assert meta["dagster/row_count"].value == served
    assert meta["rows_upserted"].value == served and meta["quarantined"].value == 0
    assert meta["pages"].value >= 3 and meta["cursor_position"].value


def test_cli_materializes_the_export_group_then_only_the_tail(sandbox, settings, env, tmp_path):
    command = materialize_command("group:servicetitan_export")
    env = {**env, "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    os.makedirs(env["DAGSTER_HOME"])
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr[-3000:]
    sandbox.change("export/customers", n=5)
    sandbox.clear_log()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    api_calls = [e for e in sandbox.request_log if "/export/" in e.path]
    assert len(api_calls) == len(EXPORT_FEEDS)  # one page per feed: only the changed tail
    with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
        for ep in EXPORT_FEEDS:
            assert differences(conn, ep, settings.tenant_id, sandbox.records(ep.path)) == []


def test_a_bad_credential_fails_fast_with_a_clear_message(sandbox, settings, env, monkeypatch):
    monkeypatch.setenv("SERVICETITAN_CLIENT_SECRET", "wrong-secret-value")
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=settings.duckdb_path)}
    began = time.monotonic()
    result = dg.materialize(export_assets, selection=[FIRST_FEED], resources=resources, raise_on_error=False)
    assert not result.success and time.monotonic() - began < 10
    failure = result.get_step_failure_events()[0].step_failure_data.error
    text = str(failure)
    assert "refused" in text.lower() and "SERVICETITAN_CLIENT_SECRET" in text
    assert "wrong-secret-value" not in text
    assert sandbox.token_requests <= 2
