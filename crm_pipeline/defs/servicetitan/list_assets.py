"""The list endpoints: one asset per GET collection endpoint, `raw_list/<table>` in group `servicetitan_list`,
defined by one subsettable multi-asset whose selected endpoints load side by side on threads (a
parent-scoped endpoint after its parent; see runs.py)."""
# No `from __future__ import annotations` here: Dagster reads the asset functions' annotations at runtime.

from collections.abc import Callable, Sequence
from functools import partial

from dagster import AssetExecutionContext, AssetsDefinition, Config, multi_asset
from pydantic import Field

from crm_pipeline.catalog import LIST_ENDPOINTS, Endpoint
from crm_pipeline.defs.resources import DUCKDB_POOL, CrmDuckDB, ServiceTitanResource, walk_settings_now
from crm_pipeline.defs.servicetitan.runs import materialize_endpoints, raw_specs, selected
from crm_pipeline.defs.servicetitan.walk_settings import WalkSettings
from crm_pipeline.ingest import strategy_of, sync_list

LIST_GROUP = "servicetitan_list"
LIST_OP = "servicetitan_list_endpoints"


class ListConfig(Config):
    """Run settings of the list endpoints (editable in the launchpad; for every selected endpoint)."""

    full_walk: bool = Field(
        default=False,
        description="Walk the whole endpoint (all parents) instead of what changed, and stamp _deleted_at on "
        "rows the API no longer returns. The weekly schedule sets it. A parent walk in progress is finished "
        "first.",
    )


def _description(endpoint: Endpoint) -> str:
    how = strategy_of(endpoint).describe(endpoint)
    return (
        f"{endpoint.description}\n\nRaw table `{endpoint.qualified_table}` from `GET {endpoint.path}`"
        f"{' with ' + '&'.join(f'{k}={v}' for k, v in endpoint.query.items()) if endpoint.query else ''}: "
        f"one row per ({', '.join(('tenant_id', *endpoint.key))}), current version, every field as sent; "
        f"{how}. A full walk stamps `_deleted_at` on rows the API no longer returns."
    )


def build_list_assets(
    *,
    tenants: Sequence[str] = (),
    walk: Callable[[], WalkSettings] = walk_settings_now,
    endpoints: Sequence[Endpoint] = LIST_ENDPOINTS,
) -> AssetsDefinition:
    """The multi-asset of the list endpoints `endpoints` (default: all): partitioned by `tenants` (none: one
    tenant), its parent walks as `walk` says at a run's start."""
    specs, partitions = raw_specs(endpoints, group=LIST_GROUP, describe=_description, tenants=tenants)

    @multi_asset(
        name=LIST_OP,
        specs=specs,
        can_subset=True,
        pool=DUCKDB_POOL,
        partitions_def=partitions,
        description="The selected list endpoints, side by side; parent-scoped ones after their parents.",
    )
    def _list_endpoints(
        context: AssetExecutionContext,
        config: ListConfig,
        servicetitan: ServiceTitanResource,
        duckdb: CrmDuckDB,
    ):
        sync = partial(
            sync_list, full=config.full_walk, fan_out=walk().fan_out_options(servicetitan.rate_limit)
        )
        yield from materialize_endpoints(
            context,
            servicetitan=servicetitan,
            duckdb=duckdb,
            endpoints=selected(context, endpoints),
            sync=sync,
        )

    return _list_endpoints
