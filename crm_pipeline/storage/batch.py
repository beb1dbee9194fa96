"""One commit of a stream: a batch of rows, what it saw and visited, and the position that follows it.

Every kind of stream hands its batches to `commit`, which writes one in one transaction: its pages'
rows (upserted by key) and rejects (quarantined), the deletions it implies, the parents it visited and
the stream's new position. A crash at any moment leaves either all of it or none: the next run resumes
from the last position committed, and upsert by key makes a repeated batch harmless. Storage alone
registers the views a batch's SQL reads, chooses insert or replace, and keeps the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import duckdb
import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.storage import parents as plan
from crm_pipeline.storage.backend import Backend, backend_of
from crm_pipeline.storage.cursors import StreamPosition, store_position
from crm_pipeline.storage.keys import no_keys
from crm_pipeline.storage.quarantine import quarantine
from crm_pipeline.storage.transactions import committed
from crm_pipeline.storage.upsert import mark_deleted, upsert_rows

SEEN, PARENTS_VIEW, VISITED = "_crm_batch_seen", "_crm_batch_parents", "_crm_walk_visited"


@dataclass(frozen=True)
class Deletions:
    """Which stored rows a batch stamps `_deleted_at` on, when their key is not among the keys it saw:
    every row of the tenant (`table`), the children of the parents it visited (`parents`), or the children
    of the parents a whole walk begun at `since` never visited (`unvisited`)."""

    within: Literal["table", "parents", "unvisited"]
    since: str | None = None


EVERY_ROW = Deletions("table")
CHILDREN_OF_VISITED = Deletions("parents")


def unvisited_since(started: str) -> Deletions:
    return Deletions("unvisited", since=started)


@dataclass(frozen=True, kw_only=True)
class Batch:
    """What one commit writes (see the module). `seen` holds the keys received (with `deletions`), and
    `parents` the parents visited (columns p1, p2). `insert_first`: the page's keys are probably new (a
    first load), so its rows are inserted plainly, sparing the index a delete and insert per row; if a
    key is stored already that transaction is rolled back and the batch replaces rows instead."""

    endpoint: Endpoint
    tenant_id: str
    position: StreamPosition
    pages: Sequence[ValidatedPage] = ()
    seen: pa.Table | None = None
    deletions: Deletions | None = None
    parents: pa.Table | None = None
    run_id: str | None = None
    insert_first: bool = False


@dataclass(frozen=True)
class Committed:
    """What a batch's commit did: (rows upserted, records quarantined) per page, the rows stamped
    deleted, and whether every row was inserted as new (see Batch.insert_first)."""

    per_page: list[tuple[int, int]] = field(default_factory=list)
    deleted: int = 0
    all_new: bool = False

    @property
    def counts(self) -> tuple[int, int]:
        """(rows upserted, records quarantined) over the batch's pages."""
        return sum(u for u, _ in self.per_page), sum(q for _, q in self.per_page)


def commit(conn: duckdb.DuckDBPyConnection, batch: Batch, backend: Backend | None = None) -> Committed:
    """Write `batch` in one transaction (see the module); `backend`: the store's, when chosen already."""
    backend = backend or backend_of(conn)
    if batch.insert_first:
        try:
            return _commit(conn, batch, backend, replace=False)
        except duckdb.ConstraintException:
            pass  # rolled back: a key of the page is stored already
    return _commit(conn, batch, backend, replace=True)


def _commit(conn: duckdb.DuckDBPyConnection, batch: Batch, backend: Backend, *, replace: bool) -> Committed:
    endpoint, tenant_id, run_id = batch.endpoint, batch.tenant_id, batch.run_id
    seen = batch.seen if batch.seen is not None or batch.deletions is None else no_keys(endpoint)
    views = {SEEN: seen, PARENTS_VIEW: batch.parents}
    views = {name: table for name, table in views.items() if table is not None}

    mode = backend.upsert_mode(replace=replace)

    def work() -> Committed:
        counts = [
            (
                upsert_rows(conn, endpoint, tenant_id, page=page, mode=mode),
                quarantine(conn, endpoint, tenant_id, page=page, run_id=run_id),
            )
            for page in batch.pages
        ]
        deleted = _mark_deletions(conn, batch)
        if batch.parents is not None:
            plan.mark_visited(conn, endpoint, tenant_id, keys_view=PARENTS_VIEW)
        store_position(conn, tenant_id, endpoint.path, position=batch.position, run_id=run_id)
        return Committed(counts, deleted, all_new=not replace)

    for name, table in views.items():
        conn.register(name, table)
    try:
        return committed(conn, work, backend, stream=(tenant_id, endpoint.path))
    finally:
        for name in views:
            conn.unregister(name)
        if batch.deletions is not None and batch.deletions.within == "unvisited":
            conn.unregister(VISITED)


def _mark_deletions(conn: duckdb.DuckDBPyConnection, batch: Batch) -> int:
    """Stamp the rows the batch's deletions cover whose keys it did not see; return how many."""
    deletions, endpoint, tenant_id = batch.deletions, batch.endpoint, batch.tenant_id
    if deletions is None:
        return 0
    scope = {"table": lambda: "TRUE", "parents": lambda: plan.children_scope(endpoint, PARENTS_VIEW)}
    if deletions.within == "unvisited":
        conn.register(VISITED, plan.visited_since(conn, endpoint, tenant_id, deletions.since))
        scope["unvisited"] = lambda: plan.unvisited_scope(endpoint, VISITED)
    return mark_deleted(conn, endpoint, tenant_id, seen_table=SEEN, scope=scope[deletions.within]())
