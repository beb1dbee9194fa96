"""The page pipeline shared by export feeds and list endpoints: the client yields raw pages, one
stage prefetches and validates them, storage commits each page with its position.

Plain Python (no Dagster): the assets, the demo, the benchmark and the tests call `sync_export` and
`sync_list`, with a DuckDB connection or a `Store` that opens the file only to commit.
"""

from crm_pipeline.ingest.export import sync_export, table_row_count
from crm_pipeline.ingest.fanout import AllParentsNotFound
from crm_pipeline.ingest.lists import DEFAULT_OVERLAP, PAGE_SIZE, sync_list
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.store import ConnectionStore, SharedFileStore, Store, as_store
from crm_pipeline.ingest.walk_options import FanOutOptions

__all__ = [
    "DEFAULT_OVERLAP",
    "PAGE_SIZE",
    "AllParentsNotFound",
    "ConnectionStore",
    "FanOutOptions",
    "ProgressCallback",
    "SharedFileStore",
    "Store",
    "SyncResult",
    "as_store",
    "sync_export",
    "sync_list",
    "table_row_count",
]
