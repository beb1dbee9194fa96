"""Fixtures and helpers shared by the automation, checks and concurrency tests: a Dagster instance, the
sandbox's settings in the environment, and in-process runs of the raw assets against them."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource


@pytest.fixture
def env(sandbox, settings, monkeypatch) -> dict:
    """The sandbox's SERVICETITAN_* settings and the test's DuckDB file, exported like a user would."""
    for name, value in {**sandbox.env(), "CRM_DUCKDB_PATH": settings.duckdb_path}.items():
        monkeypatch.setenv(name, value)
    return {**os.environ}


@pytest.fixture
def instance():
    """A throwaway Dagster instance (run and event storage in a temp folder)."""
    with dg.instance_for_test() as inst:
        yield inst


def resources(settings, readonly_copy: str | None = None) -> dict:
    return {
        "servicetitan": ServiceTitanResource(),
        "duckdb": CrmDuckDB(database=settings.duckdb_path, readonly_copy=readonly_copy),
    }


def run(
    assets, settings, instance, *, selection=None, run_config=None, checks=()
) -> dg.ExecuteInProcessResult:
    """Materialize `assets` (or `selection` of them) in process on `instance`; the run must succeed."""
    result = dg.materialize(
        [*assets, *checks],
        selection=selection,
        instance=instance,
        resources=resources(settings),
        run_config=run_config,
    )
    assert result.success
    return result


def check_results(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """`{"raw_export/customers:no_quarantined_rows": evaluation}` for every check the run evaluated."""
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}
