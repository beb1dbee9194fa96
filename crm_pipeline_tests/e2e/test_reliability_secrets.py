"""Secrets never leak: not in run output, Dagster's run storage and logs, asset metadata or the database.

Runs go through the `dagster` CLI (DAGSTER_HOME in tmp_path, the client's and httpx's Python logs
captured down to DEBUG into the event log) and through `dg.materialize` with a real instance in
tmp_path, with retries, short-lived tokens and failing credentials so that every error path writes
something. Then every file under each Dagster home, the captured stdout/stderr and the DuckDB file
(bytes, and every text column via SQL) are searched for the client secret, the app key, the wrong
values tried, and every access token the sandbox issued (also URL- and base64-encoded).
A plain `http://` URL to anything but loopback is refused before any credential is sent.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote_plus

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import Settings, SettingsError
from crm_pipeline_tests.sandbox import Sandbox

export_assets = [build_export_assets()]

FIRST_FEED = dg.AssetKey(EXPORT_FEEDS[0].asset_key_path)  # export/customers
SECOND_FEED = dg.AssetKey(EXPORT_FEEDS[1].asset_key_path)

WRONG_SECRET = "wrong-" + "client-secret-51f0c2"  # split so that no traceback line holds them whole
WRONG_APP_KEY = "wrong-" + "app-key-88d1e3"
DAGSTER_YAML = """\
python_logs:
  python_log_level: DEBUG
  managed_python_loggers: [crm_pipeline.servicetitan, httpx, httpcore]
telemetry:
  enabled: false
"""


def record_issued_tokens(sb: Sandbox) -> list[str]:
    """Every access token the sandbox hands out from now on (its Tokens forget expired ones)."""
    issued: list[str] = []
    issue = sb.tokens.issue

    def recording(tenant: str, ttl: float) -> str:
        token = issue(tenant, ttl)
        issued.append(token)
        return token

    sb.tokens.issue = recording
    return issued


def encodings(secret: str) -> set[bytes]:
    forms = {
        secret,
        quote_plus(secret),
        base64.b64encode(secret.encode()).decode(),
        base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
    }
    return {f.encode() for f in forms}


def leaks_in_bytes(data: bytes, secrets: list[str]) -> list[str]:
    return [s[:12] + "…" for s in secrets if any(form in data for form in encodings(s))]


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def leaks_in_tree(root: Path, secrets: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in files_under(root):
        leaked = leaks_in_bytes(path.read_bytes(), secrets)
        if leaked:
            found[str(path.relative_to(root))] = leaked
    return found


def leaks_in_duckdb(path: str, secrets: list[str]) -> list[str]:
    """Secrets found in any text column of any table (the file's bytes may be compressed)."""
    found = []
    with duckdb.connect(path, read_only=True) as conn:
        columns = conn.execute(
            "SELECT schema_name, table_name, column_name FROM duckdb_columns() "
            "WHERE data_type IN ('VARCHAR', 'JSON') AND NOT internal"
        ).fetchall()
        for schema, table, column in columns:
            for secret in secrets:
                hits = conn.execute(
                    f'SELECT count(*) FROM "{schema}"."{table}" WHERE contains("{column}"::VARCHAR, ?)',
                    [secret],
                ).fetchone()[0]
                if hits:
                    found.append(f"{schema}.{table}.{column}: {secret[:12]}…")
        names = [row[0] for row in conn.execute("SELECT column_name FROM duckdb_columns()").fetchall()]
    return found + [f"column name {n[:12]}…" for n in names if any(s in n for s in secrets)]


def text_values(path: str) -> int:
    with duckdb.connect(path, read_only=True) as conn:
        return conn.execute("SELECT count(*) FROM raw_export.customers WHERE name IS NOT NULL").fetchone()[0]


@pytest.fixture
def sb():
    with Sandbox(seed=41, sizes={"customers": 200}, page_size=10, token_ttl=1.5) as sandbox:
        yield sandbox


def materialize_revoking_tokens(sb: Sandbox, env: dict) -> subprocess.CompletedProcess:
    """`dg launch` of the first feed, its tokens revoked mid-run."""
    command = [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "crm_pipeline.definitions"]
    command += ["--select", "raw_export/customers"]
    stop = threading.Event()

    def revoke_tokens():  # three times mid-run, between two requests: a 401, a renewal and their log lines
        for after in (3, 7, 11):
            while sum("/export/" in e.path for e in sb.request_log) < after:
                if stop.wait(0.01):
                    return
            sb.expire_tokens()

    revoker = threading.Thread(target=revoke_tokens, daemon=True)
    revoker.start()
    try:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    finally:
        stop.set()
        revoker.join()


def test_no_secret_in_cli_output_dagster_home_or_duckdb(sb, tmp_path):
    issued = record_issued_tokens(sb)
    sb.token_ttl = 900  # tokens die by revocation only, at known moments
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    db = str(tmp_path / "crm.duckdb")
    env = {**os.environ, **sb.env(), "CRM_DUCKDB_PATH": db, "DAGSTER_HOME": str(home)}
    sb.faults.set_rates(
        {"429": 0.05, "500": 0.05, "truncate": 0.05, "slow": 0.1}, seed=3, retry_after=0, delay=0.3
    )
    good = materialize_revoking_tokens(sb, env)
    assert good.returncode == 0, good.stderr[-3000:]
    secrets = [sb.client_secret, sb.app_key, *issued]
    assert len(issued) == 4, "each revoked token should have been renewed once"
    # the search reads the right places: what should be there is found there
    output = (good.stdout + good.stderr).encode()
    assert b"raw_export/customers" in output and b"RUN_SUCCESS" in output
    assert any(b"renewing it once" in p.read_bytes() for p in files_under(home)), (
        "no token was refused mid-run"
    )
    assert any(b"retry" in p.read_bytes() for p in files_under(home)), (
        "the client's retry logs were not captured"
    )
    assert any(b"HTTP Request: GET" in p.read_bytes() for p in files_under(home)), (
        "httpx logs were not captured"
    )
    assert text_values(db) > 0
    assert leaks_in_bytes(output, secrets) == []
    assert leaks_in_tree(home, secrets) == {}
    databases = sorted(tmp_path.glob("*.duckdb"))  # the file and the read-only copy published after the run
    assert len(databases) == 2, databases
    for path in tmp_path.glob("*.duckdb*"):  # with any .wal
        assert leaks_in_bytes(path.read_bytes(), secrets) == [], path.name
    for path in databases:
        assert leaks_in_duckdb(str(path), secrets) == [], path.name


def test_no_secret_in_an_in_process_instance_or_asset_metadata(sb, tmp_path, monkeypatch):
    issued = record_issued_tokens(sb)
    sb.page_size = 80
    db = str(tmp_path / "crm.duckdb")
    for name, value in {**sb.env(), "CRM_DUCKDB_PATH": db}.items():
        monkeypatch.setenv(name, value)
    sb.faults.set_rates({"429": 0.05, "500": 0.05, "badjson": 0.05}, seed=4, retry_after=0)
    resources = {"servicetitan": ServiceTitanResource(), "duckdb": CrmDuckDB(database=db)}
    home = tmp_path / "instance"
    home.mkdir()
    instance = dg.DagsterInstance.local_temp(
        tempdir=str(home),
        overrides={
            "python_logs": {
                "python_log_level": "DEBUG",
                "managed_python_loggers": ["crm_pipeline.servicetitan", "httpx"],
            }
        },
    )
    with instance:
        result = dg.materialize(export_assets, resources=resources, instance=instance)
        assert result.success
        metadata = [str(e.materialization.metadata) for e in result.get_asset_materialization_events()]
        assert len(metadata) == len(EXPORT_FEEDS)
        monkeypatch.setenv("SERVICETITAN_CLIENT_SECRET", WRONG_SECRET)
        failed = dg.materialize(
            export_assets,
            selection=[FIRST_FEED],
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not failed.success
        error = str(failed.get_step_failure_events()[0].step_failure_data.error)
        assert "refused" in error and "SERVICETITAN_CLIENT_SECRET" in error
        monkeypatch.setenv("SERVICETITAN_CLIENT_SECRET", sb.client_secret)
        monkeypatch.setenv("SERVICETITAN_APP_KEY", WRONG_APP_KEY)
        refused = dg.materialize(
            export_assets,
            selection=[SECOND_FEED],
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        assert not refused.success
        error += str(refused.get_step_failure_events()[0].step_failure_data.error)
        assert "HTTP 403" in error and "SERVICETITAN_APP_KEY" in error
    secrets = [sb.client_secret, sb.app_key, WRONG_SECRET, WRONG_APP_KEY, *issued]
    assert len(issued) >= 2
    assert leaks_in_bytes("\n".join(metadata + [error]).encode(), secrets) == []
    assert any(b"cursor_position" in p.read_bytes() for p in files_under(home)), (
        "the metadata was not stored here"
    )
    assert leaks_in_tree(home, secrets) == {}
    assert leaks_in_duckdb(db, secrets) == []


def test_settings_and_client_do_not_show_secrets(sb):
    settings = Settings.from_env(sb.env())
    with ServiceTitanClient(settings) as client:
        client.get_json("export/customers")
        shown = "\n".join(
            [repr(settings), str(settings), repr(client), repr(client._auth), str(client.stats)]
        )
        tokens = list(client._auth.seen_tokens)
    assert leaks_in_bytes(shown.encode(), [sb.client_secret, sb.app_key, *tokens]) == []


LOOPBACK_OK = [
    "http://127.0.0.1:8765",
    "http://localhost:1/x",
    "http://LOCALHOST",
    "http://[::1]:8080",
    "https://api.servicetitan.io",
    "https://auth.servicetitan.io/connect/token",
]
REFUSED = [
    "http://api.servicetitan.io",
    "http://auth-integration.servicetitan.io/connect/token",
    "http://127.0.0.1.nip.io",
    "http://localhost@evil.example",
    "http://127.0.0.1:80@evil.example/",
    "http://10.0.0.5",
    "http://0.0.0.0:8080",
    "ftp://api.servicetitan.io",
    "api.servicetitan.io",
    "HTTP://EVIL.EXAMPLE",
    "//evil.example",
    "http:///nohost",
]


@pytest.mark.parametrize("variable", ["SERVICETITAN_API_URL", "SERVICETITAN_AUTH_URL"])
@pytest.mark.parametrize("url", REFUSED)
def test_plain_http_off_loopback_is_refused(sb, variable, url):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({**sb.env(), variable: url})
    assert variable in str(info.value) and "https" in str(info.value)


@pytest.mark.parametrize("url", LOOPBACK_OK)
def test_https_and_loopback_http_are_accepted(sb, url):
    assert Settings.from_env({**sb.env(), "SERVICETITAN_API_URL": url}).api_url == url.rstrip("/")


def test_a_refused_url_fails_the_run_before_any_credential_is_sent(sb, tmp_path, monkeypatch):
    for name, value in {**sb.env(), "SERVICETITAN_AUTH_URL": "http://auth.example.com/connect/token"}.items():
        monkeypatch.setenv(name, value)
    before = sb.token_requests
    resources = {
        "servicetitan": ServiceTitanResource(),
        "duckdb": CrmDuckDB(database=str(tmp_path / "crm.duckdb")),
    }
    result = dg.materialize(export_assets, selection=[FIRST_FEED], resources=resources, raise_on_error=False)
    assert not result.success
    error = str(result.get_step_failure_events()[0].step_failure_data.error)
    assert "SERVICETITAN_AUTH_URL" in error and "https" in error
    assert sb.token_requests == before and sb.request_log == []
