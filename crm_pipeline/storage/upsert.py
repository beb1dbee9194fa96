"""Write a validated page's rows into its raw table (upsert by key: the last version wins), and stamp
`_deleted_at` on the rows a walk no longer found. Callers hold the transaction (storage.transactions)."""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import (
    DELETED_AT_COLUMN,
    PIPELINE_COLUMNS,
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    ValidatedPage,
)
from crm_pipeline.storage.backend import UpsertMode
from crm_pipeline.storage.history import ensure_history_table, keep_superseded
from crm_pipeline.storage.layout import PAGE_VIEW, json_columns, page_table
from crm_pipeline.storage.tables import add_columns, column_descriptions, column_names, quote


def upsert_rows(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    page: ValidatedPage,
    mode: UpsertMode = "replace",
) -> int:
    """Insert or replace whole rows: a column the page's version of a record lacks becomes NULL
    (no stale value kept from an older version), and `_deleted_at` is cleared (the record is back).

    `mode` (storage.backend.Backend.upsert_mode): "replace" replaces by key; "insert" inserts plainly (no
    existing row may have a key of the page: a duplicate raises duckdb.ConstraintException), sparing the
    index the delete-and-insert of every row; "delete_insert" deletes the page's keys first (a lake)."""
    frame = page.frame  # its columns; its rows may be in page.table alone (ValidatedPage.laid_out)
    if not page.rows:
        return 0
    columns = column_names(conn, endpoint.qualified_table)
    have = {c.lower() for c in columns}
    if any(name.lower() not in have for name in page.extra_fields):
        add_columns(conn, endpoint, {name: "JSON" for name in page.extra_fields})
        ensure_history_table(conn, endpoint, docs=column_descriptions(endpoint))  # the new columns too
        columns = column_names(conn, endpoint.qualified_table)
    skip = {c.lower() for c in frame.columns} | set(PIPELINE_COLUMNS)  # sent by the page, or the pipeline's
    rest = [c for c in columns if c.lower() not in skip]
    names = ", ".join(quote(c) for c in [*frame.columns, *rest])
    values = ", ".join([*(f"c{i}" for i in range(len(frame.columns))), *(["NULL"] * len(rest))])
    deleted = (f", {DELETED_AT_COLUMN}", ", NULL") if endpoint.marks_deletions else ("", "")
    table = page.table if page.table is not None else page_table(frame, json_columns(endpoint, page))
    conn.register(PAGE_VIEW, table)
    if mode != "insert":  # rows may be replaced: their versions stay in the history
        keep_superseded(conn, endpoint, tenant_id, sent=list(frame.columns), page_view=PAGE_VIEW)
    if mode == "delete_insert":
        delete_keys(conn, endpoint, tenant_id, page_columns=list(frame.columns))
    conn.execute(
        f"INSERT {'OR REPLACE ' if mode == 'replace' else ''}INTO {endpoint.qualified_table} "
        f"({TENANT_COLUMN}, {names}, {SYNCED_AT_COLUMN}{deleted[0]}) "
        f"SELECT ?, {values}, now(){deleted[1]} FROM {PAGE_VIEW}",
        [tenant_id],
    )  # on an error the view stays registered until the transaction is rolled back (see transaction)
    conn.unregister(PAGE_VIEW)
    return page.rows


def delete_keys(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, page_columns: list[str]
) -> None:
    """Delete the stored rows whose keys the registered page holds (the lake's half of an upsert)."""
    keys = ", ".join(quote(k) for k in endpoint.key)
    page_keys = ", ".join(f"c{page_columns.index(k)}" for k in endpoint.key)
    conn.execute(
        f"DELETE FROM {endpoint.qualified_table} WHERE {TENANT_COLUMN} = ? "
        f"AND ({keys}) IN (SELECT {page_keys} FROM {PAGE_VIEW})",
        [tenant_id],
    )


def mark_deleted(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    seen_table: str,
    scope: str = "TRUE",
) -> int:
    """Stamp `_deleted_at` on rows (matching `scope`) whose key is not in `seen_table`; return how many."""
    keys = ", ".join(quote(k) for k in endpoint.key)
    return conn.execute(
        f"UPDATE {endpoint.qualified_table} SET {DELETED_AT_COLUMN} = now() "
        f"WHERE {TENANT_COLUMN} = ? AND {DELETED_AT_COLUMN} IS NULL AND ({scope}) "
        f"AND ({keys}) NOT IN (SELECT {keys} FROM {seen_table})",
        [tenant_id],
    ).fetchone()[0]
