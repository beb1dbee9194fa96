"""DDL of the raw tables and of the pipeline's own state (cursors, quarantine); a raw table's history
(storage.history) is made with it."""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, TENANT_COLUMN
from crm_pipeline.schemas.declared import descriptions_of
from crm_pipeline.storage.backend import backend_of
from crm_pipeline.storage.ddl import (  # re-exported: the DDL helpers' old home
    STATE_SCHEMA,
    UNKNOWN_FIELD_DOC,
    column_names,
    describe_columns,
    quote,
    sql_literal,
)
from crm_pipeline.storage.history import ensure_history_table
from crm_pipeline.storage.transactions import committed

CURSORS = f"{STATE_SCHEMA}.cursors"
QUARANTINE = f"{STATE_SCHEMA}.quarantine"


# What the pipeline's own columns mean (in the Dagster column schema, DuckDB comments and docs/TABLES.md).
PIPELINE_COLUMN_DOCS = {
    TENANT_COLUMN: "ServiceTitan tenant the row belongs to (first column of every key).",
    SYNCED_AT_COLUMN: "When the pipeline stored this version of the row (UTC).",
    DELETED_AT_COLUMN: (
        "When a full walk of the endpoint no longer found the record (NULL while the API returns it)."
    ),
}


def _key(conn: duckdb.DuckDBPyConnection, key_sql: str) -> str:
    """The PRIMARY KEY clause, where the backend has key constraints (a DuckLake has none)."""
    return backend_of(conn).key_clause(key_sql)


def ensure_state_tables(conn: duckdb.DuckDBPyConnection) -> None:
    committed(conn, lambda: _create_state_tables(conn))  # as the raw table (ensure_raw_table)


def _create_state_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {CURSORS} (
            tenant_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, position VARCHAR,
            has_more BOOLEAN, updated_at TIMESTAMPTZ NOT NULL, run_id VARCHAR
            {_key(conn, "tenant_id, stream")})"""
    )
    conn.execute(
        f"""CREATE TABLE IF NOT EXISTS {QUARANTINE} (
            tenant_id VARCHAR NOT NULL, stream VARCHAR NOT NULL, record_id VARCHAR,
            record JSON, reasons VARCHAR NOT NULL, quarantined_at TIMESTAMPTZ NOT NULL,
            run_id VARCHAR)"""
    )


def column_descriptions(endpoint: Endpoint) -> dict[str, str]:
    """What each column of the endpoint's raw table means, in table order: the pipeline's columns, the
    parent ids a parent-scoped endpoint carries, and the API's fields as the OpenAPI description has them."""
    fields = descriptions_of(endpoint.path)
    parents = {}
    if endpoint.parent is not None:
        for param, (parent_column, column) in endpoint.parent.params.items():
            parents[column] = (
                f"`{parent_column}` of the parent row in {endpoint.parent.table}: the path parameter "
                f"{{{param}}} this row was fetched under (added by the pipeline)."
            )
    docs = {TENANT_COLUMN: PIPELINE_COLUMN_DOCS[TENANT_COLUMN]}
    for name in endpoint.fields:
        docs[name] = parents.get(name) or fields.get(name, "")
    docs[SYNCED_AT_COLUMN] = PIPELINE_COLUMN_DOCS[SYNCED_AT_COLUMN]
    if endpoint.marks_deletions:
        docs[DELETED_AT_COLUMN] = PIPELINE_COLUMN_DOCS[DELETED_AT_COLUMN]
    return docs


def ensure_raw_table(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, *, history: bool | None = None
) -> None:
    """Create the raw table (and state tables, and its history table) if missing; add declared fields it
    lacks; describe its columns (`COMMENT ON COLUMN`) where their comment is missing or outdated.
    `history`: whether a load from now on keeps versions (None: as before; storage.history)."""
    ensure_state_tables(conn)
    # one transaction: a statement alone would commit (and sync the log) by itself; and two lake writers
    # may create it at once (the later one runs again)
    committed(conn, lambda: _create_raw_table(conn, endpoint, history=history))


def _create_raw_table(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, *, history: bool | None) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {endpoint.schema_name}")
    key_sql = ", ".join(quote(c) for c in (TENANT_COLUMN, *endpoint.key))
    cols = [f"{TENANT_COLUMN} VARCHAR NOT NULL"]
    cols += [
        f"{quote(name)} {ftype.duckdb}{' NOT NULL' if name in endpoint.key else ''}"
        for name, ftype in endpoint.fields.items()
    ]
    cols.append(f"{SYNCED_AT_COLUMN} TIMESTAMPTZ NOT NULL")
    if endpoint.marks_deletions:
        cols.append(f"{DELETED_AT_COLUMN} TIMESTAMPTZ")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {endpoint.qualified_table} ({', '.join(cols)}{_key(conn, key_sql)})"
    )
    add_columns(conn, endpoint, {n: t.duckdb for n, t in endpoint.fields.items()})
    docs = column_descriptions(endpoint)
    describe_columns(conn, endpoint.qualified_table, docs)
    ensure_history_table(conn, endpoint, docs=docs, history=history)


def add_columns(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, wanted: dict[str, str]) -> list[str]:
    """Add the columns of `wanted` (name -> DuckDB type) that the raw table lacks; return their names."""
    have = {c.lower() for c in column_names(conn, endpoint.qualified_table)}
    added = [name for name in wanted if name.lower() not in have]
    for name in added:
        conn.execute(f"ALTER TABLE {endpoint.qualified_table} ADD COLUMN {quote(name)} {wanted[name]}")
        if name not in endpoint.fields:
            unknown = sql_literal(UNKNOWN_FIELD_DOC)
            conn.execute(f"COMMENT ON COLUMN {endpoint.qualified_table}.{quote(name)} IS {unknown}")
    return added


def table_row_count(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str) -> int:
    """The rows of `endpoint`'s raw table for one tenant."""
    return conn.execute(
        f"SELECT count(*) FROM {endpoint.qualified_table} WHERE tenant_id = ?", [tenant_id]
    ).fetchone()[0]
