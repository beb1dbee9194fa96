"""The export feeds: one asset per feed, `raw_export/<table>` in group `servicetitan_export`, defined by one
subsettable multi-asset whose selected feeds load side by side on threads (see runs.py)."""
# No `from __future__ import annotations` here: Dagster reads the asset functions' annotations at runtime.

from collections.abc import Sequence
from functools import partial

from dagster import AssetExecutionContext, AssetsDefinition, Config, multi_asset
from pydantic import Field

from crm_pipeline.catalog import EXPORT_FEEDS, Endpoint
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.runs import materialize_endpoints, raw_specs, selected
from crm_pipeline.ingest import sync_export

EXPORT_GROUP = "servicetitan_export"
EXPORT_OP = "servicetitan_export_feeds"


class ExportConfig(Config):
    """Run settings of the export feeds (editable in the launchpad; they apply to every selected feed)."""

    start_date: str | None = Field(
        default=None, description="First run only: start at records modified since this date (YYYY-MM-DD)."
    )
    include_recent_changes: bool = Field(
        default=False,
        description="Ask the feed for the newest changes sooner (records may repeat; upsert absorbs it).",
    )


def export_description(endpoint: Endpoint) -> str:
    return (
        f"{endpoint.description}\n\nRaw table `{endpoint.qualified_table}`: one row per (tenant_id, id), "
        "current version, every field as sent. Resumes from the stored continueFrom cursor."
    )


def build_export_assets(
    *, tenants: Sequence[str] = (), feeds: Sequence[Endpoint] = EXPORT_FEEDS
) -> AssetsDefinition:
    """The multi-asset of the export feeds `feeds` (default: all): partitioned by `tenants` (none: one
    tenant)."""
    specs, partitions = raw_specs(feeds, group=EXPORT_GROUP, describe=export_description, tenants=tenants)

    @multi_asset(
        name=EXPORT_OP,
        specs=specs,
        can_subset=True,
        pool=DUCKDB_POOL,
        partitions_def=partitions,
        description="The selected export feeds, side by side, each from its stored continueFrom cursor.",
    )
    def _export_feeds(
        context: AssetExecutionContext,
        config: ExportConfig,
        servicetitan: ServiceTitanResource,
        duckdb: CrmDuckDB,
    ):
        sync = partial(
            sync_export, start=config.start_date, include_recent_changes=config.include_recent_changes
        )
        yield from materialize_endpoints(
            context, servicetitan=servicetitan, duckdb=duckdb, endpoints=selected(context, feeds), sync=sync
        )

    return _export_feeds
