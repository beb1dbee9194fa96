"""Write one validated page, its rejected records and the stream's new position in one transaction.

A crash at any moment leaves either the whole page with its cursor, or neither: the next run
resumes from the last committed cursor, and upsert by key makes a repeated page harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage.tables import (
    CURSORS, DELETED_AT_COLUMN, QUARANTINE, SYNCED_AT_COLUMN, TENANT_COLUMN, add_columns, quote, table_columns,
)
from crm_pipeline.validation import ValidatedPage


@dataclass(frozen=True)
class StreamPosition:
    """Where a stream stands: the export `continueFrom` token (or a list watermark) and whether more waits."""

    position: str | None
    has_more: bool


def read_position(conn: duckdb.DuckDBPyConnection, tenant_id: str, stream: str) -> StreamPosition | None:
    row = conn.execute(
        f"SELECT position, has_more FROM {CURSORS} WHERE tenant_id = ? AND stream = ?", [tenant_id, stream]
    ).fetchone()
    return None if row is None else StreamPosition(row[0], bool(row[1]))


def reset_position(conn: duckdb.DuckDBPyConnection, tenant_id: str, stream: str) -> bool:
    """Forget a stream's position so that its next run starts from the beginning. True if one was stored."""
    found = read_position(conn, tenant_id, stream) is not None
    conn.execute(f"DELETE FROM {CURSORS} WHERE tenant_id = ? AND stream = ?", [tenant_id, stream])
    return found


def _upsert_rows(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, page: ValidatedPage) -> int:
    """Insert or replace whole rows: a column the page's version of a record lacks becomes NULL
    (no stale value kept from an older version), and `_deleted_at` is cleared (the record is back)."""
    frame = page.frame
    if frame.empty:
        return 0
    add_columns(conn, endpoint, {name: "JSON" for name in page.extra_fields})
    sent = {c.lower() for c in frame.columns}
    pipeline = {TENANT_COLUMN, SYNCED_AT_COLUMN, DELETED_AT_COLUMN}
    rest = [c for c in table_columns(conn, endpoint.schema_name, endpoint.table) if c.lower() not in sent | pipeline]
    names = ", ".join(quote(c) for c in [*frame.columns, *rest])
    values = ", ".join([*(quote(c) for c in frame.columns), *(["NULL"] * len(rest))])
    deleted = (f", {DELETED_AT_COLUMN}", ", NULL") if endpoint.kind == "list" else ("", "")
    conn.register("_crm_page", frame)
    try:
        conn.execute(
            f"INSERT OR REPLACE INTO {endpoint.qualified_table} ({TENANT_COLUMN}, {names}, {SYNCED_AT_COLUMN}{deleted[0]}) "
            f"SELECT ?, {values}, now(){deleted[1]} FROM _crm_page",
            [tenant_id],
        )
    finally:
        conn.unregister("_crm_page")
    return len(frame)


def _quarantine(conn, endpoint: Endpoint, tenant_id: str, page: ValidatedPage, run_id: str | None) -> int:
    """Keep each rejected record once: a record repeated (on a page, or by includeRecentChanges on the
    next answer) replaces its identical copy, stamped with the latest run."""
    rejected = list({(r.record_id, r.record_json): r for r in page.rejected}.values())
    if rejected:
        conn.executemany(
            f"DELETE FROM {QUARANTINE} WHERE tenant_id = ? AND stream = ? AND record_id IS NOT DISTINCT FROM ? "
            "AND record::VARCHAR IS NOT DISTINCT FROM ?",
            [[tenant_id, endpoint.path, r.record_id, r.record_json] for r in rejected],
        )
        conn.executemany(
            f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, now(), ?)",
            [[tenant_id, endpoint.path, r.record_id, r.record_json, r.reasons, run_id] for r in rejected],
        )
    return len(page.rejected)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def write_rows(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, page: ValidatedPage, run_id: str | None
) -> tuple[int, int]:
    """Upsert the page's rows and quarantine its rejects (inside the caller's transaction)."""
    return _upsert_rows(conn, endpoint, tenant_id, page), _quarantine(conn, endpoint, tenant_id, page, run_id)


def store_position(
    conn: duckdb.DuckDBPyConnection, tenant_id: str, stream: str, position: StreamPosition, run_id: str | None
) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO {CURSORS} VALUES (?, ?, ?, ?, now(), ?)",
        [tenant_id, stream, position.position, position.has_more, run_id],
    )


def commit_page(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    page: ValidatedPage,
    position: StreamPosition,
    run_id: str | None = None,
) -> tuple[int, int]:
    """Upsert the page's rows, quarantine its rejects and store `position`, atomically.

    Returns (rows upserted, records quarantined).
    """
    with transaction(conn):
        counts = write_rows(conn, endpoint, tenant_id, page, run_id)
        store_position(conn, tenant_id, endpoint.path, position, run_id)
    return counts


def mark_deleted(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, seen_table: str, scope: str = "TRUE"
) -> int:
    """Stamp `_deleted_at` on rows (matching `scope`) whose key is not in `seen_table`; return how many."""
    keys = ", ".join(quote(k) for k in endpoint.key)
    return conn.execute(
        f"UPDATE {endpoint.qualified_table} SET {DELETED_AT_COLUMN} = now() "
        f"WHERE {TENANT_COLUMN} = ? AND {DELETED_AT_COLUMN} IS NULL AND ({scope}) "
        f"AND ({keys}) NOT IN (SELECT {keys} FROM {seen_table})",
        [tenant_id],
    ).fetchone()[0]
