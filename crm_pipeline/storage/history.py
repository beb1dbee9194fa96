"""Change history: every version of a record the API delivered, one row per (tenant_id, key, modifiedOn).

Kept for every export feed and every incremental list endpoint, in schema `raw_history`: an export
feed's under its raw table's name (`raw_history.customers` for `export/customers`), a list endpoint's
prefixed `list_` (`raw_history.list_customers`), since both kinds have a `customers`. Rows are written
by the page's upsert, in its transaction; a version delivered again (`includeRecentChanges`, a
re-run, an overlapping watermark) is stored once. A version without `modifiedOn` has no place in time
and is not kept. `CRM_HISTORY=off` (crm_pipeline.settings.history_enabled) writes none (the tables
stay, empty or as they were). History starts with the first version a load receives.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.settings import history_enabled
from crm_pipeline.storage.tables import (
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    UNKNOWN_FIELD_DOC,
    column_names,
    quote,
    sql_literal,
)

HISTORY_SCHEMA = "raw_history"
VERSION_COLUMN = "modifiedOn"


def has_history(endpoint: Endpoint) -> bool:
    """Export feeds and incremental list endpoints keep a history (when CRM_HISTORY is on)."""
    return (endpoint.kind == "export" or endpoint.incremental) and VERSION_COLUMN in endpoint.fields


def history_table(endpoint: Endpoint) -> str:
    prefix = "" if endpoint.kind == "export" else "list_"
    return f"{HISTORY_SCHEMA}.{prefix}{endpoint.table}"


def history_key(endpoint: Endpoint) -> tuple[str, ...]:
    return (TENANT_COLUMN, *endpoint.key, VERSION_COLUMN)


def ensure_history_table(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, extra_fields: Sequence[str] = ()
) -> bool:
    """Create the endpoint's history table if it keeps one; add the declared fields and `extra_fields`
    (JSON) it lacks. True if the endpoint has a history table. Created even while CRM_HISTORY is off
    (then it stays empty), so that the SQL models reading it build either way."""
    history_enabled()  # a bad CRM_HISTORY fails at the start of a load, not at its first changed record
    if not has_history(endpoint):
        return False
    columns = {name: ftype.duckdb for name, ftype in endpoint.fields.items()}
    columns.update({name: "JSON" for name in extra_fields if name not in columns})
    table = history_table(endpoint)
    key = history_key(endpoint)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}")
    cols = [f"{TENANT_COLUMN} VARCHAR NOT NULL"]
    cols += [f"{quote(n)} {t}{' NOT NULL' if n in key else ''}" for n, t in columns.items()]
    cols.append(f"{SYNCED_AT_COLUMN} TIMESTAMPTZ NOT NULL")
    conn.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(cols)})")
    have = {c.lower() for c in column_names(conn, table)}
    for name in (n for n in columns if n.lower() not in have):
        conn.execute(f"ALTER TABLE {table} ADD COLUMN {quote(name)} {columns[name]}")
        if name not in endpoint.fields:
            conn.execute(f"COMMENT ON COLUMN {table}.{quote(name)} IS {sql_literal(UNKNOWN_FIELD_DOC)}")
    return True


def write_history(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    sent: Sequence[str],
    page_view: str,
    extra_fields: Sequence[str] = (),
    new_keys: bool = False,
) -> None:
    """Insert the page's versions (the registered view `page_view`, columns c0, c1, ... named by `sent`)
    that the history lacks, in the caller's transaction. `new_keys`: no id of the page is stored yet (a
    first load's plain insert), so the history holds none of their versions and is not looked up.

    No primary key finds the versions kept already: its index, on top of the raw table's, made loads
    run out of their memory limit at checkpoints (docs/PERFORMANCE.md). Instead the versions of the
    page's ids are looked up (a semi-join that hashes the page, not the history) and left out."""
    if not has_history(endpoint) or VERSION_COLUMN not in sent or not history_enabled():
        return
    table = history_table(endpoint)
    if extra_fields:
        ensure_history_table(conn, endpoint, extra_fields)
    names = ", ".join(quote(c) for c in sent)
    values = ", ".join(f"p.c{i}" for i in range(len(sent)))
    position = {name: f"c{i}" for i, name in enumerate(sent)}
    key = [k for k in history_key(endpoint) if k != TENANT_COLUMN]
    first = position[endpoint.key[0]]
    matches = " AND ".join(f"h.{quote(k)} IS NOT DISTINCT FROM p.{position[k]}" for k in key)
    versions = (
        f"SELECT DISTINCT ON ({', '.join(position[k] for k in key)}) * "
        f"FROM {page_view} WHERE {position[VERSION_COLUMN]} IS NOT NULL"
    )
    insert = f"INSERT INTO {table} ({TENANT_COLUMN}, {names}, {SYNCED_AT_COLUMN}) SELECT ?, {values}, now() "
    if new_keys:
        conn.execute(f"{insert} FROM ({versions}) AS p", [tenant_id])
        return
    conn.execute(
        f"{insert} FROM ({versions}) AS p "
        f"ANTI JOIN (SELECT {', '.join(quote(k) for k in key)} FROM {table} WHERE {TENANT_COLUMN} = ? "
        f"AND {quote(endpoint.key[0])} IN (SELECT {first} FROM {page_view})) AS h ON {matches}",
        [tenant_id, tenant_id],
    )


def written_by(schema: str, table: str) -> tuple[str, str]:
    """The raw table whose loads write a relation: a history table's raw table, else the relation itself
    (`raw_history.list_leads` -> `raw_list.leads`); SQL models reading history depend on that asset."""
    if schema != HISTORY_SCHEMA:
        return schema, table
    return ("raw_list", table.removeprefix("list_")) if table.startswith("list_") else ("raw_export", table)
