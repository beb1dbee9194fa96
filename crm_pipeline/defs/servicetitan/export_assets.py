"""One asset per export feed: `raw_export/<table>`, group `servicetitan_export`."""
# No `from __future__ import annotations` here: Dagster reads the asset functions' annotations at runtime.


from functools import partial

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, Config, MaterializeResult, asset
from pydantic import Field

from crm_pipeline.catalog import EXPORT_FEEDS, Endpoint
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.freshness import freshness_policy
from crm_pipeline.defs.servicetitan.metadata import definition_metadata
from crm_pipeline.defs.servicetitan.runs import materialize_stream
from crm_pipeline.defs.servicetitan.tenants import tenant_partitions
from crm_pipeline.sync import sync_export

EXPORT_GROUP = "servicetitan_export"


class ExportConfig(Config):
    """Run settings of an export feed asset (editable in the launchpad)."""

    start_date: str | None = Field(
        default=None, description="First run only: start at records modified since this date (YYYY-MM-DD)."
    )
    include_recent_changes: bool = Field(
        default=False, description="Ask the feed for the newest changes sooner (records may repeat; upsert absorbs it)."
    )


def build_export_asset(endpoint: Endpoint) -> AssetsDefinition:
    @asset(
        key=AssetKey(endpoint.asset_key_path),
        group_name=EXPORT_GROUP,
        kinds={"servicetitan", "duckdb"},
        pool=DUCKDB_POOL,
        partitions_def=tenant_partitions,
        description=f"{endpoint.description}\n\nRaw table `{endpoint.qualified_table}`: one row per "
        f"(tenant_id, id), current version, every field as sent. Resumes from the stored continueFrom cursor.",
        metadata=definition_metadata(endpoint),
        freshness_policy=freshness_policy(endpoint),
    )
    def _export_asset(
        context: AssetExecutionContext, config: ExportConfig, servicetitan: ServiceTitanResource, duckdb: CrmDuckDB
    ) -> MaterializeResult:
        sync = partial(sync_export, start=config.start_date, include_recent_changes=config.include_recent_changes)
        return materialize_stream(context, servicetitan, duckdb, endpoint, sync)

    return _export_asset


export_assets = [build_export_asset(ep) for ep in EXPORT_FEEDS]
