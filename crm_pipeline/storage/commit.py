"""Commit one validated page, its rejected records and the stream's new position in one transaction.

A crash at any moment leaves either the whole page with its cursor, or neither: the next run
resumes from the last committed cursor, and upsert by key makes a repeated page harmless.
"""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.storage.cursors import StreamPosition, store_position
from crm_pipeline.storage.transactions import committed
from crm_pipeline.storage.upsert import write_rows


def commit_page(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    page: ValidatedPage,
    position: StreamPosition,
    run_id: str | None = None,
    replace: bool = True,
) -> tuple[int, int]:
    """Upsert the page's rows, quarantine its rejects and store `position`, atomically.

    `replace=False` inserts plainly (see `commit_new_page`). Returns (rows upserted, records quarantined).
    A commit that conflicts with another writer's (a DuckLake only) is run again (see storage.backend).
    """

    def work() -> tuple[int, int]:
        counts = write_rows(conn, endpoint, tenant_id, page=page, run_id=run_id, replace=replace)
        store_position(conn, tenant_id, endpoint.path, position=position, run_id=run_id)
        return counts

    return committed(conn, work, stream=(tenant_id, endpoint.path))


def commit_new_page(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    page: ValidatedPage,
    position: StreamPosition,
    run_id: str | None = None,
) -> tuple[tuple[int, int], bool]:
    """`commit_page` for a page whose keys are probably not stored yet (a first load): the rows are
    inserted plainly, sparing the index a delete and insert per row. If a key is stored already, that
    transaction is rolled back and the page committed by `commit_page`: the outcome is the same.

    Returns ((rows upserted, records quarantined), whether every key was new).
    """
    try:
        return commit_page(
            conn, endpoint, tenant_id, page=page, position=position, run_id=run_id, replace=False
        ), True
    except duckdb.ConstraintException:
        pass  # rolled back: a key of the page is stored already
    return commit_page(conn, endpoint, tenant_id, page=page, position=position, run_id=run_id), False
