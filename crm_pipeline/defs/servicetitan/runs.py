"""What every raw asset does around its sync: open the client and the DuckDB file, log progress, report."""

import time
from collections.abc import Callable

from dagster import AssetExecutionContext, MaterializeResult

from crm_pipeline.catalog import Endpoint
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.metadata import run_metadata
from crm_pipeline.defs.servicetitan.versions import table_version
from crm_pipeline.sync import SyncResult, table_row_count

PROGRESS_EVERY_SECONDS = 2.0  # a progress line at most this often; the run's last line gives the totals

# (client, conn, endpoint, tenant_id, run_id, on_page) -> SyncResult
Sync = Callable[..., SyncResult]


def materialize_stream(
    context: AssetExecutionContext, servicetitan: ServiceTitanResource, duckdb: CrmDuckDB, endpoint: Endpoint,
    sync: Sync,
) -> MaterializeResult:
    """Run `sync` for `endpoint` (for the run's tenant partition, if any), logging progress, and report."""
    tenant = context.partition_key if context.has_partition_key else None
    tenant_id = servicetitan.settings(tenant).tenant_id

    logged_at = time.monotonic()

    def log_progress(result: SyncResult) -> None:
        nonlocal logged_at
        if result.pages > 1 and time.monotonic() - logged_at < PROGRESS_EVERY_SECONDS:
            return  # each line is an event written to Dagster's storage: 25 ms when every page logged one
        logged_at = time.monotonic()
        context.log.info(
            f"{endpoint.path} [{tenant_id}]: page {result.pages}, {result.records_received} records "
            f"({result.records_per_second:,.0f}/s), {result.quarantined} quarantined"
        )

    with servicetitan.client(tenant) as client, duckdb.raw_table_connection() as conn:
        result = sync(client, conn, endpoint, tenant_id, run_id=context.run.run_id, on_page=log_progress)
        rows = table_row_count(conn, endpoint, tenant_id)
        version = table_version(conn, endpoint, tenant_id)  # moves only when rows changed: drives SQL models
    context.log.info(
        f"{endpoint.path} [{tenant_id}]: done, {result.pages} pages, {result.records_received} records "
        f"({result.records_per_second:,.0f}/s), {result.quarantined} quarantined, {result.rows_upserted} rows "
        f"upserted, {rows} in the table"
    )
    return MaterializeResult(metadata=run_metadata(result, rows), data_version=version)
