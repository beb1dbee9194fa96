"""Copy a list endpoint into DuckDB: incrementally from a watermark, or in a whole walk that marks deletions.

- Endpoints that take `modifiedOnOrAfter` fetch what changed since the watermark minus an overlap, so
  that nothing modified during a walk is skipped. The watermark is the newest `modifiedOn` the last
  complete walk stored (the API's own clock: client clock skew does not matter), never later than
  the moment that walk started (a record dated in the future cannot stall the stream).
- Endpoints without it are small: every run walks them whole, and commits them in one transaction.
- A whole walk stamps `_deleted_at` on rows the API no longer returns (cleared if they come back).
- Parent-scoped endpoints (`customers/{id}/notes`, ...) are walked parent by parent in resumable
  slices (crm_pipeline.ingest.fanout).
Each page is committed with the stream's position in one transaction.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest.fanout import sync_children
from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.keys import no_keys, page_keys
from crm_pipeline.ingest.result import ApiUsage, ProgressCallback, SyncResult
from crm_pipeline.ingest.store import Store, as_store
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.servicetitan import ListPage, ServiceTitanClient
from crm_pipeline.storage import (
    StreamPosition,
    committed,
    ensure_raw_table,
    mark_deleted,
    read_position,
    store_position,
    write_rows,
)
from crm_pipeline.storage.checkpoints import Checkpoints
from crm_pipeline.validation import ValidatedPage, validate_page

DEFAULT_OVERLAP = timedelta(minutes=10)
PAGE_SIZE = 5000


def sync_list(
    client: ServiceTitanClient,
    store: Store | duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    *,
    tenant_id: str,
    full: bool = False,
    page_size: int = PAGE_SIZE,
    fan_out: FanOutOptions | None = None,
    run_id: str | None = None,
    on_page: ProgressCallback | None = None,
) -> SyncResult:
    """Bring `endpoint`'s raw table up to date; `full` forces a whole walk (and deletion marking).

    A parent-scoped endpoint may stop with more to do (`has_more`): its walk's time budget ran out,
    and the next run continues it."""
    job = StreamJob(client, as_store(store), endpoint, tenant_id, run_id)
    with job.store.lease() as conn:
        ensure_raw_table(conn, endpoint)
        stored = read_position(conn, tenant_id, endpoint.path)
    began, stats_before = time.monotonic(), client.stats
    state = json.loads(stored.position) if stored and stored.position else {}
    result = SyncResult(stream=endpoint.path, started_from=state.get("watermark"))
    if endpoint.parent is not None:
        sync_children(
            job, full=full, state=state, options=fan_out or FanOutOptions(), on_page=on_page, result=result
        )
    else:
        _TopWalk(job).run(
            full=full, watermark=state.get("watermark"), page_size=page_size, on_page=on_page, result=result
        )
        result.has_more = False
    result.seconds = time.monotonic() - began
    result.api = ApiUsage.between(stats_before, client.stats, rate=client.rate)
    return result


def position_text(watermark: str | None, **extra) -> str:
    return json.dumps({"watermark": watermark, **extra})


class _TopWalk:
    """One run of a top-level endpoint: pages committed one by one (small endpoints: all at once)."""

    def __init__(self, job: StreamJob) -> None:
        self.client, self.store, self.endpoint, self.tenant_id, self.run_id = (
            job.client,
            job.store,
            job.endpoint,
            job.tenant_id,
            job.run_id,
        )
        self.seen: list[pa.Table] = []  # the keys received: a whole walk marks the others deleted
        self.checkpoints = Checkpoints()

    def run(
        self,
        *,
        full: bool,
        watermark: str | None,
        page_size: int,
        on_page: ProgressCallback | None,
        result: SyncResult,
    ) -> None:
        endpoint = self.endpoint
        whole = result.whole_walk = full or not endpoint.incremental or watermark is None
        walk_started = datetime.now(UTC)
        params = dict(endpoint.query)
        if not whole:
            since = datetime.fromisoformat(watermark) - DEFAULT_OVERLAP
            params["modifiedOnOrAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        newest = datetime.fromisoformat(watermark) if watermark else None
        atomic = not endpoint.incremental  # small endpoints: fetched whole, then replaced in one transaction
        held: list[ValidatedPage] = []
        for _attempt in range(3):  # records modified mid-walk shift pages: walk again if keys went missing
            for page in self._pages(params, page_size):
                result.total_count = page.total_count if page.page == 1 else result.total_count
                validated = validate_page(endpoint, page.data)
                self._see(validated)
                newest = _newest(validated, newest)
                if atomic:
                    held.append(validated)
                    continue
                self._commit([validated], result, StreamPosition(position_text(watermark), True))
                if on_page:
                    on_page(result)
            if result.total_count is None or self._seen_count() >= result.total_count:
                break
        mark = min(newest, walk_started).isoformat() if newest else None
        result.position = position_text(mark, total_count=result.total_count)
        self._commit(held, result, StreamPosition(result.position, False), mark_deletions=whole)

    def _pages(self, params: dict, page_size: int):
        if self.endpoint.shape == "array":
            data = self.client.get_json(self.endpoint.path, params) or []
            return [ListPage(data=data, page=1, has_more=False, total_count=len(data))]
        return self.client.list_pages(self.endpoint.path, params, page_size=page_size)

    def _see(self, page: ValidatedPage) -> None:
        if not page.frame.empty:
            self.seen.append(page_keys(self.endpoint, page))

    def _seen_table(self) -> pa.Table:
        return (
            pa.concat_tables(self.seen, promote_options="permissive") if self.seen else no_keys(self.endpoint)
        )

    def _seen_count(self) -> int:
        seen = self._seen_table()
        return seen.group_by(list(seen.column_names)).aggregate([]).num_rows if seen.num_rows else 0

    def _commit(
        self,
        pages: list[ValidatedPage],
        result: SyncResult,
        position: StreamPosition,
        *,
        mark_deletions: bool = False,
    ) -> None:
        """Write `pages` and the position in one transaction; with `mark_deletions`, stamp the rows not
        seen."""
        endpoint, tenant_id, run_id = self.endpoint, self.tenant_id, self.run_id

        def work() -> tuple[list[tuple[int, int]], int]:
            counts = [write_rows(conn, endpoint, tenant_id, page=page, run_id=run_id) for page in pages]
            deleted = (
                _mark_unseen(conn, endpoint, tenant_id, seen=self._seen_table()) if mark_deletions else 0
            )
            store_position(conn, tenant_id, endpoint.path, position=position, run_id=run_id)
            return counts, deleted

        with self.store.lease() as conn:
            counts, deleted = committed(conn, work, stream=(tenant_id, endpoint.path))
            self.checkpoints.committed(conn, sum(upserted for upserted, _ in counts))
        for page, (upserted, quarantined) in zip(pages, counts, strict=True):
            result.add_page(page, upserted, quarantined)
        result.deleted = deleted if mark_deletions else result.deleted


def _mark_unseen(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, seen: pa.Table
) -> int:
    conn.register("_crm_seen", seen)
    try:
        return mark_deleted(conn, endpoint, tenant_id, seen_table="_crm_seen")
    finally:
        conn.unregister("_crm_seen")


def _newest(page: ValidatedPage, newest: datetime | None) -> datetime | None:
    """The later of `newest` and the page's newest modifiedOn."""
    if "modifiedOn" not in page.frame or page.frame["modifiedOn"].isna().all():
        return newest
    latest = page.frame["modifiedOn"].max().floor("us").to_pydatetime()  # DuckDB keeps microseconds
    return latest if newest is None else max(newest, latest)
