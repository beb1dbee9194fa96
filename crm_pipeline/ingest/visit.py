"""One run's share of a parent walk (crm_pipeline.ingest.fanout): pending parents fetched by a pool of
threads under the client's rate limit, their children committed in batches about every COMMIT_SECONDS,
each batch in one transaction with its parents marked visited, the deletions among their children
stamped and the walk's progress."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait

import pyarrow as pa

from crm_pipeline.ingest.answers import pages
from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.positions import ListPosition
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.servicetitan import errors
from crm_pipeline.storage import CHILDREN_OF_VISITED, StreamPosition, StreamStorage, unvisited_since
from crm_pipeline.storage.keys import no_keys, page_keys
from crm_pipeline.storage.walks import ParentWalks
from crm_pipeline.validation import validate_page

COMMIT_SECONDS = 0.25  # children are committed about this often: what a kill can lose
# parents handed to the pool ahead, per worker: enough to keep the workers requesting while a commit waits
# for the file (another process may hold it for a second), so that runs sharing the file keep their pace
QUEUED_PER_WORKER = 4
PLAN_CHUNK = 2048  # pending parents read from the plan at a time (keys only)
CHILD_PAGE_SIZE = 5000


class Visit:
    """One run's share of a walk: pending parents fetched by threads, committed in batches."""

    def __init__(
        self, job: StreamJob, storage: StreamStorage, walks: ParentWalks, *, position: ListPosition
    ) -> None:
        self.client, self.endpoint, self.storage, self.walks = job.client, job.endpoint, storage, walks
        self.position, self.walk = position, position.walk
        self.result = SyncResult(stream=job.endpoint.path, started_from=position.watermark)
        self.visited = self.not_found = 0
        self.batch: list[tuple[dict, list]] = []

    def run(self, options: FanOutOptions, on_page: ProgressCallback | None) -> bool:
        """Visit pending parents until none is left (True) or the budget is spent (False).

        Batches commit on a thread of their own, so that the requests go on while a commit waits for
        the file (another process has its turn): the next batch just grows meanwhile."""
        deadline = None if options.budget_seconds is None else time.monotonic() + options.budget_seconds
        parents, inflight, committing = self._pending(), {}, None
        # each future lands here when answered: O(1) per answer, where wait() over all is O(inflight)
        done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        last_commit, exhausted = time.monotonic(), False
        pool = ThreadPoolExecutor(options.workers, "crm-children")
        with pool, ThreadPoolExecutor(1, "crm-commit") as commits:
            try:
                while True:
                    in_budget = deadline is None or time.monotonic() < deadline
                    while in_budget and not exhausted and len(inflight) < QUEUED_PER_WORKER * options.workers:
                        parent = next(parents, None)
                        exhausted = parent is None
                        if parent is not None:
                            future = pool.submit(self._children, parent)
                            inflight[future] = parent
                            future.add_done_callback(done.put)
                    if inflight:
                        self.batch += self._answered(inflight, done)
                    elif committing is not None:  # nothing in flight: wait for the commit, no busy loop
                        wait([committing], timeout=COMMIT_SECONDS)
                    due = time.monotonic() - last_commit >= COMMIT_SECONDS or not inflight
                    if self.batch and due and (committing is None or committing.done()):
                        self._reported(committing, on_page)
                        committing, self.batch = commits.submit(self._commit, self.batch), []
                        last_commit = time.monotonic()
                    # every parent of the plan taken and committed, or the budget spent (all in flight may
                    # have answered at once: then the loop takes more)
                    if not inflight and not self.batch and (exhausted or not in_budget):
                        self._reported(committing, on_page)
                        return exhausted
            finally:
                for future in inflight:
                    future.cancel()

    @staticmethod
    def _answered(inflight: dict, done: queue.SimpleQueue) -> list[tuple[dict, list]]:
        """The parents answered within COMMIT_SECONDS (at least one, unless none answers by then), with
        their children; an error of one is raised here."""
        try:
            finished = [done.get(timeout=COMMIT_SECONDS)]
        except queue.Empty:
            return []
        while True:
            try:
                finished.append(done.get_nowait())
            except queue.Empty:
                return [(inflight.pop(future), future.result()) for future in finished]

    def _reported(self, committing, on_page: ProgressCallback | None) -> None:
        """Wait for the commit in progress (its error is raised here), then report progress."""
        if committing is not None:
            committing.result()
            if on_page:
                on_page(self.result)

    def _pending(self) -> Iterator[dict]:
        after = None
        while True:
            chunk = self.walks.pending(after=after, limit=PLAN_CHUNK)
            if not chunk:
                return
            yield from chunk
            after = (chunk[-1]["p1"], chunk[-1]["p2"])

    def _children(self, parent: dict) -> list:
        """Every child record of one parent, each carrying the parent's ids (which parameters and columns
        are the catalog's `Parent.params`); None if the parent is gone (404)."""
        endpoint, client = self.endpoint, self.client
        carried = {child: parent[param] for param, (_, child) in endpoint.parent.params.items()}
        path = endpoint.path.format(**{param: parent[param] for param in endpoint.parent.params})
        try:
            return [
                {**r, **carried} if isinstance(r, dict) else r
                for page in pages(client, endpoint, path, None, CHILD_PAGE_SIZE)
                for r in page.data
            ]
        except errors.NotFound:  # the parent is gone since its row was stored: no children
            return None

    def _commit(self, batch: list[tuple[dict, list]]) -> None:
        records = [r for _, children in batch for r in children or []]
        page = validate_page(self.endpoint, records)
        self.visited += len(batch)
        self.not_found += sum(1 for _, children in batch if children is None)
        self.result.parents_not_found = self.not_found
        parents = pa.table({"p1": [p["p1"] for p, _ in batch], "p2": [p["p2"] for p, _ in batch]})
        done = (self.result.parents_done or 0) + len(batch)
        progress = StreamPosition(self.position.walking(self.walk.doing(done)).encode(), True)
        seen = page_keys(self.endpoint, page)  # the children of these parents not returned are deleted
        parts = {"seen": seen, "deletions": CHILDREN_OF_VISITED, "parents": parents}
        committed = self.storage.commit(self.storage.batch(progress, [page], **parts))
        upserted, quarantined = committed.per_page[0]
        self.result.parents_done, self.result.deleted = done, self.result.deleted + committed.deleted
        self.result.add_page(page, upserted, quarantined)

    def undo(self) -> None:
        """Every parent answered 404: put them back as pending (see AllParentsNotFound)."""
        self.walks.undo(self.walk.started)

    def finish(self) -> None:
        """The walk is done: a whole walk stamps the children of parents it never visited; the
        watermark moves to the walk's start."""
        walk = self.walk
        self.result.position = ListPosition(watermark=walk.started, parents=walk.planned).encode()
        position = StreamPosition(self.result.position, False)
        parts = (
            {"seen": no_keys(self.endpoint), "deletions": unvisited_since(walk.started)} if walk.whole else {}
        )
        self.result.deleted += self.storage.commit(self.storage.batch(position, [], **parts)).deleted
