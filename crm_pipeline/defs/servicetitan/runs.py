"""What the raw multi-assets do around their syncs: endpoints side by side on threads, progress, reports.

A step loads its selected endpoints concurrently (they mostly wait on the API), with one client per
tenant shared by every thread: one access token and one rate limit. Each endpoint's sync leases the
DuckDB file only to commit. An endpoint that fails does not stop the others: each finished endpoint
yields its materialization, and the step then fails naming the endpoints that did not load.
"""

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    StaticPartitionsDefinition,
)

from crm_pipeline.catalog import Endpoint
from crm_pipeline.defs.resources import CrmDuckDB, ServiceTitanResource
from crm_pipeline.defs.servicetitan.metadata import definition_metadata, run_metadata
from crm_pipeline.defs.servicetitan.progress import Progress
from crm_pipeline.defs.servicetitan.tenants import tenant_partitions
from crm_pipeline.defs.servicetitan.versions import table_version
from crm_pipeline.ingest import StreamJob, SyncResult
from crm_pipeline.servicetitan.errors import CredentialsRejected
from crm_pipeline.storage.backend import backend_of
from crm_pipeline.storage.checkpoints import checkpoint
from crm_pipeline.storage.tables import table_row_count

TENANT_WIDE = (CredentialsRejected,)  # errors that stop every endpoint of the tenant alike
ENDPOINT_THREADS = 6  # endpoints loaded at once in a step; fan-outs add their own workers

# (client, store, endpoint, tenant_id=, run_id=, on_page=) -> SyncResult: ingest.sync_endpoint and its options
Sync = Callable[..., SyncResult]


def raw_spec(
    endpoint: Endpoint, *, group: str, description: str, partitions: StaticPartitionsDefinition | None
) -> AssetSpec:
    """The asset of one endpoint inside a raw multi-asset (after its parent's, for a parent-scoped one):
    partitioned by tenant when there are several (its freshness: the code location's, defs/location.py)."""
    return AssetSpec(
        key=AssetKey(endpoint.asset_key_path),
        group_name=group,
        kinds={"servicetitan", "duckdb"},
        partitions_def=partitions,
        # An endpoint that fails (a missing scope) does not stop the others: it is not materialized.
        skippable=True,
        deps=[AssetKey(endpoint.parent.asset_key_path)] if endpoint.parent else [],
        description=description,
        metadata=definition_metadata(endpoint),
    )


def raw_specs(
    endpoints: Sequence[Endpoint], *, group: str, describe: Callable[[Endpoint], str], tenants: Sequence[str]
) -> tuple[list[AssetSpec], StaticPartitionsDefinition | None]:
    """The specs of a raw multi-asset's endpoints and its partitions: one per tenant of `tenants` (none: one
    tenant, unpartitioned)."""
    partitions = tenant_partitions(tenants)
    specs = [raw_spec(ep, group=group, description=describe(ep), partitions=partitions) for ep in endpoints]
    return specs, partitions


def selected(context: AssetExecutionContext, endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """The endpoints of a multi-asset that this run materializes (a subset, or all)."""
    keys = context.selected_asset_keys
    return [ep for ep in endpoints if AssetKey(ep.asset_key_path) in keys]


def materialize_endpoints(
    context: AssetExecutionContext,
    *,
    servicetitan: ServiceTitanResource,
    duckdb: CrmDuckDB,
    endpoints: Sequence[Endpoint],
    sync: Sync,
) -> Iterator[MaterializeResult]:
    """Sync `endpoints` side by side (a child after its parent, when both are selected) and yield each
    one's materialization as it finishes; then fail if any endpoint failed."""
    tenant = context.partition_key if context.has_partition_key else None
    tenant_id = servicetitan.settings(tenant).tenant_id
    store = duckdb.raw_table_store(tables=min(len(endpoints), ENDPOINT_THREADS))
    failures: dict[str, BaseException] = {}
    with servicetitan.client(tenant) as client, ThreadPoolExecutor(ENDPOINT_THREADS, "crm-endpoint") as pool:

        def start(ep: Endpoint) -> Future:
            job = StreamJob(client, store, ep, tenant_id, history=duckdb.history)
            return pool.submit(_load, context, job, sync=sync)

        waiting = {ep.parent.table: [] for ep in endpoints if ep.parent}
        running: dict[Future, Endpoint] = {}
        names = {ep.qualified_table for ep in endpoints}
        for ep in endpoints:
            if ep.parent and ep.parent.table in names:
                waiting[ep.parent.table].append(ep)  # started once its parent is loaded
            else:
                running[start(ep)] = ep
        while running:
            done, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for future in done:
                ep = running.pop(future)
                for child in waiting.pop(ep.qualified_table, []):
                    running[start(child)] = child  # even if the parent failed: its stored rows stand
                try:
                    yield future.result()
                except TENANT_WIDE:
                    raise  # no endpoint can load: the rest would fail the same way
                except Exception as error:  # noqa: BLE001 - reported below, with every other failure
                    failures[ep.path] = error
                    context.log.error(f"{ep.path} [{tenant_id}] failed: {error}")
    if failures:
        raise Failure(description=_failure_text(failures, len(endpoints)))


def _failure_text(failures: dict[str, BaseException], count: int) -> str:
    """One line per distinct error, naming the endpoints it stopped."""
    by_error: dict[str, list[str]] = {}
    for path, error in failures.items():
        by_error.setdefault(f"{type(error).__name__}: {error}", []).append(path)
    lines = [f"{', '.join(paths)}: {text}" for text, paths in by_error.items()]
    return f"{len(failures)} of {count} endpoints failed (the others loaded):\n" + "\n".join(lines)


def _load(context: AssetExecutionContext, job: StreamJob, *, sync: Sync) -> MaterializeResult:
    """One endpoint: its sync, then its row count and data version (in one short lease)."""
    store, endpoint, tenant_id = job.store, job.endpoint, job.tenant_id
    progress = Progress(context.log, endpoint, tenant_id)
    result = sync(
        job.client,
        store,
        endpoint,
        tenant_id=tenant_id,
        run_id=context.run.run_id,
        history=job.history,
        on_page=progress.page,
    )
    with store.lease() as conn:
        rows = table_row_count(conn, endpoint, tenant_id)
        version = table_version(conn, endpoint, tenant_id)  # moves only when rows changed: drives SQL models
        if backend_of(
            conn
        ).checkpoints:  # its rows into the file: their memory is free for the endpoints loading
            checkpoint(conn, endpoint)
    progress.done(result, rows)
    return MaterializeResult(
        asset_key=AssetKey(endpoint.asset_key_path), metadata=run_metadata(result, rows), data_version=version
    )
