"""SQL helpers shared by the DDL modules (storage.tables, storage.history), which import this one and not
each other: quoting, column names, column comments."""

from __future__ import annotations

import duckdb

STATE_SCHEMA = "pipeline_state"
UNKNOWN_FIELD_DOC = "A field the API sent that no declaration knows yet, kept as sent (JSON)."


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def column_names(conn: duckdb.DuckDBPyConnection, qualified_table: str) -> list[str]:
    """The table's column names, in order (from the binder: far cheaper than `duckdb_columns()`)."""
    return [d[0] for d in conn.execute(f"SELECT * FROM {qualified_table} LIMIT 0").description]


def describe_columns(conn: duckdb.DuckDBPyConnection, qualified_table: str, docs: dict[str, str]) -> int:
    """`COMMENT ON COLUMN` for each column of `docs` whose comment is missing or different (one catalog
    read when nothing changed); a column the table lacks is left out. Returns how many were set."""
    schema, table = qualified_table.split(".")
    have = dict(
        conn.execute(
            "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    )
    stale = [name for name, text in docs.items() if text and name in have and have[name] != text]
    for name in stale:
        conn.execute(f"COMMENT ON COLUMN {qualified_table}.{quote(name)} IS {sql_literal(docs[name])}")
    return len(stale)
