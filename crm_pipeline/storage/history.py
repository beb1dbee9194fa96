"""Change history: every version of a record the API delivered, one row per (tenant_id, key, modifiedOn).

Kept for every export feed and every incremental list endpoint, in schema `raw_history`: an export
feed's under its raw table's name (`raw_history.customers` for `export/customers`), a list endpoint's
prefixed `list_` (`raw_history.list_customers`), since both kinds have a `customers`. A version without
`modifiedOn` has no place in time and is not kept. History starts with the first version a load receives.

One structure with the raw table, not a second copy of it: the raw table already holds each record's
current version, so `raw_history.<name>` is a view of the current versions and of the table
`raw_history.<name>_superseded`, which holds the versions the raw table no longer does. Before a page
replaces rows, its upsert copies the versions it replaces there, in its transaction (storage.upsert): a
first load writes no history at all, and a page reads only the raw table's rows of its own keys, never
the history. A version delivered again (`includeRecentChanges`, a re-run, an overlapping watermark)
replaces nothing and is kept once.

`CRM_HISTORY=off` (read at the edge, passed down as `history`) adds no version: the rows a load stores while
it is off are left out of the view by their `_synced_at` (its periods in `pipeline_state.history_off`),
and the versions the history holds stay (one a load replaces is still copied).
"""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, TENANT_COLUMN
from crm_pipeline.storage.ddl import (
    STATE_SCHEMA,
    UNKNOWN_FIELD_DOC,
    column_names,
    describe_columns,
    quote,
    sql_literal,
)
from crm_pipeline.storage.lake import is_lake

HISTORY_SCHEMA = "raw_history"
VERSION_COLUMN = "modifiedOn"
SUPERSEDED_SUFFIX = "_superseded"
HISTORY_OFF = f"{STATE_SCHEMA}.history_off"  # when CRM_HISTORY was off, per history
SENT_BACK = f"{STATE_SCHEMA}.history_sent_back"  # records the API sent an older version of after a newer


def has_history(endpoint: Endpoint) -> bool:
    """Export feeds and incremental list endpoints keep a history (when CRM_HISTORY is on)."""
    return endpoint.fetched_by_change and VERSION_COLUMN in endpoint.fields


def history_table(endpoint: Endpoint) -> str:
    """The history analysts query (a view: the current versions and the superseded ones)."""
    return f"{HISTORY_SCHEMA}.{endpoint.history_name}"


def superseded_table(endpoint: Endpoint) -> str:
    """Where the versions the raw table no longer holds are kept."""
    return history_table(endpoint) + SUPERSEDED_SUFFIX


def history_key(endpoint: Endpoint) -> tuple[str, ...]:
    return (TENANT_COLUMN, *endpoint.key, VERSION_COLUMN)


def ensure_history_table(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    *,
    docs: dict[str, str] | None = None,
    history: bool | None = None,
) -> bool:
    """Make the endpoint's history if it keeps one (after its raw table): the superseded table with
    every column of the raw table but `_deleted_at`, the view, their column comments (`docs`, else
    UNKNOWN_FIELD_DOC), and note whether history is off from now on (`history`, CRM_HISTORY as the edge
    read it; None: as it was). True if the endpoint keeps a history. Made even while history is off (then
    it stays empty), so that the SQL models build."""
    if not has_history(endpoint):
        return False
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {HISTORY_SCHEMA}")
    _ensure_off_periods(conn, history_table(endpoint), enabled=history)
    past, raw = superseded_table(endpoint), endpoint.qualified_table
    raw_types = dict(conn.execute(f"SELECT column_name, column_type FROM (DESCRIBE {raw})").fetchall())
    raw_types.pop(DELETED_AT_COLUMN, None)
    _create_superseded(conn, endpoint, raw_types)
    have = {c.lower() for c in column_names(conn, past)}
    for name in (n for n in raw_types if n.lower() not in have):
        conn.execute(f"ALTER TABLE {past} ADD COLUMN {quote(name)} {raw_types[name]}")
    columns = column_names(conn, past)
    view = history_table(endpoint)
    if _migrate_history_table(conn, endpoint, columns) or _view_columns(conn, view) != columns:
        conn.execute(f"CREATE OR REPLACE VIEW {view} AS {_history_sql(endpoint, columns, raw_types)}")
    described = {name: (docs or {}).get(name) or UNKNOWN_FIELD_DOC for name in columns}
    describe_columns(conn, past, described)
    if not is_lake(conn):  # a DuckLake keeps no comments on views (as for the SQL models)
        describe_columns(conn, view, described)
    return True


def _create_superseded(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, raw_types: dict[str, str]
) -> None:
    """The superseded table. No key index: looking a version up in it would have to load its index whole,
    which a large history's does not fit in a load's memory limit; see keep_superseded."""
    key = history_key(endpoint)
    cols = [f"{quote(n)} {t}{' NOT NULL' if n in key else ''}" for n, t in raw_types.items()]
    conn.execute(f"CREATE TABLE IF NOT EXISTS {superseded_table(endpoint)} ({', '.join(cols)})")


def _columns(names) -> str:
    return ", ".join(quote(n) for n in names)


def _view_columns(conn: duckdb.DuckDBPyConnection, view: str) -> list[str] | None:
    try:
        return column_names(conn, view)
    except duckdb.CatalogException:
        return None


def _history_sql(endpoint: Endpoint, columns: list[str], raw_types: dict[str, str]) -> str:
    """The view's query: the raw table's versions stored while history was on, and the superseded ones
    but a version that is current again (the API sent it back after a later one)."""
    raw_side = ", ".join(quote(c) if c in raw_types else f"NULL AS {quote(c)}" for c in columns)
    return (
        f"WITH current_versions AS (SELECT {raw_side} FROM {endpoint.qualified_table} AS r "
        f"WHERE r.{quote(VERSION_COLUMN)} IS NOT NULL AND {_kept(history_table(endpoint), 'r')}) "
        f"SELECT {', '.join(f'h.{quote(c)}' for c in columns)} FROM {superseded_table(endpoint)} AS h "
        f"WHERE NOT EXISTS (SELECT 1 FROM current_versions AS c WHERE {_same_version(endpoint, 'c', 'h')}) "
        f"UNION ALL SELECT * FROM current_versions"
    )


def _kept(history: str, alias: str) -> str:
    """SQL: the raw row `alias` was stored while history was on (no off period holds its `_synced_at`)."""
    synced = f"{alias}.{SYNCED_AT_COLUMN}"
    return (
        f"NOT EXISTS (SELECT 1 FROM {HISTORY_OFF} AS o WHERE o.history = {sql_literal(history)} "
        f"AND {synced} >= o.off_from AND (o.off_to IS NULL OR {synced} < o.off_to))"
    )


def _ensure_off_periods(conn: duckdb.DuckDBPyConnection, history: str, *, enabled: bool | None) -> None:
    """Open a period of `history` with history off when a load starts with it off, close it when one
    starts with it on (None: leave it as it is): the rows a load stores get a later `_synced_at` than
    either."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {HISTORY_OFF} "
        "(history VARCHAR NOT NULL, off_from TIMESTAMPTZ NOT NULL, off_to TIMESTAMPTZ)"
    )
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {SENT_BACK} "
        "(history VARCHAR NOT NULL, tenant_id VARCHAR NOT NULL, record VARCHAR NOT NULL)"
    )
    if enabled is None:
        return
    open_periods = conn.execute(
        f"SELECT count(*) FROM {HISTORY_OFF} WHERE history = ? AND off_to IS NULL", [history]
    ).fetchone()[0]
    if enabled and open_periods:
        conn.execute(
            f"UPDATE {HISTORY_OFF} SET off_to = now() WHERE history = ? AND off_to IS NULL", [history]
        )
    elif not enabled and not open_periods:
        conn.execute(f"INSERT INTO {HISTORY_OFF} VALUES (?, now(), NULL)", [history])


def _migrate_history_table(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, columns: list[str]) -> bool:
    """A history written before it was one structure with the raw table (a table of every version, where
    the view goes): its versions that the raw table does not hold go to the superseded table, and it is
    dropped. True if there was one."""
    schema, name = history_table(endpoint).split(".")
    old = conn.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?", [schema, name]
    ).fetchone()[0]
    if not old:
        return False
    key, have = (
        _columns(history_key(endpoint)),
        {c.lower() for c in column_names(conn, history_table(endpoint))},
    )
    picked = ", ".join(quote(c) if c.lower() in have else "NULL" for c in columns)
    conn.execute(
        f"INSERT INTO {superseded_table(endpoint)} ({_columns(columns)}) SELECT {picked} "
        f"FROM {history_table(endpoint)} WHERE ({key}) NOT IN "
        f"(SELECT {key} FROM {endpoint.qualified_table} WHERE {quote(VERSION_COLUMN)} IS NOT NULL)"
    )
    conn.execute(f"DROP TABLE {history_table(endpoint)}")
    return True


def keep_superseded(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, *, sent: list[str], page_view: str
) -> int:
    """Before a page replaces rows (in the caller's transaction): copy the stored versions it replaces by
    another version into the superseded table; returns how many. Reads the raw table's rows of the
    page's keys (a join that hashes the page), not the history.

    A version copied there is not there yet, unless the API once sent a record's older version after a
    newer one (then the newer may be current again later): such a record is noted (SENT_BACK) when it
    happens, and only its versions are looked up in the history before they are copied. A version that
    is current again is left out of the view by the raw table's row."""
    if not has_history(endpoint):
        return 0
    history, past = history_table(endpoint), superseded_table(endpoint)
    version = f"p.c{sent.index(VERSION_COLUMN)}" if VERSION_COLUMN in sent else "NULL"
    on = " AND ".join(f"r.{quote(k)} = p.c{sent.index(k)}" for k in endpoint.key)
    replaced = (
        f"FROM {endpoint.qualified_table} AS r JOIN {page_view} AS p ON {on} "
        f"WHERE r.{TENANT_COLUMN} = ? AND r.{quote(VERSION_COLUMN)} IS NOT NULL "
        f"AND r.{quote(VERSION_COLUMN)} IS DISTINCT FROM {version} AND {_kept(history, 'r')}"
    )
    record = f"CAST(json_array({', '.join(f'r.{quote(k)}' for k in endpoint.key)}) AS VARCHAR)"
    noted = f"SELECT record FROM {SENT_BACK} WHERE history = {sql_literal(history)} AND tenant_id = ?"
    copy = (
        f"INSERT INTO {past} SELECT {', '.join(f'r.{quote(c)}' for c in column_names(conn, past))} {replaced}"
    )
    any_noted = conn.execute(
        f"SELECT count(*) > 0 FROM {SENT_BACK} WHERE history = ? AND tenant_id = ?", [history, tenant_id]
    ).fetchone()[0]
    if not any_noted:
        moved = conn.execute(copy, [tenant_id]).fetchone()[0]
    else:
        moved = conn.execute(f"{copy} AND {record} NOT IN ({noted})", [tenant_id, tenant_id]).fetchone()[0]
        moved += conn.execute(
            f"{copy} AND {record} IN ({noted}) AND NOT EXISTS "
            f"(SELECT 1 FROM {past} AS h WHERE {_same_version(endpoint, 'h', 'r')})",
            [tenant_id, tenant_id],
        ).fetchone()[0]
    if moved:  # the records whose new version is not later than the stored one: sent back
        conn.execute(
            f"INSERT INTO {SENT_BACK} SELECT DISTINCT {sql_literal(history)}, ?, {record} {replaced} "
            f"AND NOT (({version} > r.{quote(VERSION_COLUMN)}) IS TRUE) AND {record} NOT IN ({noted})",
            [tenant_id, tenant_id, tenant_id],
        )
    return moved


def _same_version(endpoint: Endpoint, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{quote(k)} = {b}.{quote(k)}" for k in history_key(endpoint))


def written_by(schema: str, table: str) -> tuple[str, str]:
    """The raw table whose loads write a relation: a history's raw table, else the relation itself
    (`raw_history.list_leads` -> `raw_list.leads`); SQL models reading history depend on that asset."""
    if schema != HISTORY_SCHEMA:
        return schema, table
    table = table.removesuffix(SUPERSEDED_SUFFIX)
    return ("raw_list", table.removeprefix("list_")) if table.startswith("list_") else ("raw_export", table)
