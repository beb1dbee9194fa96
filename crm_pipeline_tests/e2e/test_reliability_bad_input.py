"""Bad input: a clear error and nothing lost.

- a wrong client secret, client id or app key fails within seconds, names the setting refused, and
  does not retry (through the `dagster` CLI, as a user runs it, and in process);
- a wrong tenant id (404) and an invalid or foreign continuation token (400) fail clearly, write
  nothing, and the documented way out (`crm-pipeline reset-cursor <feed>`) works;
Schema drift: test_reliability_bad_input_drift.py (end to end) and test_reliability_bad_input_cases.py
(case by case).
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.ingest import sync_export
from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.scopes import probe_paths_for
from crm_pipeline.settings import Settings
from crm_pipeline.storage import StreamPosition, ensure_raw_table, read_position, store_position
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.compare import differences
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.sandbox import Sandbox

export_assets = [build_export_assets()]

CUSTOMERS, LEADS = endpoint("export/customers"), endpoint("export/leads")
FIRST_FEED = dg.AssetKey(CUSTOMERS.asset_key_path)
CLI = [sys.executable, "-m", "crm_pipeline.cli"]
WRONG = "wrong-" + "secret-value-3b7"  # split: a traceback line showing this source must not count as a leak


def api_requests(sb) -> list:
    return [e for e in sb.request_log if "/crm/v2/" in e.path]


# -- credentials ----------------------------------------------------------------------------------
def test_a_wrong_client_secret_fails_the_dagster_cli_in_seconds_saying_it_was_refused(sandbox, tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    env = {
        **os.environ,
        **sandbox.env(),
        "SERVICETITAN_CLIENT_SECRET": WRONG,
        "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb"),
        "DAGSTER_HOME": str(home),
    }
    command = materialize_command("group:servicetitan_export")
    began = time.monotonic()
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - began
    output = run.stdout + run.stderr
    assert run.returncode != 0
    assert elapsed < 60, f"a wrong secret took {elapsed:.0f} s to fail"
    assert "The client id/secret were refused" in output and "SERVICETITAN_CLIENT_SECRET" in output
    assert sandbox.token_requests <= len(EXPORT_FEEDS), "the token endpoint was asked again and again"
    assert api_requests(sandbox) == [], "an API request was made without a token"
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    for secret in (WRONG, sandbox.client_secret, sandbox.app_key):
        assert secret not in output and secret.encode() not in stored


PROBES = len(probe_paths_for("export/customers"))


@pytest.mark.parametrize(
    ("change", "error", "setting", "requests"),
    [
        ({"client_id": "cid.wrong"}, errors.CredentialsRejected, "SERVICETITAN_CLIENT_ID", 0),
        ({"client_secret": WRONG}, errors.CredentialsRejected, "SERVICETITAN_CLIENT_SECRET", 0),
        # a 403 before any 200: small requests to endpoints of other scopes tell a wrong key from a scope
        (
            {"app_key": "ak1.wrong"},
            errors.AppKeyRejected,
            "SERVICETITAN_APP_KEY",
            1 + len(probe_paths_for("export/customers")),
        ),
        ({"tenant_id": "999999"}, errors.NotFound, "SERVICETITAN_TENANT_ID", 1),
    ],
)
def test_a_wrong_setting_fails_at_once_names_it_and_writes_nothing(
    sandbox, settings, conn, change, error, setting, requests
):
    wrong = dataclasses.replace(settings, **change)
    began = time.monotonic()
    with make_client(
        wrong, backoff_base=0.5, backoff_cap=30
    ) as client:  # production backoff: no retry must happen
        with pytest.raises(error) as info:
            sync_export(client, conn, CUSTOMERS, tenant_id=wrong.tenant_id)
        stats = client.stats
    assert time.monotonic() - began < 5 and stats["retries"] == 0
    assert len(api_requests(sandbox)) == requests and sandbox.token_requests == 1
    message = str(info.value)
    assert setting in message and f"HTTP {info.value.status}" in message
    assert info.value.trace_id is None or info.value.trace_id in message  # the token endpoint sends none
    assert "refused" in message or info.value.status == 404
    for value in change.values():
        assert value not in message or setting == "SERVICETITAN_TENANT_ID"
    assert read_position(conn, wrong.tenant_id, CUSTOMERS.path) is None
    assert conn.execute("SELECT count(*) FROM raw_export.customers").fetchone()[0] == 0


def test_a_wrong_tenant_fails_the_asset_with_the_hint(sandbox, settings, monkeypatch):
    for name, value in {
        **sandbox.env(),
        "SERVICETITAN_TENANT_ID": "999999",
        "CRM_DUCKDB_PATH": settings.duckdb_path,
    }.items():
        monkeypatch.setenv(name, value)
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=settings.duckdb_path)}
    result = dg.materialize(export_assets, selection=[FIRST_FEED], resources=resources, raise_on_error=False)
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "HTTP 404" in error and "SERVICETITAN_TENANT_ID (now 999999)" in error
    assert len(api_requests(sandbox)) == 1


# -- continuation tokens --------------------------------------------------------------------------
def cli(settings, *args) -> subprocess.CompletedProcess:
    """`crm-pipeline ARGS` as a user runs it, with the environment the pipeline runs with."""
    env = {
        **os.environ,
        "SERVICETITAN_CLIENT_ID": settings.client_id,
        "SERVICETITAN_CLIENT_SECRET": settings.client_secret,
        "SERVICETITAN_APP_KEY": settings.app_key,
        "SERVICETITAN_TENANT_ID": settings.tenant_id,
        "SERVICETITAN_API_URL": settings.api_url,
        "SERVICETITAN_AUTH_URL": settings.auth_url,
        "CRM_DUCKDB_PATH": settings.duckdb_path,
    }
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=60)


def foreign_tokens(settings) -> dict[str, str]:
    """Cursors that are not this feed's: another feed's, and another tenant's (another sandbox)."""
    with make_client(settings) as client:
        leads = next(iter(client.export_pages(LEADS.path))).continue_from
    with Sandbox(seed=99, sizes={"customers": 30}, page_size=10) as other:
        with make_client(Settings.from_env(other.env())) as client:
            elsewhere = next(iter(client.export_pages(CUSTOMERS.path))).continue_from
    return {"garbage": "not-a-token", "another feed's": leads, "another tenant's": elsewhere}


def test_an_invalid_or_foreign_cursor_fails_clearly_and_reset_cursor_is_the_way_out(
    sandbox, settings, client, conn
):
    sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    assert differences(conn, CUSTOMERS, settings.tenant_id, sandbox.records(CUSTOMERS.path)) == []
    for what, token in foreign_tokens(settings).items():
        ensure_raw_table(conn, CUSTOMERS)
        store_position(
            conn, settings.tenant_id, CUSTOMERS.path, position=StreamPosition(token, True), run_id="broken"
        )
        sandbox.clear_log()
        with pytest.raises(errors.InvalidContinuationToken) as info:
            sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
        message = str(info.value)
        assert "HTTP 400" in message and "crm-pipeline reset-cursor export/customers" in message, what
        assert len(api_requests(sandbox)) == 1, f"{what} cursor: retried"
        assert read_position(conn, settings.tenant_id, CUSTOMERS.path).position == token  # nothing changed
    conn.close()  # the CLI opens the file read-write, as a user would with the pipeline stopped
    listed = cli(settings, "cursors")
    assert listed.returncode == 0 and "export/customers" in listed.stdout
    reset = cli(settings, "reset-cursor", "export/customers")
    assert reset.returncode == 0 and "reset" in reset.stdout, reset.stderr
    sandbox.change(CUSTOMERS.path, n=5)
    with duckdb.connect(settings.duckdb_path) as again:
        assert read_position(again, settings.tenant_id, CUSTOMERS.path) is None
        result = sync_export(client, again, CUSTOMERS, tenant_id=settings.tenant_id)
        assert result.started_from is None and not result.has_more
        assert differences(again, CUSTOMERS, settings.tenant_id, sandbox.records(CUSTOMERS.path)) == []


def test_reset_cursor_refuses_an_unknown_feed_and_a_locked_file_clearly(settings, conn):
    unknown = cli(settings, "reset-cursor", "export/customer")
    assert unknown.returncode == 2 and "unknown endpoint 'export/customer'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    ensure_raw_table(conn, CUSTOMERS)  # `conn` holds the file, as a running materialization would
    locked = cli(settings, "reset-cursor", "export/customers")
    assert locked.returncode == 1 and "cannot open" in locked.stderr and "Traceback" not in locked.stderr
