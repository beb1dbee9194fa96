"""Each stream's stored position (`pipeline_state.cursors`): read, forget and store it.

A position is stored in the same transaction as the page it follows (storage.batch), so a run resumes
exactly after the last page committed."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_pipeline.storage.tables import CURSORS


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


def store_position(
    conn: duckdb.DuckDBPyConnection,
    tenant_id: str,
    stream: str,
    *,
    position: StreamPosition,
    run_id: str | None,
) -> None:
    """Store the stream's position: an UPDATE of its row (on every page: far cheaper than an
    INSERT OR REPLACE in DuckDB), or an INSERT the first time."""
    updated = conn.execute(
        f"UPDATE {CURSORS} SET position = ?, has_more = ?, updated_at = now(), run_id = ? "
        "WHERE tenant_id = ? AND stream = ?",
        [position.position, position.has_more, run_id, tenant_id, stream],
    ).fetchone()[0]
    if not updated:
        conn.execute(
            f"INSERT INTO {CURSORS} VALUES (?, ?, ?, ?, now(), ?)",
            [tenant_id, stream, position.position, position.has_more, run_id],
        )
