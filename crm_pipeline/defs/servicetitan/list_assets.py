"""One asset per GET collection endpoint: `raw_list/<table>`, group `servicetitan_list`."""
# No `from __future__ import annotations` here: Dagster reads the asset functions' annotations at runtime.

from functools import partial

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Config, MaterializeResult, asset
from pydantic import Field

from crm_pipeline.catalog import LIST_ENDPOINTS, Endpoint
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.freshness import freshness_policy
from crm_pipeline.defs.servicetitan.metadata import definition_metadata
from crm_pipeline.defs.servicetitan.runs import materialize_stream
from crm_pipeline.defs.servicetitan.tenants import tenant_partitions
from crm_pipeline.list_sync import sync_list

LIST_GROUP = "servicetitan_list"


class ListConfig(Config):
    """Run settings of a list endpoint asset (editable in the launchpad)."""

    full_walk: bool = Field(
        default=False,
        description="Walk the whole endpoint (all parents) instead of what changed, and stamp _deleted_at on "
        "rows the API no longer returns. The weekly schedule sets it.",
    )


def _description(endpoint: Endpoint) -> str:
    how = (
        f"fetched for the parents in `{endpoint.parent.table}` stored or changed since the last run"
        if endpoint.parent else
        "incremental from a modifiedOnOrAfter watermark (with overlap)" if endpoint.incremental else
        "small: walked whole on every run, in one transaction"
    )
    return (f"{endpoint.description}\n\nRaw table `{endpoint.qualified_table}` from `GET {endpoint.path}`"
            f"{' with ' + '&'.join(f'{k}={v}' for k, v in endpoint.query.items()) if endpoint.query else ''}: "
            f"one row per ({', '.join(('tenant_id', *endpoint.key))}), current version, every field as sent; "
            f"{how}. A full walk stamps `_deleted_at` on rows the API no longer returns.")


def build_list_asset(endpoint: Endpoint) -> AssetsDefinition:
    @asset(
        key=AssetKey(endpoint.asset_key_path),
        group_name=LIST_GROUP,
        kinds={"servicetitan", "duckdb"},
        pool=DUCKDB_POOL,
        partitions_def=tenant_partitions,
        deps=[AssetKey(endpoint.parent.asset_key_path)] if endpoint.parent else [],
        description=_description(endpoint),
        metadata=definition_metadata(endpoint),
        freshness_policy=freshness_policy(endpoint),
    )
    def _list_asset(
        context: AssetExecutionContext, config: ListConfig, servicetitan: ServiceTitanResource, duckdb: CrmDuckDB
    ) -> MaterializeResult:
        return materialize_stream(context, servicetitan, duckdb, endpoint, partial(sync_list, full=config.full_walk))

    return _list_asset


list_assets = [build_list_asset(ep) for ep in LIST_ENDPOINTS]
