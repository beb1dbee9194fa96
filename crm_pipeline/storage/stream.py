"""The storage of one stream of one tenant: its raw table, its position and its commits.

A sync asks it for the stored position when it starts and hands it batches to commit (storage.batch);
it leases the store around each (the file is held only to commit) and checkpoints once per row group.
A parent walk's plan is kept by its own object (storage.walks).
"""

from __future__ import annotations

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.storage.backend import Backend, backend_of
from crm_pipeline.storage.batch import Batch, Committed, Deletions, commit
from crm_pipeline.storage.checkpoints import Checkpoints
from crm_pipeline.storage.cursors import StreamPosition, read_position
from crm_pipeline.storage.stores import Store
from crm_pipeline.storage.tables import ensure_raw_table


class StreamStorage:
    """Where one stream is stored (see the module); `run_id` marks what this run writes, `history` whether
    its loads keep versions (see storage.history)."""

    def __init__(
        self,
        store: Store,
        endpoint: Endpoint,
        tenant_id: str,
        run_id: str | None = None,
        *,
        history: bool | None = None,
    ) -> None:
        self.store, self.endpoint, self.tenant_id, self.run_id = store, endpoint, tenant_id, run_id
        self.history = history  # CRM_HISTORY as the edge read it (None: as the stored state says)
        self.backend: Backend | None = None  # the store's, chosen once (at open, or the first commit)
        self.checkpoints = Checkpoints(endpoint)
        self.fresh = True  # no page met a stored key yet: try plain inserts (see Batch.insert_first)

    def open(self) -> str | None:
        """Create the raw table (and the state tables) if missing; the stream's stored position (None:
        never committed)."""
        with self.store.lease() as conn:
            self._choose_backend(conn)
            ensure_raw_table(conn, self.endpoint, history=self.history)
            stored = read_position(conn, self.tenant_id, self.endpoint.path)
        return stored.position if stored else None

    def batch(self, position: StreamPosition, pages: list[ValidatedPage], **parts) -> Batch:
        """A batch of this stream; `parts` are Batch's other fields (seen, deletions, parents)."""
        return Batch(
            endpoint=self.endpoint,
            tenant_id=self.tenant_id,
            run_id=self.run_id,
            position=position,
            pages=pages,
            **parts,
        )

    def commit(self, batch: Batch) -> Committed:
        """Commit `batch` in one transaction, then checkpoint if a row group's worth of rows was written."""
        with self.store.lease() as conn:
            done = commit(conn, batch, self._choose_backend(conn))
            self.checkpoints.committed(conn, done.counts[0], superseded=not done.all_new)
        return done

    def _choose_backend(self, conn) -> Backend:
        if self.backend is None:
            self.backend = backend_of(conn)
            self.checkpoints = Checkpoints(self.endpoint, enabled=self.backend.checkpoints)
        return self.backend

    def commit_page(self, page: ValidatedPage, position: StreamPosition) -> Committed:
        """One page of a feed whose first pages are probably new keys: inserted plainly until a page meets
        a stored key, replacing rows from then on."""
        done = self.commit(self.batch(position, [page], insert_first=self.fresh))
        self.fresh = done.all_new
        return done


__all__ = ["Batch", "Committed", "Deletions", "StreamStorage"]
