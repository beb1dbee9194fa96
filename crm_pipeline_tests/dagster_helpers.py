"""Helpers shared by the tests that run assets in process: their resources, a run that must succeed, and
the check evaluations of a run."""

from __future__ import annotations

import dagster as dg

from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource


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
