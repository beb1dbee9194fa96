"""One page committed the way the tests have always written it, through storage's one `commit(batch)`."""

from __future__ import annotations

from crm_pipeline.storage import Batch, StreamPosition, commit


def commit_page(conn, ep, tenant: str, *, page, position: StreamPosition, run_id=None) -> tuple[int, int]:
    """Commit one validated page with `position`: (rows upserted, records quarantined)."""
    batch = Batch(endpoint=ep, tenant_id=tenant, position=position, pages=[page], run_id=run_id)
    return commit(conn, batch).counts


def commit_new_page(conn, ep, tenant: str, *, page, position: StreamPosition):
    """Commit a page whose keys are probably new (inserted plainly first): (counts, whether all were new)."""
    batch = Batch(endpoint=ep, tenant_id=tenant, position=position, pages=[page], insert_first=True)
    done = commit(conn, batch)
    return done.counts, done.all_new
