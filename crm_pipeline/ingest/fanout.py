"""Parent-scoped endpoints (`customers/{id}/notes`, ...): one request per parent, in resumable slices.

A walk is planned once (crm_pipeline.storage.parents: which parents are pending) and then visited by a
pool of threads under the client's rate limit. About every COMMIT_SECONDS the children of the parents
finished so far are committed, in one transaction with those parents marked visited, the deletions
among their children stamped and the walk's progress: a run killed at any moment loses at most the
parents of the last COMMIT_SECONDS, and the next run resumes with the parents still pending. A run
stops taking new parents after its time budget; the walk then ends the run with `has_more`, and the
next run (the automation starts one at once) continues it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.keys import no_keys, page_keys
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.rotation import rotation_extra, rotation_report
from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.errors import scope_hint
from crm_pipeline.storage import StreamPosition, committed, mark_deleted, store_position, write_rows
from crm_pipeline.storage import parents as plan
from crm_pipeline.storage.checkpoints import Checkpoints
from crm_pipeline.validation import validate_page

COMMIT_SECONDS = 0.25  # children are committed about this often: what a kill can lose
# parents handed to the pool ahead, per worker: enough to keep the workers requesting while a commit waits
# for the file (another process may hold it for a second), so that runs sharing the file keep their pace
QUEUED_PER_WORKER = 4
PLAN_CHUNK = 2048  # pending parents read from the plan at a time (keys only)
CHILD_PAGE_SIZE = 5000


@dataclass(frozen=True)
class FanOutOptions:
    workers: int = 16
    budget_seconds: float | None = None  # stop taking new parents after this long (None: walk to the end)
    rotation_hours: float | None = None  # visit every unchanged parent within this period (None: no rotation)
    rotation_share: float = 0.25  # at most this share of the rate limit for the rotation's visits
    rate_limit: float = 60.0


class AllParentsNotFound(errors.ApiError):
    """Every parent of a walk answered 404: a missing API scope or a gateway's 404, not "no children"."""


def sync_children(
    job: StreamJob,
    *,
    full: bool,
    state: dict,
    options: FanOutOptions,
    on_page: ProgressCallback | None,
    result: SyncResult,
) -> None:
    """Continue the walk in progress, or plan a new one, and visit its pending parents (see the module)."""
    store, endpoint, tenant_id = job.store, job.endpoint, job.tenant_id
    walk = state.get("walk")
    with store.lease() as conn:
        plan.ensure_parents_table(conn)
        if not plan.parent_table_exists(conn, endpoint):
            raise RuntimeError(
                f"{endpoint.path} needs its parents in {endpoint.parent.table}: materialize "
                f"{'/'.join(endpoint.parent.asset_key_path)} first"
            )
        if walk is None:
            walk = _plan(
                conn,
                endpoint,
                tenant_id,
                full=full,
                state=state,
                extra=rotation_extra(conn, endpoint, tenant_id, state=state, options=options),
            )
        result.parents_planned, result.whole_walk = walk["planned"], walk["whole"]
        pending = plan.pending_count(conn, endpoint, tenant_id)
        result.parents_done = result.parents_done_before = walk["planned"] - pending
    visit = _Visit(job, walk=walk, state=state, result=result)
    finished = visit.run(options, on_page)
    if visit.visited >= 2 and visit.not_found == visit.visited:
        visit.undo()
        raise AllParentsNotFound(
            f"GET {endpoint.path}: every one of the {visit.visited} parents visited answered 404. That is not "
            f"'no children': {scope_hint(endpoint.path)} (or a gateway refuses the whole path). The parents "
            "stay pending for the next run.",
            status=404,
            path=endpoint.path,
        )
    if finished:
        visit.finish()
    result.has_more = not finished
    if options.rotation_hours:
        with store.lease() as conn:
            result.rotation = rotation_report(conn, endpoint, tenant_id, options)


def _plan(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    full: bool,
    state: dict,
    extra: int,
) -> dict:
    watermark = state.get("watermark")
    whole = full or watermark is None
    started = conn.execute("SELECT now()::VARCHAR").fetchone()[0]

    def work() -> dict:
        planned = plan.plan_walk(
            conn, endpoint, tenant_id, whole=whole, since=None if whole else watermark, extra=extra
        )
        walk = {"started": started, "whole": whole, "planned": planned}
        store_position(
            conn, tenant_id, endpoint.path, StreamPosition(_json({**state, "walk": walk}), True), None
        )
        return walk

    return committed(conn, work)


def _json(position: dict) -> str:
    return json.dumps(position)


class _Visit:
    """One run's share of a walk: pending parents fetched by threads, committed in batches."""

    def __init__(self, job: StreamJob, *, walk: dict, state: dict, result: SyncResult) -> None:
        self.client, self.store, self.endpoint, self.tenant_id = (
            job.client,
            job.store,
            job.endpoint,
            job.tenant_id,
        )
        self.walk, self.state, self.run_id, self.result = walk, state, job.run_id, result
        self.visited = self.not_found = 0
        self.checkpoints = Checkpoints()
        self.batch: list[tuple[dict, list]] = []

    def run(self, options: FanOutOptions, on_page: ProgressCallback | None) -> bool:
        """Visit pending parents until none is left (True) or the budget is spent (False).

        Batches commit on a thread of their own, so that the requests go on while a commit waits for
        the file (another process has its turn): the next batch just grows meanwhile."""
        deadline = None if options.budget_seconds is None else time.monotonic() + options.budget_seconds
        parents, inflight, committing = self._pending(), {}, None
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
                            inflight[pool.submit(self._children, parent)] = parent
                    busy = (
                        [committing] if committing is not None and not inflight else []
                    )  # else: no busy loop
                    finished, _ = wait(
                        list(inflight) or busy, timeout=COMMIT_SECONDS, return_when=FIRST_COMPLETED
                    )
                    self.batch += [
                        (inflight.pop(future), future.result()) for future in finished if future in inflight
                    ]
                    due = time.monotonic() - last_commit >= COMMIT_SECONDS or not inflight
                    if self.batch and due and (committing is None or committing.done()):
                        self._reported(committing, on_page)
                        committing, self.batch = commits.submit(self._commit, self.batch), []
                        last_commit = time.monotonic()
                    if not inflight and not self.batch:
                        self._reported(committing, on_page)
                        return exhausted  # every parent of the plan taken and committed, or the budget spent
            finally:
                for future in inflight:
                    future.cancel()

    def _reported(self, committing, on_page: ProgressCallback | None) -> None:
        """Wait for the commit in progress (its error is raised here), then report progress."""
        if committing is not None:
            committing.result()
            if on_page:
                on_page(self.result)

    def _pending(self) -> Iterator[dict]:
        after = None
        while True:
            with self.store.lease() as conn:
                chunk = plan.pending_parents(
                    conn, self.endpoint, self.tenant_id, after=after, limit=PLAN_CHUNK
                )
            if not chunk:
                return
            for parent in chunk:
                yield parent
            after = (chunk[-1]["p1"], chunk[-1]["p2"])

    def _children(self, parent: dict) -> list:
        """Every child record of one parent, each carrying the parent's ids; None if the parent is gone (404)."""
        endpoint, client = self.endpoint, self.client
        carried = {child: parent[param] for param, (_, child) in endpoint.parent.params.items()}
        path = endpoint.path.format(**{param: parent[param] for param in endpoint.parent.params})
        try:
            if endpoint.shape == "value":
                return [{**carried, endpoint.value_field: client.get_json(path)}]
            if endpoint.shape == "array":
                return [{**r, **carried} if isinstance(r, dict) else r for r in client.get_json(path) or []]
            return [
                {**r, **carried} if isinstance(r, dict) else r
                for page in client.list_pages(path, page_size=CHILD_PAGE_SIZE)
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
        views = {
            "_crm_batch_parents": pa.table(
                {"p1": [p["p1"] for p, _ in batch], "p2": [p["p2"] for p, _ in batch]}
            ),
            "_crm_batch_seen": page_keys(self.endpoint, page),
        }
        done = (self.result.parents_done or 0) + len(batch)
        progress = StreamPosition(_json({**self.state, "walk": {**self.walk, "done": done}}), True)
        endpoint, tenant_id, run_id = self.endpoint, self.tenant_id, self.run_id

        def work() -> tuple[int, int, int]:
            upserted, quarantined = write_rows(conn, endpoint, tenant_id, page, run_id)
            deleted = mark_deleted(
                conn,
                endpoint,
                tenant_id,
                "_crm_batch_seen",  # children no longer returned
                plan.children_scope(endpoint, "_crm_batch_parents"),
            )
            plan.mark_visited(conn, endpoint, tenant_id, "_crm_batch_parents")
            store_position(conn, tenant_id, endpoint.path, progress, run_id)
            return upserted, quarantined, deleted

        with self.store.lease() as conn:
            for name, table in views.items():
                conn.register(name, table)
            try:
                upserted, quarantined, deleted = committed(conn, work)
            finally:
                for name in views:
                    conn.unregister(name)
            self.checkpoints.committed(conn, upserted)
        self.result.parents_done, self.result.deleted = done, self.result.deleted + deleted
        self.result.add_page(page, upserted, quarantined)

    def undo(self) -> None:
        """Every parent answered 404: put them back as pending (see AllParentsNotFound)."""
        with self.store.lease() as conn:
            committed(
                conn,
                lambda: conn.execute(
                    f"UPDATE {plan.PARENTS} SET pending = true WHERE tenant_id = ? AND stream = ? AND visited_at >= "
                    "?::TIMESTAMPTZ",
                    [self.tenant_id, self.endpoint.path, self.walk["started"]],
                ),
            )

    def finish(self) -> None:
        """The walk is done: a whole walk stamps the children of parents it never visited; the
        watermark moves to the walk's start."""
        self.result.position = _json({"watermark": self.walk["started"], "parents": self.walk["planned"]})
        endpoint, tenant_id, walk, position = self.endpoint, self.tenant_id, self.walk, self.result.position

        def work() -> int:
            deleted = 0
            if walk["whole"]:
                deleted = mark_deleted(
                    conn,
                    endpoint,
                    tenant_id,
                    "_crm_none_seen",
                    plan.unvisited_scope(endpoint, tenant_id, walk["started"]),
                )
            store_position(conn, tenant_id, endpoint.path, StreamPosition(position, False), self.run_id)
            return deleted

        with self.store.lease() as conn:
            conn.register("_crm_none_seen", no_keys(endpoint))
            try:
                self.result.deleted += committed(conn, work)
            finally:
                conn.unregister("_crm_none_seen")
