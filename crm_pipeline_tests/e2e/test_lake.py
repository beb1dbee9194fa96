"""DuckLake on PostgreSQL (CRM_DUCKDB_PATH=ducklake:postgres:...): exact loads, a killed run resumed, an
export run and a list run writing at once in separate processes while a third process reads."""

from __future__ import annotations

import signal
import time

import pytest
from dagster import materialize

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.resources import _duckdb_from_env
from crm_pipeline.defs.sql_models import build_sql_model_assets, build_sql_model_checks
from crm_pipeline.ingest import sync_export, sync_list
from crm_pipeline.settings import Settings
from crm_pipeline.sql_models import load_project, model_checks
from crm_pipeline.storage.lake import LakeUnavailable, connect_lake
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.lake_helpers import assert_exact, start_worker
from crm_pipeline_tests.sandbox import Sandbox

sql_model_assets = build_sql_model_assets(load_project())
sql_model_checks = build_sql_model_checks(load_project())


def test_export_and_list_load_exactly_and_upsert(sandbox, lake):
    settings = Settings.from_env({**sandbox.env(), **lake.env()})
    conn = lake.connect()
    with make_client(settings) as client:
        for endpoint in EXPORT_FEEDS:
            sync_export(client, conn, endpoint, tenant_id=settings.tenant_id)
        for endpoint in LIST_ENDPOINTS:
            sync_list(client, conn, endpoint, tenant_id=settings.tenant_id)
        assert_exact(conn, sandbox, [*EXPORT_FEEDS, *LIST_ENDPOINTS], settings.tenant_id)
        # Again, every record repeated: the upsert replaces each row by its key, nothing doubles.
        for endpoint in EXPORT_FEEDS:
            sync_export(client, conn, endpoint, tenant_id=settings.tenant_id, include_recent_changes=True)
        for endpoint in LIST_ENDPOINTS:
            sync_list(client, conn, endpoint, tenant_id=settings.tenant_id, full=True)
    assert_exact(conn, sandbox, [*EXPORT_FEEDS, *LIST_ENDPOINTS], settings.tenant_id)
    streams = {s for (s,) in conn.execute("SELECT stream FROM pipeline_state.cursors").fetchall()}
    assert streams == {e.path for e in [*EXPORT_FEEDS, *LIST_ENDPOINTS]}
    assert conn.execute("SELECT count(*) FROM pipeline_state.cursors").fetchone()[0] == len(streams)
    # The SQL models and their checks, through Dagster, on the lake.
    result = materialize(
        [*sql_model_assets, *sql_model_checks], resources={"duckdb": _duckdb_from_env(lake.env())}
    )
    assert result.success
    for model in load_project().values():
        assert conn.execute(f"SELECT count(*) FROM {model.relation}").fetchone()[0] > 0, model.relation
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) == sum(len(model_checks(m, load_project())) for m in load_project().values())
    assert [e.check_name for e in evaluations if not e.passed and e.severity.value == "ERROR"] == []
    assert (
        conn.execute("SELECT count(*) FROM staging.stg_customers").fetchone()
        == conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()
    )


def test_a_wrong_or_unreachable_catalog_fails_fast_naming_the_setting_without_the_password(lake):
    secret = "pw-" + "6c1e0d"  # split so that no traceback line holds it whole
    wrong = f"ducklake:postgres:{lake.server} dbname=no_such_catalog password={secret}"
    unreachable = f"ducklake:postgres:host=127.0.0.1 port=1 user=crm password={secret} dbname=crm"
    for path in (wrong, unreachable):
        began = time.monotonic()
        with pytest.raises(LakeUnavailable) as raised:
            with _duckdb_from_env(
                {"CRM_DUCKDB_PATH": path, "CRM_DUCKLAKE_DATA_PATH": lake.data_path}
            ).get_connection():
                pass
        assert time.monotonic() - began < 15
        assert "CRM_DUCKDB_PATH" in str(raised.value) and secret not in str(raised.value)
        assert "password=***" in str(raised.value)
    with pytest.raises(LakeUnavailable, match="CRM_DUCKLAKE_DATA_PATH"):
        connect_lake(lake.path, data_path="")


def test_a_killed_export_run_resumes_with_nothing_lost_or_doubled(lake):
    with Sandbox(seed=5, sizes={"customers": 400}, page_size=40) as sandbox:
        env = {**sandbox.env(), **lake.env()}
        worker = start_worker("export", env)
        for line in worker.stdout:
            if line.strip() == "page export/customers 4":
                break
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        assert worker.returncode == -signal.SIGKILL
        settings = Settings.from_env(env)
        conn = lake.connect()
        before = conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0]
        assert 0 < before < 400  # the kill came part way
        with make_client(settings) as client:
            for endpoint in EXPORT_FEEDS:
                sync_export(client, conn, endpoint, tenant_id=settings.tenant_id)
        assert_exact(conn, sandbox, EXPORT_FEEDS, settings.tenant_id)


def test_export_and_list_runs_write_at_once_while_a_reader_queries(lake):
    with Sandbox(seed=9, sizes={"customers": 400}, page_size=40) as sandbox:
        env = {**sandbox.env(), **lake.env()}
        reader = start_worker("read", env, "60")
        writers = [start_worker("export", env), start_worker("list", env)]
        outputs = [w.communicate(timeout=600) for w in writers]
        for writer, (out, err) in zip(writers, outputs, strict=False):
            assert writer.returncode == 0, err[-3000:]
            assert out.splitlines()[-1] == "done" and out.count("page ") > 10
        reader.send_signal(signal.SIGTERM)
        read_out, _ = reader.communicate(timeout=60)
        lines = read_out.splitlines()
        assert [line for line in lines if line.startswith("error")] == []
        counts = [int(line.split()[1]) for line in lines if line.startswith("counts")]
        assert len(counts) > 10 and counts[-1] > 0
        assert counts == sorted(counts)  # a reader never sees a page's delete without its insert
        conn = lake.connect()
        assert_exact(conn, sandbox, [*EXPORT_FEEDS, *LIST_ENDPOINTS], sandbox.tenant_id)


def test_two_tenants_load_and_upsert_the_same_tables_at_once(lake):
    with (
        Sandbox(seed=3, sizes={"customers": 200}, page_size=40, tenant_id="1001") as first,
        Sandbox(seed=4, sizes={"customers": 200}, page_size=40, tenant_id="1002") as second,
    ):
        envs = [{**sb.env(), **lake.env()} for sb in (first, second)]
        for changed in (False, True):  # a first load; then changed records upserted; both tenants at once
            if changed:
                for sb in (first, second):
                    for endpoint in EXPORT_FEEDS:
                        sb.change(endpoint.path, n=30)
            writers = [start_worker("export", env) for env in envs]
            for writer in writers:
                out, err = writer.communicate(timeout=600)
                assert writer.returncode == 0 and out.splitlines()[-1] == "done", err[-3000:]
        conn = lake.connect()
        for sb in (first, second):
            assert_exact(conn, sb, EXPORT_FEEDS, sb.tenant_id)
