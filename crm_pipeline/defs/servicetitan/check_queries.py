"""The SQL behind the raw tables' asset checks (plain functions on a DuckDB connection)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage.tables import DELETED_AT_COLUMN, QUARANTINE, SYNCED_AT_COLUMN, TENANT_COLUMN, quote


def table_exists(conn: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    return (
        conn.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE schema_name || '.' || table_name = ?", [qualified]
        ).fetchone()[0]
        > 0
    )


def quarantined(
    conn: duckdb.DuckDBPyConnection, stream: str, run_id: str | None
) -> tuple[int, int, list[dict]]:
    """(records quarantined by `run_id`, by any run, a sample of this run's) for one stream."""
    if not table_exists(conn, QUARANTINE):
        return 0, 0, []
    in_run, ever = conn.execute(
        f"SELECT count(*) FILTER (WHERE run_id = ?), count(*) FROM {QUARANTINE} WHERE stream = ?",
        [run_id, stream],
    ).fetchone()
    sample = conn.execute(
        f"SELECT record_id, reasons FROM {QUARANTINE} WHERE stream = ? AND run_id = ? LIMIT 5",
        [stream, run_id],
    ).fetchall()
    return in_run, ever, [{"record_id": r, "reasons": why} for r, why in sample]


def key_problems(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint) -> tuple[int, int, list[dict]]:
    """(rows with a null key column, keys held by more than one row, a sample of those keys)."""
    cols = [TENANT_COLUMN, *endpoint.key]
    keys = ", ".join(quote(c) for c in cols)
    nulls = conn.execute(
        f"SELECT count(*) FROM {endpoint.qualified_table} "
        f"WHERE {' OR '.join(f'{quote(c)} IS NULL' for c in cols)}"
    ).fetchone()[0]
    duplicated = (
        f"SELECT {keys}, count(*) AS n FROM {endpoint.qualified_table} GROUP BY ALL HAVING count(*) > 1"
    )
    # one aggregation (the table's whole key) gives both the count and the sample
    sample = conn.execute(f"SELECT *, count(*) OVER () FROM ({duplicated}) LIMIT 5").fetchall()
    dupes = sample[0][-1] if sample else 0
    return nulls, dupes, [dict(zip([*cols, "rows"], map(str, row[:-1]), strict=True)) for row in sample]


@dataclass(frozen=True)
class Reconciliation:
    """Stored rows of one tenant against the API's totalCount of the walk that loaded them."""

    api_total: int
    live: int  # rows not marked deleted
    written: int  # live rows the run wrote (since it started)
    quarantined: int
    whole_walk: bool

    @property
    def passed(self) -> bool:
        """Every record the API counted is stored (or quarantined); after a whole walk, nothing else is
        live."""
        complete = self.written + self.quarantined >= self.api_total
        return complete and (not self.whole_walk or self.live == self.written)


@dataclass(frozen=True)
class LatestLoad:
    """What the latest load of a table said: its run, when that started (epoch seconds), the API's count
    and whether it walked everything."""

    run_id: str | None
    started: float
    api_total: int
    whole_walk: bool


def reconcile(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, load: LatestLoad
) -> Reconciliation:
    live_only = f"{DELETED_AT_COLUMN} IS NULL" if endpoint.marks_deletions else "TRUE"
    live, written = conn.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {SYNCED_AT_COLUMN} >= to_timestamp(?)) "
        f"FROM {endpoint.qualified_table} WHERE {TENANT_COLUMN} = ? AND {live_only}",
        [load.started, tenant_id],
    ).fetchone()
    in_run = quarantined(conn, endpoint.path, load.run_id)[0]
    return Reconciliation(load.api_total, live, written, in_run, load.whole_walk)
