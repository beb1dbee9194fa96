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

import json

import duckdb

from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.rotation import rotation_extra, rotation_report
from crm_pipeline.ingest.visit import Visit
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.servicetitan import errors
from crm_pipeline.servicetitan.errors import scope_hint
from crm_pipeline.storage import StreamPosition, committed, store_position
from crm_pipeline.storage import parents as plan


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
                job,
                full=full,
                state=state,
                extra=rotation_extra(conn, endpoint, tenant_id, state=state, options=options),
            )
        result.parents_planned, result.whole_walk = walk["planned"], walk["whole"]
        pending = plan.pending_count(conn, endpoint, tenant_id)
        result.parents_done = result.parents_done_before = walk["planned"] - pending
    visit = Visit(job, walk=walk, state=state, result=result)
    finished = visit.run(options, on_page)
    if visit.visited >= 2 and visit.not_found == visit.visited:
        visit.undo()
        raise AllParentsNotFound(
            f"GET {endpoint.path}: every one of the {visit.visited} parents visited answered 404. "
            f"That is not 'no children': {scope_hint(endpoint.path)} (or a gateway refuses the whole path). "
            "The parents stay pending for the next run.",
            status=404,
            path=endpoint.path,
        )
    if finished:
        visit.finish()
    result.has_more = not finished
    if options.rotation_hours:
        with store.lease() as conn:
            result.rotation = rotation_report(conn, endpoint, tenant_id, options=options)


def _plan(conn: duckdb.DuckDBPyConnection, job: StreamJob, *, full: bool, state: dict, extra: int) -> dict:
    """Plan a new walk of `job`'s endpoint (whole when `full` or never walked), with its position."""
    endpoint, tenant_id = job.endpoint, job.tenant_id
    watermark = state.get("watermark")
    whole = full or watermark is None
    started = conn.execute("SELECT now()::VARCHAR").fetchone()[0]

    def work() -> dict:
        planned = plan.plan_walk(conn, endpoint, tenant_id, since=None if whole else watermark, extra=extra)
        walk = {"started": started, "whole": whole, "planned": planned}
        store_position(
            conn,
            tenant_id,
            endpoint.path,
            position=StreamPosition(json.dumps({**state, "walk": walk}), True),
            run_id=None,
        )
        return walk

    return committed(conn, work, stream=(tenant_id, endpoint.path))
