"""Several tenants (SERVICETITAN_TENANTS) as Dagster partitions, loaded side by side into one DuckDB file."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.defs.servicetitan.sensors import plan_export_runs
from crm_pipeline.settings import Settings, SettingsError, tenant_ids
from crm_pipeline_tests.cli_runs import materialize_command
from crm_pipeline_tests.compare import differences
from crm_pipeline_tests.sandbox import Sandbox

TENANTS = ("1000001", "1000002")


def tenants_env(sandboxes: dict[str, Sandbox], duckdb_path: str) -> dict[str, str]:
    """SERVICETITAN_TENANTS plus each tenant's own credentials and URLs (the app key is shared)."""
    env = {
        "SERVICETITAN_TENANTS": ",".join(sandboxes),
        "CRM_DUCKDB_PATH": duckdb_path,
        "CRM_AUTOMATION": "off",
        "SERVICETITAN_APP_KEY": next(iter(sandboxes.values())).app_key,
    }
    for tenant, sb in sandboxes.items():
        for name, value in sb.env().items():
            if name not in ("SERVICETITAN_TENANT_ID", "SERVICETITAN_APP_KEY"):
                env[f"{name}__{tenant}"] = value
    return env


def test_per_tenant_settings_win_over_the_plain_ones_and_missing_ones_name_the_tenant():
    env = {
        "SERVICETITAN_TENANTS": " 7, 8,7 ",
        "SERVICETITAN_CLIENT_ID": "shared",
        "SERVICETITAN_CLIENT_SECRET": "s",
        "SERVICETITAN_APP_KEY": "k",
        "SERVICETITAN_CLIENT_SECRET__8": "eight",
    }
    assert tenant_ids(env) == ["7", "8"]
    assert (Settings.from_env(env, "7").client_secret, Settings.from_env(env, "8").client_secret) == (
        "s",
        "eight",
    )
    assert Settings.from_env(env, "8").tenant_id == "8" and Settings.from_env(env, "8").client_id == "shared"
    del env["SERVICETITAN_APP_KEY"]
    with pytest.raises(SettingsError, match=r"for tenant 8 .*SERVICETITAN_APP_KEY"):
        Settings.from_env(env, "8")


def test_the_export_sensor_requests_one_run_per_tenant_partition():
    with dg.DagsterInstance.ephemeral() as instance:
        plan = plan_export_runs(instance, None, time.time(), interval=300, tenants=list(TENANTS))
    feeds = [dg.AssetKey(ep.asset_key_path) for ep in EXPORT_FEEDS]
    assert plan.due == {TENANTS[0]: feeds, TENANTS[1]: feeds}
    assert set(plan.feeds) == {f"{t}/{ep.path}" for t in TENANTS for ep in EXPORT_FEEDS}


def test_two_tenants_load_side_by_side_without_mixing_rows(tmp_path):
    with (
        Sandbox(seed=41, sizes={"customers": 50}, page_size=20, tenant_id=TENANTS[0]) as a,
        Sandbox(seed=42, sizes={"customers": 70}, page_size=20, tenant_id=TENANTS[1]) as b,
    ):
        assert a.client_secret != b.client_secret  # each tenant's own credentials are needed
        env = {
            **os.environ,
            **tenants_env({TENANTS[0]: a, TENANTS[1]: b}, str(tmp_path / "crm.duckdb")),
            "DAGSTER_HOME": str(tmp_path / "dagster_home"),
        }
        env.pop("SERVICETITAN_TENANT_ID", None)
        os.makedirs(env["DAGSTER_HOME"])
        listed = subprocess.run(
            [sys.executable, "-m", "dagster", "asset", "list", "-m", "crm_pipeline.definitions"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert listed.returncode == 0, listed.stderr[-2000:]
        for tenant in TENANTS:
            done = subprocess.run(
                materialize_command("group:servicetitan_export", "--partition", tenant),
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stderr[-3000:]
        with duckdb.connect(str(tmp_path / "crm.duckdb"), read_only=True) as conn:
            for ep in EXPORT_FEEDS:
                for tenant, sb in ((TENANTS[0], a), (TENANTS[1], b)):
                    assert differences(conn, ep, tenant, sb.records(ep.path)) == [], (tenant, ep.path)
            ids = conn.execute(
                "SELECT tenant_id, list(id) FROM raw_export.customers GROUP BY tenant_id"
            ).fetchall()
            cursors = conn.execute(
                "SELECT DISTINCT tenant_id FROM pipeline_state.cursors ORDER BY 1"
            ).fetchall()
        by_tenant = {t: set(i) for t, i in ids}
        assert set(by_tenant) == set(TENANTS) and cursors == [(t,) for t in TENANTS]
        customers = endpoint("export/customers").path
        assert len(by_tenant[TENANTS[0]]) == len(a.records(customers)) != len(b.records(customers))
