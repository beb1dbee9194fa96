"""The raw tables' asset checks: each passes on good data and fails on bad, run as Dagster runs them."""

from __future__ import annotations

import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from dagster._core.definitions.freshness import FreshnessState
from dagster._core.test_utils import freeze_time

from crm_pipeline.definitions import defs
from crm_pipeline.defs.servicetitan.checks import raw_table_checks
from crm_pipeline.defs.servicetitan.export_assets import build_export_assets
from crm_pipeline.defs.servicetitan.list_assets import LIST_OP, build_list_assets
from crm_pipeline_tests.dagster_helpers import check_results, run

export_assets, list_assets, raw_checks = [build_export_assets()], [build_list_assets()], raw_table_checks()

REPO = Path(__file__).resolve().parents[2]
EXPORT_CUSTOMERS = dg.AssetKey(["raw_export", "customers"])
LIST_CUSTOMERS = dg.AssetKey(["raw_list", "customers"])


def parts(key: dg.AssetKey) -> list:
    """The asset and its check ops."""
    asset = next(a for a in [*export_assets, *list_assets] if key in a.keys)
    checks = [c for c in raw_checks if any(k.asset_key == key for k in c.check_keys)]
    return [asset, *checks]


def walk(full: bool) -> dict:
    return {"ops": {LIST_OP: {"config": {"full_walk": full}}}}


def load(key, settings, instance, **kwargs) -> dict[str, dg.AssetCheckEvaluation]:
    """Materialize one raw asset with its checks; the checks' evaluations by "asset:check"."""
    asset, *checks = parts(key)
    selection = dg.AssetSelection.assets(key) | dg.AssetSelection.checks_for_assets(key)
    return check_results(run([asset], settings, instance, checks=checks, selection=selection, **kwargs))


def checks_only(key, settings, instance) -> dict[str, dg.AssetCheckEvaluation]:
    """Evaluate the asset's checks without materializing it (as the UI's "Execute checks" does)."""
    return check_results(
        run(parts(key), settings, instance, selection=dg.AssetSelection.checks_for_assets(key))
    )


def test_every_raw_table_has_its_checks_in_the_definitions():
    graph = defs().resolve_asset_graph()
    names = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    for key in [key for assets in [*export_assets, *list_assets] for key in assets.keys]:
        user = key.to_user_string()
        wanted = {"no_quarantined_rows", "primary_key_unique_not_null"}
        assert {(user, name) for name in wanted} <= names
    assert ("raw_list/customers", "row_count_matches_api") in names
    assert ("raw_list/customers_notes", "row_count_matches_api") not in names  # no totalCount across parents


def test_quarantine_check_fails_on_the_run_that_quarantined_and_passes_on_the_next(
    sandbox, settings, env, instance
):
    assert load(EXPORT_CUSTOMERS, settings, instance)["raw_export/customers:no_quarantined_rows"].passed
    bad = {**sandbox.records("export/customers")[0], "id": 9_000_000_001, "createdOn": "not a date"}
    sandbox.put("export/customers", bad)
    failed = load(EXPORT_CUSTOMERS, settings, instance)["raw_export/customers:no_quarantined_rows"]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.WARN
    assert failed.metadata["quarantined_in_run"].value == 1
    assert failed.metadata["sample"].value[0]["record_id"] == "9000000001"
    assert load(EXPORT_CUSTOMERS, settings, instance)["raw_export/customers:no_quarantined_rows"].passed


def test_primary_key_check_fails_on_duplicated_or_null_keys(settings, env, instance):
    assert load(EXPORT_CUSTOMERS, settings, instance)[
        "raw_export/customers:primary_key_unique_not_null"
    ].passed
    with duckdb.connect(settings.duckdb_path) as conn:  # a table without its constraints, then bad rows
        conn.execute("CREATE TABLE raw_export.kept AS SELECT * FROM raw_export.customers")
        conn.execute("DROP TABLE raw_export.customers")
        conn.execute("CREATE TABLE raw_export.customers AS SELECT * FROM raw_export.kept")
        conn.execute("INSERT INTO raw_export.customers SELECT * FROM raw_export.kept ORDER BY id LIMIT 2")
        conn.execute(
            "INSERT INTO raw_export.customers "
            "SELECT * REPLACE (NULL::BIGINT AS id) FROM raw_export.kept LIMIT 1"
        )
    failed = checks_only(EXPORT_CUSTOMERS, settings, instance)[
        "raw_export/customers:primary_key_unique_not_null"
    ]
    assert not failed.passed and failed.severity == dg.AssetCheckSeverity.ERROR
    assert failed.metadata["duplicated_keys"].value == 2 and failed.metadata["null_key_rows"].value == 1
    with duckdb.connect(settings.duckdb_path) as conn:
        doubled = {
            str(i) for (i,) in conn.execute("SELECT id FROM raw_export.kept ORDER BY id LIMIT 2").fetchall()
        }
    assert {row["id"] for row in failed.metadata["sample"].value} == doubled
    assert all(row["rows"] == "2" for row in failed.metadata["sample"].value)


def freshness_states(instance, key: dg.AssetKey) -> FreshnessState:
    """One iteration of Dagster's freshness daemon over the code location, then the asset's state."""
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import ModuleTarget
    from dagster._daemon.freshness import FreshnessDaemon

    target = ModuleTarget("crm_pipeline.definitions", None, str(REPO), None)
    with create_test_daemon_workspace_context(target, instance) as context:
        list(FreshnessDaemon().run_iteration(context))
    return instance.get_freshness_state_records([key])[key].freshness_state


@pytest.mark.parametrize(
    "key, warn, fail",
    [
        (
            EXPORT_CUSTOMERS,
            11 * 60,
            21 * 60,
        ),  # the sensor's 5-minute interval: WARN after 10 minutes, FAIL after 20
        (
            LIST_CUSTOMERS,
            2 * 3600 + 60,
            4 * 3600 + 60,
        ),  # the hourly schedule: WARN after 2 hours, FAIL after 4
    ],
    ids=["export", "list"],
)
def test_freshness_policy_warns_then_fails_without_a_load(settings, env, instance, key, warn, fail):
    policy = defs().resolve_asset_graph().get(key).freshness_policy
    assert isinstance(policy, dg.FreshnessPolicy)
    load(key, settings, instance)
    assert freshness_states(instance, key) == FreshnessState.PASS
    with freeze_time(time.time() + warn):
        assert freshness_states(instance, key) == FreshnessState.WARN
    with freeze_time(time.time() + fail):
        assert freshness_states(instance, key) == FreshnessState.FAIL


@pytest.mark.parametrize("full_walk", [False, True])
def test_reconciliation_passes_when_rows_match_the_api_total(sandbox, settings, env, instance, full_walk):
    first = load(LIST_CUSTOMERS, settings, instance)["raw_list/customers:row_count_matches_api"]
    assert first.passed and first.metadata["whole_walk"].value is True  # a first load walks everything
    assert first.metadata["api_total_count"].value == len(sandbox.records("customers"))
    sandbox.change("customers", n=3)
    sandbox.delete("customers", n=2)
    again = load(LIST_CUSTOMERS, settings, instance, run_config=walk(full_walk))
    result = again["raw_list/customers:row_count_matches_api"]
    assert result.passed and result.metadata["whole_walk"].value is full_walk
    assert result.metadata["live_rows"].value == len(sandbox.records("customers")) + (0 if full_walk else 2)


def test_reconciliation_fails_when_rows_are_missing_or_stale_rows_stay_live(sandbox, settings, env, instance):
    load(LIST_CUSTOMERS, settings, instance)
    with duckdb.connect(settings.duckdb_path) as conn:
        conn.execute("DELETE FROM raw_list.customers WHERE id IN (SELECT id FROM raw_list.customers LIMIT 3)")
    missing = checks_only(LIST_CUSTOMERS, settings, instance)["raw_list/customers:row_count_matches_api"]
    assert not missing.passed and missing.metadata["missing"].value == 3
    load(LIST_CUSTOMERS, settings, instance, run_config=walk(True))  # the whole walk brings them back
    with duckdb.connect(settings.duckdb_path) as conn:  # a row the API never had, stored before the walk
        conn.execute(
            "INSERT INTO raw_list.customers SELECT * REPLACE "
            "(-1 AS id, TIMESTAMPTZ '2020-01-01' AS _synced_at) FROM raw_list.customers LIMIT 1"
        )
    stale = checks_only(LIST_CUSTOMERS, settings, instance)["raw_list/customers:row_count_matches_api"]
    assert (
        not stale.passed
        and stale.metadata["live_rows"].value == stale.metadata["rows_written_by_run"].value + 1
    )
