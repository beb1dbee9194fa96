"""Build models in DuckDB and run their checks; errors name the `.sql` file and line."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from crm_pipeline.sql_models.loader import Model, SqlFile, compile_sql
from crm_pipeline.storage.lake import is_lake

_LINE = re.compile(r"LINE (\d+):")


def execute(item: SqlFile, conn: duckdb.DuckDBPyConnection, sql: str) -> duckdb.DuckDBPyConnection:
    """Run `sql` (compiled from `item`); a DuckDB error is re-raised as `file:line: message`."""
    try:
        return conn.execute(sql)
    except duckdb.Error as exc:
        match = _LINE.search(str(exc))
        raise item.error(str(exc), int(match.group(1)) if match else None) from exc


def build_model(conn: duckdb.DuckDBPyConnection, model: Model, models: dict[str, Model]) -> int:
    """Create or replace the model's view or table; return its row count."""
    sql = compile_sql(model, models)
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {model.schema}")
    found = conn.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
        [model.schema, model.name],
    ).fetchone()
    kind = model.materialized.upper()
    if found and (found[0] == "VIEW") != (kind == "VIEW"):  # switching between view and table
        conn.execute(f"DROP {'VIEW' if found[0] == 'VIEW' else 'TABLE'} {model.relation}")
    # Same line: the compiled SQL keeps the file's line numbers.
    execute(model, conn, f"CREATE OR REPLACE {kind} {model.relation} AS {sql}")
    describe_model_columns(conn, model)
    return execute(model, conn, f"SELECT count(*) FROM {model.relation}").fetchone()[0]


def describe_model_columns(conn: duckdb.DuckDBPyConnection, model: Model) -> None:
    """`COMMENT ON COLUMN` from the model's header and `columns.txt`, so that `duckdb_columns()` and
    database tools show them (a rebuilt model starts without comments). A DuckLake keeps no comments on
    views: there the headers and docs/TABLES.md describe them."""
    if is_lake(conn):
        return
    columns = [d[0] for d in conn.execute(f"SELECT * FROM {model.relation} LIMIT 0").description]
    docs = model.column_docs
    for column in (c for c in columns if docs.get(c)):
        text = docs[column].replace("'", "''")
        conn.execute(f"COMMENT ON COLUMN {model.relation}.\"{column}\" IS '{text}'")


def build_all(conn: duckdb.DuckDBPyConnection, models: dict[str, Model]) -> dict[str, int]:
    """Build every model in dependency order; return row counts by model name."""
    return {name: build_model(conn, model, models) for name, model in models.items()}


@dataclass(frozen=True)
class Check:
    """A check of a model: a query that returns the offending rows."""

    name: str
    description: str
    source: SqlFile  # the file errors are attributed to
    sql: str
    severity: str = "error"


@dataclass(frozen=True)
class CheckOutcome:
    """What running a check found."""

    check: Check
    failing_rows: int
    sample: list[dict]

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def model_checks(model: Model, models: dict[str, Model]) -> list[Check]:
    """The model's `unique` and `not_null` declarations and its data tests, as checks."""
    checks = [
        Check(
            f"unique_{'_'.join(cols)}",
            f"({', '.join(cols)}) is unique",
            model,
            f"SELECT {', '.join(cols)}, count(*) AS duplicates FROM {model.relation} "
            "GROUP BY ALL HAVING count(*) > 1",
        )
        for cols in model.unique
    ]
    if model.not_null:
        checks.append(
            Check(
                "not_null",
                f"no nulls in {', '.join(model.not_null)}",
                model,
                f"SELECT {', '.join(model.not_null)} FROM {model.relation} WHERE "
                + " OR ".join(f"{c} IS NULL" for c in model.not_null),
            )
        )
    checks += [Check(t.check_name, t.description, t, compile_sql(t, models), t.severity) for t in model.tests]
    return checks


def run_check(conn: duckdb.DuckDBPyConnection, check: Check, sample_size: int = 5) -> CheckOutcome:
    """Count the rows the check's query returns and keep a few of them."""
    wrapped = f"SELECT * FROM ({check.sql}\n) AS offending"  # first line shared, no line added before
    count = execute(check.source, conn, f"SELECT count(*) FROM ({check.sql}\n)").fetchone()[0]
    cursor = execute(check.source, conn, f"{wrapped} LIMIT {sample_size}")
    columns = [d[0] for d in cursor.description]
    return CheckOutcome(check, count, [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()])
