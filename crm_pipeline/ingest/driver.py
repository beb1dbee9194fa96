"""The one driver of every stream: it runs the strategy the catalog names for an endpoint.

Adding an endpoint of a known kind is one catalog entry; adding a kind is one `Strategy` class, named
in STRATEGIES.
"""

from __future__ import annotations

import time
from dataclasses import replace

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest.export import ExportFeed
from crm_pipeline.ingest.fanout import ParentFanOut
from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.lists import WatermarkList, WholeList
from crm_pipeline.ingest.result import ApiUsage, ProgressCallback, SyncResult
from crm_pipeline.ingest.strategy import Strategy, SyncOptions
from crm_pipeline.storage.stores import as_store

STRATEGIES: dict[str, type[Strategy]] = {
    kind.name: kind for kind in (ExportFeed, WatermarkList, WholeList, ParentFanOut)
}


def strategy_of(endpoint: Endpoint) -> type[Strategy]:
    """The kind of stream the catalog names for `endpoint`."""
    return STRATEGIES[endpoint.strategy]


def sync(
    job: StreamJob, options: SyncOptions | None = None, on_page: ProgressCallback | None = None
) -> SyncResult:
    """Bring `job`'s raw table up to date, from its stored position, as its endpoint's strategy reads it.

    A run may stop with more to do (`has_more`: a parent walk's time budget ran out); the next run
    continues it."""
    job = replace(job, store=as_store(job.store))
    strategy = strategy_of(job.endpoint)(job, options or SyncOptions())
    stored = strategy.storage.open()
    began, stats_before = time.monotonic(), job.client.stats

    def progress(result: SyncResult) -> None:
        result.seconds = time.monotonic() - began
        on_page(result)

    result = strategy.run(stored, progress if on_page else None)
    result.seconds = time.monotonic() - began
    result.api = ApiUsage.between(stats_before, job.client.stats, rate=job.client.rate)
    return result


def sync_endpoint(client, store, endpoint: Endpoint, *, tenant_id: str, **options) -> SyncResult:
    """`sync` from its parts: a client, a store (or a DuckDB connection), an endpoint of the catalog and a
    tenant; `options` are `run_id`, `history`, `on_page` and SyncOptions' fields (`full`, `page_size`,
    `fan_out`, `start`, `include_recent_changes`)."""
    run_id, on_page = options.pop("run_id", None), options.pop("on_page", None)
    job = StreamJob(client, store, endpoint, tenant_id, run_id, history=options.pop("history", None))
    return sync(job, SyncOptions(**options), on_page)


# The names the assets, scripts and tests have always called: one driver serves both.
sync_export = sync_list = sync_endpoint
