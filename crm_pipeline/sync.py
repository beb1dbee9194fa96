"""Copy one export feed into DuckDB, page by page, resuming from the stored cursor.

Plain Python: the Dagster assets, the demo and the benchmark all call `sync_export`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.storage import StreamPosition, commit_page, ensure_raw_table, read_position
from crm_pipeline.validation import validate_page


@dataclass
class SyncResult:
    """What one run of one stream did; becomes the materialization's metadata."""

    stream: str
    pages: int = 0
    records_received: int = 0
    rows_upserted: int = 0
    quarantined: int = 0
    position: str | None = None
    has_more: bool = True
    started_from: str | None = None
    seconds: float = 0.0
    new_fields: set[str] = field(default_factory=set)
    deleted: int = 0  # list endpoints: rows a whole walk no longer found, stamped _deleted_at
    total_count: int | None = None  # list endpoints: the API's totalCount on the walk's first page
    requests: int = 0

    @property
    def records_per_second(self) -> float:
        return self.records_received / self.seconds if self.seconds else 0.0


ProgressCallback = Callable[[SyncResult], None]


def sync_export(
    client: ServiceTitanClient,
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    start: str | None = None,
    include_recent_changes: bool = False,
    run_id: str | None = None,
    on_page: ProgressCallback | None = None,
) -> SyncResult:
    """Follow `endpoint`'s export feed from its stored cursor (or `start` on a first run) to `hasMore=false`.

    Each page is validated and committed with its `continueFrom` in one transaction, so the run
    can die at any moment and the next one resumes where the last commit left off.
    """
    ensure_raw_table(conn, endpoint)
    stored = read_position(conn, tenant_id, endpoint.path)
    result = SyncResult(stream=endpoint.path, started_from=stored.position if stored else start)
    began = time.monotonic()
    pages = client.export_pages(
        endpoint.path, start=result.started_from, include_recent_changes=include_recent_changes, prefetch=True
    )
    with closing(pages):
        for page in pages:
            _commit(conn, endpoint, tenant_id, page, result, run_id)
            result.seconds = time.monotonic() - began
            if on_page is not None:
                on_page(result)
    result.seconds = time.monotonic() - began
    return result


def _commit(conn, endpoint: Endpoint, tenant_id: str, page, result: SyncResult, run_id: str | None) -> None:
    """Validate one page, commit it with its position, and add it to `result`."""
    validated = validate_page(endpoint, page.data)
    position = StreamPosition(page.continue_from, page.has_more)
    upserted, quarantined = commit_page(conn, endpoint, tenant_id, validated, position, run_id)
    result.new_fields.update(validated.extra_fields)
    result.pages += 1
    result.records_received += len(page.data)
    result.rows_upserted += upserted
    result.quarantined += quarantined
    result.position, result.has_more = page.continue_from, page.has_more


def table_row_count(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str) -> int:
    return conn.execute(
        f"SELECT count(*) FROM {endpoint.qualified_table} WHERE tenant_id = ?", [tenant_id]
    ).fetchone()[0]
