"""Parent-scoped endpoints (`customers/{id}/notes`, ...): one request per parent, in resumable slices.

A walk is planned once (crm_pipeline.storage.parents: which parents are pending) and then visited by a
pool of threads under the client's rate limit (crm_pipeline.ingest.visit). About every COMMIT_SECONDS
the children of the parents finished so far are committed, in one transaction with those parents marked
visited, the deletions among their children stamped and the walk's progress: a run killed at any moment
loses at most the parents of the last COMMIT_SECONDS, and the next run resumes with the parents still
pending. A run stops taking new parents after its time budget; the walk then ends the run with
`has_more`, and the next run (the automation starts one at once) continues it.
"""

from __future__ import annotations

import duckdb

from crm_pipeline.ingest.positions import ListPosition, Walk
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.rotation import rotation_extra, rotation_report
from crm_pipeline.ingest.strategy import Strategy
from crm_pipeline.ingest.visit import Visit
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.errors import scope_hint
from crm_pipeline.storage import StreamPosition, committed, store_position
from crm_pipeline.storage import parents as plan


class AllParentsNotFound(errors.ApiError):
    """Every parent of a walk answered 404: a missing API scope or a gateway's 404, not "no children"."""


class ParentFanOut(Strategy):
    """A parent-scoped endpoint: one request per parent, in resumable slices (see the module)."""

    name = "parent_fanout"
    summary = "fetched per parent in resumable slices"

    @classmethod
    def describe(cls, endpoint) -> str:
        return (
            f"fetched for the parents in `{endpoint.parent.table}` stored or changed since the last walk, "
            "plus a rotating share of the others, in resumable slices"
        )

    def run(self, stored: str | None, on_page: ProgressCallback | None) -> SyncResult:
        """Continue the walk in progress, or plan a new one, and visit its pending parents."""
        position = ListPosition.decode(stored)
        result = SyncResult(stream=self.endpoint.path, started_from=position.watermark)
        options = self.options.fan_out or FanOutOptions()
        endpoint, tenant_id = self.endpoint, self.tenant_id
        with self.store.lease() as conn:
            plan.ensure_parents_table(conn)
            if not plan.parent_table_exists(conn, endpoint):
                raise RuntimeError(
                    f"{endpoint.path} needs its parents in {endpoint.parent.table}: materialize "
                    f"{'/'.join(endpoint.parent.asset_key_path)} first"
                )
            if position.walk is None:
                extra = rotation_extra(
                    conn, endpoint, tenant_id, watermark=position.watermark, options=options
                )
                position = self._plan(conn, position, extra=extra)
            walk = position.walk
            result.parents_planned, result.whole_walk = walk.planned, walk.whole
            pending = plan.pending_count(conn, endpoint, tenant_id)
            result.parents_done = result.parents_done_before = walk.planned - pending
        visit = Visit(self.job, position=position, result=result)
        finished = visit.run(options, on_page)
        if visit.visited >= 2 and visit.not_found == visit.visited:
            visit.undo()
            raise AllParentsNotFound(
                f"GET {endpoint.path}: every one of the {visit.visited} parents visited answered 404. "
                f"That is not 'no children': {scope_hint(endpoint.path)} (or a gateway refuses the whole "
                "path). The parents stay pending for the next run.",
                status=404,
                path=endpoint.path,
            )
        if finished:
            visit.finish()
        result.has_more = not finished
        if options.rotation_hours:
            with self.store.lease() as conn:
                result.rotation = rotation_report(conn, endpoint, tenant_id, options=options)
        return result

    def _plan(self, conn: duckdb.DuckDBPyConnection, position: ListPosition, *, extra: int) -> ListPosition:
        """Plan a new walk (whole when `full` or never walked), stored with the stream's position."""
        endpoint, tenant_id = self.endpoint, self.tenant_id
        whole = self.options.full or position.watermark is None
        started = conn.execute("SELECT now()::VARCHAR").fetchone()[0]

        def work() -> ListPosition:
            since = None if whole else position.watermark
            planned = plan.plan_walk(conn, endpoint, tenant_id, since=since, extra=extra)
            walking = position.walking(Walk(started=started, whole=whole, planned=planned))
            store_position(
                conn, tenant_id, endpoint.path, position=StreamPosition(walking.encode(), True), run_id=None
            )
            return walking

        return committed(conn, work)
