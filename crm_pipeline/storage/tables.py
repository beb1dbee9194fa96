"""DDL of the raw tables and of the pipeline's own state (cursors, quarantine)."""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage.backend import backend_of, retrying

STATE_SCHEMA = "pipeline_state"
CURSORS = f"{STATE_SCHEMA}.cursors"
QUARANTINE = f"{STATE_SCHEMA}.quarantine"

# Columns the pipeline adds to every raw table, beside the fields the API sends.
TENANT_COLUMN = "tenant_id"
SYNCED_AT_COLUMN = "_synced_at"
# List tables only: set when a full walk no longer finds the record; cleared if it comes back.
DELETED_AT_COLUMN = "_deleted_at"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _key(conn: duckdb.DuckDBPyConnection, key_sql: str) -> str:
    """The PRIMARY KEY clause, where the backend has key constraints (a DuckLake has none)."""
    return f", PRIMARY KEY ({key_sql})" if backend_of(conn).key_constraints else ""


def ensure_state_tables(conn: duckdb.DuckDBPyConnection) -> None:
    retrying(conn, lambda: _create_state_tables(conn))  # two lake writers may create them at once


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


def column_names(conn: duckdb.DuckDBPyConnection, qualified_table: str) -> list[str]:
    """The table's column names, in order (from the binder: far cheaper than `duckdb_columns()`)."""
    return [d[0] for d in conn.execute(f"SELECT * FROM {qualified_table} LIMIT 0").description]


def ensure_raw_table(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint) -> None:
    """Create the raw table (and state tables) if missing; add declared fields it lacks."""
    ensure_state_tables(conn)
    retrying(conn, lambda: _create_raw_table(conn, endpoint))


def _create_raw_table(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {endpoint.schema_name}")
    key_sql = ", ".join(quote(c) for c in (TENANT_COLUMN, *endpoint.key))
    cols = [f"{TENANT_COLUMN} VARCHAR NOT NULL"]
    cols += [
        f"{quote(name)} {ftype.duckdb}{' NOT NULL' if name in endpoint.key else ''}"
        for name, ftype in endpoint.fields.items()
    ]
    cols.append(f"{SYNCED_AT_COLUMN} TIMESTAMPTZ NOT NULL")
    if endpoint.kind == "list":
        cols.append(f"{DELETED_AT_COLUMN} TIMESTAMPTZ")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {endpoint.qualified_table} ({', '.join(cols)}{_key(conn, key_sql)})"
    )
    add_columns(conn, endpoint, {n: t.duckdb for n, t in endpoint.fields.items()})


def add_columns(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, wanted: dict[str, str]) -> list[str]:
    """Add the columns of `wanted` (name -> DuckDB type) that the raw table lacks; return their names."""
    have = {c.lower() for c in column_names(conn, endpoint.qualified_table)}
    added = [name for name in wanted if name.lower() not in have]
    for name in added:
        conn.execute(f"ALTER TABLE {endpoint.qualified_table} ADD COLUMN {quote(name)} {wanted[name]}")
    return added
