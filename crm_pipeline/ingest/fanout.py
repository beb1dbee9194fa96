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

from crm_pipeline.ingest.positions import ListPosition, Walk
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.rotation import rotation_extra, rotation_report
from crm_pipeline.ingest.strategy import Strategy
from crm_pipeline.ingest.visit import Visit
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.errors import scope_hint
from crm_pipeline.storage import StreamPosition
from crm_pipeline.storage.walks import ParentWalks


class AllParentsNotFound(errors.ApiError):
    """Every parent of a walk answered 404: a missing API scope or a gateway's 404, not "no children"."""


class ParentFanOut(Strategy):
    """A parent-scoped endpoint: one request per parent, in resumable slices (see the module)."""

    name = "parent_fanout"
    in_slices = True
    summary = "fetched per parent in resumable slices"

    @classmethod
    def describe(cls, endpoint) -> str:
        return (
            f"fetched for the parents in `{endpoint.parent.table}` stored or changed since the last walk, "
            "plus a rotating share of the others, in resumable slices"
        )

    def run(self, stored: str | None, on_page: ProgressCallback | None) -> SyncResult:
        """Continue the walk in progress, or plan a new one, and visit its pending parents."""
        options = self.options.fan_out or FanOutOptions()
        walks = ParentWalks(self.store, self.endpoint, self.tenant_id)
        walks.prepare()
        position = ListPosition.decode(stored)
        if position.walk is None:
            position = self._plan(
                walks, position, extra=rotation_extra(walks, watermark=position.watermark, options=options)
            )
        visit = Visit(self.job, self.storage, walks, position=position)
        result, walk = visit.result, position.walk
        result.parents_planned, result.whole_walk = walk.planned, walk.whole
        result.parents_done = result.parents_done_before = walk.planned - walks.pending_count()
        finished = visit.run(options, on_page)
        if visit.visited >= 2 and visit.not_found == visit.visited:
            visit.undo()
            raise AllParentsNotFound(
                f"GET {self.endpoint.path}: every one of the {visit.visited} parents visited answered 404. "
                f"That is not 'no children': {scope_hint(self.endpoint.path)} (or a gateway refuses the "
                "whole path). The parents stay pending for the next run.",
                status=404,
                path=self.endpoint.path,
            )
        if finished:
            visit.finish()
        result.has_more = not finished
        if options.rotation_hours:
            result.rotation = rotation_report(walks, options=options)
        return result

    def _plan(self, walks: ParentWalks, position: ListPosition, *, extra: int) -> ListPosition:
        """Plan a new walk (whole when `full` or never walked), stored with the stream's position."""
        whole = self.options.full or position.watermark is None

        def walking(started: str, planned: int) -> ListPosition:
            return position.walking(Walk(started=started, whole=whole, planned=planned))

        started, planned = walks.plan(
            since=None if whole else position.watermark,
            extra=extra,
            position=lambda started, planned: StreamPosition(walking(started, planned).encode(), True),
        )
        return walking(started, planned)
