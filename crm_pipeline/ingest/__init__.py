"""The page pipeline shared by export feeds and list endpoints: the client yields raw pages, one
stage prefetches and validates them, storage commits each page with its position.

Each kind of stream is a strategy (`strategy`: export feed, watermark list, whole list, parent fan-out)
and one driver runs any of them (`driver.sync`). Plain Python (no Dagster): the assets, the demo, the
benchmark and the tests call `sync_endpoint` (also named `sync_export` and `sync_list`), with a DuckDB
connection or a `Store` that opens the file only to commit.
"""

from crm_pipeline.ingest.driver import STRATEGIES, strategy_of, sync, sync_endpoint, sync_export, sync_list
from crm_pipeline.ingest.fanout import AllParentsNotFound
from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.lists import DEFAULT_OVERLAP
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.strategy import PAGE_SIZE, Strategy, SyncOptions
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.storage.stores import ConnectionStore, SharedFileStore, Store, as_store

__all__ = [
    "DEFAULT_OVERLAP",
    "PAGE_SIZE",
    "STRATEGIES",
    "AllParentsNotFound",
    "ConnectionStore",
    "FanOutOptions",
    "ProgressCallback",
    "SharedFileStore",
    "Store",
    "Strategy",
    "StreamJob",
    "SyncOptions",
    "SyncResult",
    "as_store",
    "strategy_of",
    "sync",
    "sync_endpoint",
    "sync_export",
    "sync_list",
]
