"""Asset checks of the raw tables, evaluated with every materialization and shown in the UI.

- `no_quarantined_rows`: no record of the latest run failed validation (WARN; the rows wait in quarantine).
- `primary_key_unique_not_null`: one row per (tenant_id, key), no null key column (ERROR).
- `row_count_matches_api` (top-level list endpoints): stored rows against the API's `totalCount` (ERROR).
Freshness is not a check here: each raw asset has a Dagster `FreshnessPolicy` (freshness.py).
"""
# No `from __future__ import annotations` here: Dagster reads the check functions' annotations at runtime.

from collections.abc import Sequence

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    MetadataValue,
    multi_asset_check,
)

from crm_pipeline.catalog import ENDPOINTS, Endpoint
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.check_queries import (
    LatestLoad,
    key_problems,
    quarantined,
    reconcile,
    table_exists,
)
from crm_pipeline.ingest import strategy_of

QUARANTINE_CHECK = "no_quarantined_rows"
KEY_CHECK = "primary_key_unique_not_null"
RECONCILIATION_CHECK = "row_count_matches_api"


def _rows(rows: list[dict]) -> MetadataValue:
    return MetadataValue.json(rows)


def _quarantine_result(conn, endpoint: Endpoint, key: AssetKey, *, event) -> AssetCheckResult:
    run_id = event.run_id if event else None
    in_run, ever, sample = quarantined(conn, endpoint.path, run_id)
    return AssetCheckResult(
        asset_key=key,
        check_name=QUARANTINE_CHECK,
        passed=in_run == 0,
        severity=AssetCheckSeverity.WARN,
        description=f"{in_run} record(s) of run {run_id} quarantined" if in_run else "no record quarantined",
        metadata={
            "quarantined_in_run": in_run,
            "quarantined_all_runs": ever,
            "run_id": str(run_id),
            "sample": _rows(sample),
            "query": f"SELECT * FROM pipeline_state.quarantine WHERE stream = "
            f"'{endpoint.path}' AND run_id = '{run_id}'",
        },
    )


def _key_result(conn, endpoint: Endpoint, key: AssetKey) -> AssetCheckResult:
    nulls, dupes, sample = key_problems(conn, endpoint)
    return AssetCheckResult(
        asset_key=key,
        check_name=KEY_CHECK,
        passed=nulls == 0 and dupes == 0,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "null_key_rows": nulls,
            "duplicated_keys": dupes,
            "sample": _rows(sample),
            "key": ", ".join(("tenant_id", *endpoint.key)),
        },
    )


def _latest_load(context, event) -> LatestLoad | None:
    """The latest load's facts for the reconciliation; None when the API sent no totalCount."""
    total = event.asset_materialization.metadata.get("api_total_count") if event else None
    total = getattr(total, "value", total)
    if total is None or total < 0:
        return None
    run = context.instance.get_run_record_by_id(event.run_id)
    started = run.start_time if run and run.start_time else event.timestamp - 24 * 3600
    whole = event.asset_materialization.metadata.get("whole_walk")
    whole = bool(getattr(whole, "value", whole))  # the load says whether it walked everything
    return LatestLoad(run_id=event.run_id, started=started, api_total=total, whole_walk=whole)


def _reconciliation_result(
    conn, endpoint: Endpoint, *, key: AssetKey, load: LatestLoad | None, tenant_id: str
):
    if load is None:
        return AssetCheckResult(
            asset_key=key,
            check_name=RECONCILIATION_CHECK,
            passed=True,
            description="the API sent no totalCount on the latest load: nothing to compare",
        )
    rec = reconcile(conn, endpoint, tenant_id, load)
    total, whole = load.api_total, load.whole_walk
    return AssetCheckResult(
        asset_key=key,
        check_name=RECONCILIATION_CHECK,
        passed=rec.passed,
        severity=AssetCheckSeverity.ERROR,
        description=f"{'whole walk' if whole else 'incremental walk'}: the API counted {total}, the run "
        f"stored {rec.written} (+{rec.quarantined} quarantined); {rec.live} live rows in the table",
        metadata={
            "api_total_count": total,
            "rows_written_by_run": rec.written,
            "live_rows": rec.live,
            "quarantined_in_run": rec.quarantined,
            "whole_walk": whole,
            "missing": max(0, total - rec.written - rec.quarantined),
        },
    )


def _tenant(servicetitan: ServiceTitanResource, event) -> str:
    """The tenant of the latest load: its partition when tenants are partitions, else
    SERVICETITAN_TENANT_ID."""
    partition = event.asset_materialization.partition if event and event.asset_materialization else None
    return servicetitan.settings(partition).tenant_id


def check_specs(endpoint: Endpoint) -> list[AssetCheckSpec]:
    """The checks of one raw table: quarantine and key always, reconciliation for top-level lists."""
    key = AssetKey(endpoint.asset_key_path)
    specs = [
        AssetCheckSpec(
            QUARANTINE_CHECK,
            asset=key,
            description="No record of the latest run was quarantined "
            "(failed validation); see pipeline_state.quarantine.",
        ),
        AssetCheckSpec(
            KEY_CHECK,
            asset=key,
            description=f"(tenant_id, {', '.join(endpoint.key)}) is unique and never null.",
        ),
    ]
    if strategy_of(endpoint).counts_total:
        specs.append(
            AssetCheckSpec(
                RECONCILIATION_CHECK,
                asset=key,
                description="The rows the latest walk "
                "stored (plus those quarantined) add up to the API's totalCount; after a whole walk, no "
                "other row is live.",
            )
        )
    return specs


def build_raw_checks(endpoint: Endpoint) -> AssetChecksDefinition:
    """One check op per raw table (one DuckDB connection), each check its own result."""
    key = AssetKey(endpoint.asset_key_path)

    @multi_asset_check(
        specs=check_specs(endpoint),
        name=f"{key.path[0]}__{key.path[1]}__checks",
        can_subset=True,
        pool=DUCKDB_POOL,
    )
    def _checks(context: AssetCheckExecutionContext, duckdb: CrmDuckDB, servicetitan: ServiceTitanResource):
        """Validation, primary key and (list endpoints) reconciliation checks of one raw table."""
        event = context.instance.get_latest_materialization_event(key)
        with duckdb.raw_table_connection() as conn:
            present = table_exists(conn, endpoint.qualified_table)
            for check_key in context.selected_asset_check_keys:
                if not present:
                    yield AssetCheckResult(
                        asset_key=key,
                        check_name=check_key.name,
                        passed=False,
                        description=f"{endpoint.qualified_table} does not exist: never loaded",
                    )
                elif check_key.name == QUARANTINE_CHECK:
                    yield _quarantine_result(conn, endpoint, key, event=event)
                elif check_key.name == KEY_CHECK:
                    yield _key_result(conn, endpoint, key)
                else:
                    yield _reconciliation_result(
                        conn,
                        endpoint,
                        key=key,
                        load=_latest_load(context, event),
                        tenant_id=_tenant(servicetitan, event),
                    )

    return _checks


def raw_table_checks(endpoints: Sequence[Endpoint] = ENDPOINTS) -> list[AssetChecksDefinition]:
    """The check ops of the raw tables of `endpoints` (default: every endpoint of the catalog)."""
    return [build_raw_checks(ep) for ep in endpoints]
