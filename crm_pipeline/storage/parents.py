"""The parents of parent-scoped endpoints: which a walk still has to visit, and when each was last visited.

`pipeline_state.parents` holds one row per (tenant, stream, parent): its path parameters as text
(`p1`, and `p2` for two-parameter paths, '' otherwise), whether the walk in progress still has to
visit it (`pending`), and when a committed batch last visited it. A batch's children and the
parents it visited are committed in one transaction: a walk killed at any moment resumes with the
parents still pending, fetching none of the done ones again.
"""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import SYNCED_AT_COLUMN, TENANT_COLUMN
from crm_pipeline.storage.tables import STATE_SCHEMA, ensure_state_tables, quote

PARENTS = f"{STATE_SCHEMA}.parents"


def ensure_parents_table(conn: duckdb.DuckDBPyConnection) -> None:
    ensure_state_tables(conn)
    conn.execute(  # no key constraint (a DuckLake has none): planning adds only parents not known yet
        f"""CREATE TABLE IF NOT EXISTS {PARENTS} (
            tenant_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, p1 VARCHAR NOT NULL, p2 VARCHAR NOT NULL,
            pending BOOLEAN NOT NULL, visited_at TIMESTAMPTZ)"""
    )


def _param_columns(endpoint: Endpoint) -> list[tuple[str, str, str]]:
    """(path parameter, column of the parent table, column carried by the child rows), in order."""
    return [(param, col, child) for param, (col, child) in endpoint.parent.params.items()]


def _as_text(columns: list[str]) -> tuple[str, str]:
    p1 = f"CAST({quote(columns[0])} AS VARCHAR)"
    p2 = f"CAST({quote(columns[1])} AS VARCHAR)" if len(columns) > 1 else "''"
    return p1, p2


def parent_table_exists(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name || '.' || table_name = ?",
            [endpoint.parent.table],
        ).fetchone()[0]
    )


def plan_walk(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, since: str | None, extra: int = 0
) -> int:
    """Mark the parents a new walk visits as pending; return how many. A whole walk (`since` None) visits
    every parent stored; otherwise those stored or changed since `since`, those never visited, and the
    `extra` visited longest ago (the rotation through unchanged parents). Call inside a transaction."""
    parent, stream = endpoint.parent, endpoint.path
    p1, p2 = _as_text([col for _, col, _ in _param_columns(endpoint)])
    conn.execute(
        f"INSERT INTO {PARENTS} SELECT ?, ?, p1, p2, false, NULL "
        f"FROM (SELECT DISTINCT {p1} AS p1, {p2} AS p2 FROM {parent.table} WHERE {TENANT_COLUMN} = ?) "
        f"AS stored ANTI JOIN (SELECT p1, p2 FROM {PARENTS} WHERE tenant_id = ? AND stream = ?) "
        "AS known USING (p1, p2)",
        [tenant_id, stream, tenant_id, tenant_id, stream],
    )
    mine = "tenant_id = ? AND stream = ?"
    if since is None:
        conn.execute(f"UPDATE {PARENTS} SET pending = true WHERE {mine}", [tenant_id, stream])
    else:
        changed = (
            f"SELECT {p1}, {p2} FROM {parent.table} WHERE {TENANT_COLUMN} = ? "
            f"AND {SYNCED_AT_COLUMN} >= ?::TIMESTAMPTZ"
        )
        conn.execute(
            f"UPDATE {PARENTS} SET pending = true "
            f"WHERE {mine} AND (visited_at IS NULL OR (p1, p2) IN ({changed}))",
            [tenant_id, stream, tenant_id, since],
        )
        if extra > 0:
            conn.execute(
                f"UPDATE {PARENTS} SET pending = true WHERE {mine} "
                f"AND (p1, p2) IN (SELECT p1, p2 FROM {PARENTS} WHERE {mine} AND NOT pending "
                f"ORDER BY visited_at LIMIT {int(extra)})",
                [tenant_id, stream, tenant_id, stream],
            )
    return pending_count(conn, endpoint, tenant_id)


def pending_count(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str) -> int:
    return conn.execute(
        f"SELECT count(*) FROM {PARENTS} WHERE tenant_id = ? AND stream = ? AND pending",
        [tenant_id, endpoint.path],
    ).fetchone()[0]


def pending_parents(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    after: tuple[str, str] | None,
    limit: int,
) -> list[dict]:
    """Up to `limit` pending parents after `after` (in (p1, p2) order), as {path parameter: typed value}."""
    columns = _param_columns(endpoint)
    typed = [
        f"CAST(p{i + 1} AS {endpoint.fields[child].duckdb}) AS {quote(param)}"
        for i, (param, _, child) in enumerate(columns)
    ]
    where = "tenant_id = ? AND stream = ? AND pending" + (" AND (p1, p2) > (?, ?)" if after else "")
    cursor = conn.execute(
        f"SELECT p1, p2, {', '.join(typed)} FROM {PARENTS} WHERE {where} ORDER BY p1, p2 LIMIT {int(limit)}",
        [tenant_id, endpoint.path, *(after or ())],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def mark_visited(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, keys_view: str
) -> None:
    """Set the parents in `keys_view` (columns p1, p2) visited now (inside the batch's transaction)."""
    conn.execute(
        f"UPDATE {PARENTS} SET pending = false, visited_at = now() WHERE tenant_id = ? AND stream = ? "
        f"AND (p1, p2) IN (SELECT p1, p2 FROM {keys_view})",
        [tenant_id, endpoint.path],
    )


def rotation_state(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, within_hours: float | None = None
) -> tuple[int, int, str | None]:
    """(parents known, visited within the last `within_hours`, the oldest visit: None if one was never
    visited)."""
    hours = float(within_hours or 0)
    count, recent, never, oldest = conn.execute(
        "SELECT count(*), "
        "count(*) FILTER (WHERE visited_at >= now() - to_microseconds(CAST(? * 3600e6 AS BIGINT))), "
        f"count(*) FILTER (WHERE visited_at IS NULL), min(visited_at)::VARCHAR FROM {PARENTS} "
        "WHERE tenant_id = ? AND stream = ?",
        [hours, tenant_id, endpoint.path],
    ).fetchone()
    return count, recent, None if never else oldest


def children_scope(endpoint: Endpoint, keys_view: str) -> str:
    """SQL condition: the child row belongs to a parent in `keys_view` (columns p1, p2)."""
    p1, p2 = _as_text([child for _, _, child in _param_columns(endpoint)])
    return f"({p1}, {p2}) IN (SELECT p1, p2 FROM {keys_view})"


def visited_since(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, since: str):
    """The parents (columns p1, p2) visited since `since` (a whole walk's start), as an Arrow table."""
    return conn.execute(
        f"SELECT p1, p2 FROM {PARENTS} WHERE tenant_id = ? AND stream = ? AND visited_at >= ?::TIMESTAMPTZ",
        [tenant_id, endpoint.path, since],
    ).to_arrow_table()


def unvisited_scope(endpoint: Endpoint, visited_view: str) -> str:
    """SQL condition: the child row's parent is not in `visited_view` (columns p1, p2; see visited_since)."""
    p1, p2 = _as_text([child for _, _, child in _param_columns(endpoint)])
    return f"({p1}, {p2}) NOT IN (SELECT p1, p2 FROM {visited_view})"
