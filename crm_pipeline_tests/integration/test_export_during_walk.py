"""While a list run's parent fan-out goes on, an export run started by hand gets the DuckDB file, finishes
within a minute and publishes its rows to the read-only copy; both runs of the tenant stay under the API's
60/s together (fewer than 1% of answers are 429), and each asks for one access token. Real `dagster` CLI runs
against a sandbox that limits the tenant to 60 requests/s. Two runs walking parents of one tenant side by side
keep under that limit together too."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.ingest import sync_list
from crm_pipeline.settings import Settings
from crm_pipeline_tests.cli_runs import cli_env, finish, prepare_home, requested_parents, start
from crm_pipeline_tests.compare import differences, served
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.sandbox import Sandbox

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")
PARENTS = 3300  # 55 s of fan-out at 60/s: the export run (220 pages, 20 s of start-up and checks) fits inside
EXPORT_WITHIN_SECONDS = 60


def test_an_export_run_started_during_a_fan_out_finishes_within_a_minute_under_one_budget(tmp_path):
    with Sandbox(seed=51, sizes={"customers": PARENTS}, page_size=100, rate_limit=60) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        with make_client(settings) as client, duckdb.connect(settings.duckdb_path) as conn:
            sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
        env = cli_env(sb, settings.duckdb_path, tmp_path / "dagster_home")
        prepare_home(env)
        time.sleep(1.0)  # the sandbox's one-second bucket refills
        sb.clear_log()
        tokens_before = sb.token_requests
        listing = start("raw_list/customers_notes", env, tmp_path / "list.log")
        deadline = time.monotonic() + 60
        while len(requested_parents(sb)) < 150 and listing.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listing.poll() is None and len(requested_parents(sb)) >= 150, (
            tmp_path / "list.log"
        ).read_text()[-3000:]
        began = time.monotonic()
        export = start("group:servicetitan_export", env, tmp_path / "export.log")
        finish(export, tmp_path / "export.log", timeout=EXPORT_WITHIN_SECONDS + 30)
        took = time.monotonic() - began
        walked = len(set(requested_parents(sb)))
        assert listing.poll() is None and walked < PARENTS, "the list run ended before the export run"
        assert took < EXPORT_WITHIN_SECONDS, f"the export run took {took:.0f} s"
        copy = Path(settings.duckdb_path).with_name("crm_readonly.duckdb")
        with duckdb.connect(str(copy), read_only=True) as conn:  # the export run's rows reached the analysts
            for ep in EXPORT_FEEDS:
                assert differences(conn, ep, settings.tenant_id, sb.records(ep.path)) == [], ep.path
        finish(listing, tmp_path / "list.log")
        log = sb.request_log
        limited = sum(1 for e in log if e.status == 429)
        print(
            f"export run {took:.1f} s, list run had walked {walked} parents then; {limited} of {len(log)} "
            f"answers 429; {sb.token_requests - tokens_before} token requests"
        )
        assert limited < 0.01 * len(log), f"{limited} of {len(log)} answers were 429"
        assert sb.token_requests - tokens_before == 2, "one access token per run and tenant"
        with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
            assert differences(conn, NOTES, settings.tenant_id, served(sb, NOTES)) == []


def test_two_runs_walking_parents_of_one_tenant_share_its_rate_limit(tmp_path):
    """Two fan-outs of one tenant in two processes: each alone would go at the client's 60/s."""
    walks = {
        "raw_list/customers_notes": endpoint("raw_list.customers_notes"),
        "raw_list/locations_notes": endpoint("raw_list.locations_notes"),
    }
    with Sandbox(seed=52, sizes={"customers": 500}, rate_limit=60) as sb:
        settings = Settings.from_env({**sb.env(), "CRM_DUCKDB_PATH": str(tmp_path / "crm.duckdb")})
        with make_client(settings) as client, duckdb.connect(settings.duckdb_path) as conn:
            for ep in (CUSTOMERS, endpoint("raw_list.locations")):
                sync_list(client, conn, ep, tenant_id=settings.tenant_id)
        env = cli_env(sb, settings.duckdb_path, tmp_path / "dagster_home")
        prepare_home(env)
        time.sleep(1.0)  # the sandbox's one-second bucket refills
        sb.clear_log()
        logs = [tmp_path / f"walk{n}.log" for n in range(len(walks))]
        runs = [(start(selection, env, log), log) for selection, log in zip(walks, logs, strict=False)]
        for proc, log in runs:
            finish(proc, log)
        log = sb.request_log
        limited = sum(1 for e in log if e.status == 429)
        print(f"{limited} of {len(log)} answers 429")
        assert limited < 0.01 * len(log), f"{limited} of {len(log)} answers were 429"
        assert sum(1 for e in log if e.path.endswith("/connect/token")) == 2, "one access token per run"
        with duckdb.connect(settings.duckdb_path, read_only=True) as conn:
            for ep in walks.values():
                assert differences(conn, ep, settings.tenant_id, served(sb, ep)) == [], ep.path
