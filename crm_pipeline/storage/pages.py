"""Write one validated page, its rejected records and the stream's new position in one transaction.

A crash at any moment leaves either the whole page with its cursor, or neither: the next run
resumes from the last committed cursor, and upsert by key makes a repeated page harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.storage.backend import backend_of, retrying
from crm_pipeline.storage.history import write_history
from crm_pipeline.storage.tables import (
    CURSORS,
    DELETED_AT_COLUMN,
    QUARANTINE,
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    add_columns,
    column_names,
    quote,
)


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


_PAGE_VIEW = "_crm_page"
T = TypeVar("T")


def page_table(frame: pd.DataFrame, json_columns: Collection[str] = ()) -> pa.Table:
    """The validated frame as Arrow, which DuckDB scans without holding the GIL (no Python objects),
    its columns named by position (c0, c1, ...).

    Timestamps become microseconds here, cut toward zero, as DuckDB cuts the nanoseconds of a
    pandas frame it scans (Arrow nanoseconds it would round instead): either way the same rows.
    The `json_columns` (JSON texts the validation wrote or checked) are marked as Arrow's JSON type,
    which DuckDB stores as JSON as they are, rather than parsing each text again."""
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)  # a thread pool costs more here
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])  # any field name, even "\0"
    for i, (name, column) in enumerate(zip(frame.columns, table.columns)):
        kind = column.type
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            ns = column.combine_chunks()
            values = ns.cast(pa.int64()).fill_null(0).to_numpy()
            micros = np.where(values < 0, -(-values // 1000), values // 1000)
            us = pa.array(
                micros, pa.timestamp("us", tz=kind.tz), mask=ns.is_null().to_numpy(zero_copy_only=False)
            )
            table = table.set_column(i, table.field(i).with_type(us.type), us)
        elif name in json_columns:
            texts = (
                column
                if pa.types.is_large_string(kind) or pa.types.is_string(kind)
                else column.cast(pa.string())
            )
            json_type = pa.json_(texts.type)
            marked = pa.chunked_array(
                [pa.ExtensionArray.from_storage(json_type, c) for c in texts.chunks], json_type
            )
            table = table.set_column(i, table.field(i).with_type(json_type), marked)
    return table


def json_columns(endpoint: Endpoint, page: ValidatedPage) -> set[str]:
    """The page's columns of JSON texts: the declared json fields and the fields no schema knows."""
    return {name for name, ftype in endpoint.fields.items() if ftype.is_json} | set(page.extra_fields)


def _upsert_rows(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    page: ValidatedPage,
    replace: bool = True,
) -> int:
    """Insert or replace whole rows: a column the page's version of a record lacks becomes NULL
    (no stale value kept from an older version), and `_deleted_at` is cleared (the record is back).

    `replace=False` inserts plainly (no existing row may have a key of the page: a duplicate raises
    duckdb.ConstraintException); it spares the index the delete-and-insert of every row."""
    frame = page.frame
    if frame.empty:
        return 0
    columns = column_names(conn, endpoint.qualified_table)
    have = {c.lower() for c in columns}
    if any(name.lower() not in have for name in page.extra_fields):
        add_columns(conn, endpoint, {name: "JSON" for name in page.extra_fields})
        columns = column_names(conn, endpoint.qualified_table)
    sent = {c.lower() for c in frame.columns}
    pipeline = {TENANT_COLUMN, SYNCED_AT_COLUMN, DELETED_AT_COLUMN}
    rest = [c for c in columns if c.lower() not in sent | pipeline]
    names = ", ".join(quote(c) for c in [*frame.columns, *rest])
    values = ", ".join([*(f"c{i}" for i in range(len(frame.columns))), *(["NULL"] * len(rest))])
    deleted = (f", {DELETED_AT_COLUMN}", ", NULL") if endpoint.kind == "list" else ("", "")
    table = page.table if page.table is not None else page_table(frame, json_columns(endpoint, page))
    conn.register(_PAGE_VIEW, table)
    keyed = backend_of(conn).key_constraints
    if not keyed:  # a lake: no index to replace by, so delete the page's keys first
        _delete_keys(conn, endpoint, tenant_id, list(frame.columns))
    conn.execute(
        f"INSERT {'OR REPLACE ' if replace and keyed else ''}INTO {endpoint.qualified_table} "
        f"({TENANT_COLUMN}, {names}, {SYNCED_AT_COLUMN}{deleted[0]}) "
        f"SELECT ?, {values}, now(){deleted[1]} FROM {_PAGE_VIEW}",
        [tenant_id],
    )  # on an error the view stays registered until the transaction is rolled back (see transaction)
    write_history(
        conn,
        endpoint,
        tenant_id,
        list(frame.columns),
        _PAGE_VIEW,
        extra_fields=page.extra_fields,
        new_keys=keyed and not replace,
    )  # a plain insert into a keyed table proved every id new
    conn.unregister(_PAGE_VIEW)
    return len(frame)


def _delete_keys(conn, endpoint: Endpoint, tenant_id: str, page_columns: list[str]) -> None:
    """Delete the stored rows whose keys the registered page holds (the lake's half of an upsert)."""
    keys = ", ".join(quote(k) for k in endpoint.key)
    page_keys = ", ".join(f"c{page_columns.index(k)}" for k in endpoint.key)
    conn.execute(
        f"DELETE FROM {endpoint.qualified_table} WHERE {TENANT_COLUMN} = ? "
        f"AND ({keys}) IN (SELECT {page_keys} FROM {_PAGE_VIEW})",
        [tenant_id],
    )


def _quarantine(conn, endpoint: Endpoint, tenant_id: str, page: ValidatedPage, run_id: str | None) -> int:
    """Keep each rejected record once: a record repeated on a later answer (includeRecentChanges, a re-run)
    replaces its identical copy, stamped with the latest run."""
    rejected = page.rejected
    if rejected:
        conn.executemany(
            f"DELETE FROM {QUARANTINE} WHERE tenant_id = ? AND stream = ? AND record_id IS NOT DISTINCT FROM ? "
            "AND record::VARCHAR IS NOT DISTINCT FROM ?",
            [[tenant_id, endpoint.path, r.record_id, r.record_json] for r in rejected],
        )
        conn.executemany(
            f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, now(), ?)",
            [[tenant_id, endpoint.path, r.record_id, r.record_json, r.reasons, run_id] for r in rejected],
        )
    return len(page.rejected)


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        conn.unregister(_PAGE_VIEW)  # if a failed upsert left it (a no-op otherwise)
        raise
    conn.execute("COMMIT")


def committed(conn: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """`work()` in one transaction, committed; on a DuckLake, run again from the start when the commit
    conflicts with another writer's (storage.backend). `work` changes nothing outside the database."""

    def attempt() -> T:
        with transaction(conn):
            return work()

    return retrying(conn, attempt)


def write_rows(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    page: ValidatedPage,
    run_id: str | None,
    *,
    replace: bool = True,
) -> tuple[int, int]:
    """Upsert the page's rows and quarantine its rejects (inside the caller's transaction)."""
    return _upsert_rows(conn, endpoint, tenant_id, page, replace), _quarantine(
        conn, endpoint, tenant_id, page, run_id
    )


def store_position(
    conn: duckdb.DuckDBPyConnection, tenant_id: str, stream: str, position: StreamPosition, run_id: str | None
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


def commit_page(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    page: ValidatedPage,
    position: StreamPosition,
    run_id: str | None = None,
    *,
    replace: bool = True,
) -> tuple[int, int]:
    """Upsert the page's rows, quarantine its rejects and store `position`, atomically.

    `replace=False` inserts plainly (see `commit_new_page`). Returns (rows upserted, records quarantined).
    A commit that conflicts with another writer's (a DuckLake only) is run again (see storage.backend).
    """

    def attempt() -> tuple[int, int]:
        with transaction(conn):
            counts = write_rows(conn, endpoint, tenant_id, page, run_id, replace=replace)
            store_position(conn, tenant_id, endpoint.path, position, run_id)
        return counts

    return retrying(conn, attempt)


def commit_new_page(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    page: ValidatedPage,
    position: StreamPosition,
    run_id: str | None = None,
) -> tuple[tuple[int, int], bool]:
    """`commit_page` for a page whose keys are probably not stored yet (a first load): the rows are
    inserted plainly, sparing the index a delete and insert per row. If a key is stored already, that
    transaction is rolled back and the page committed by `commit_page`: the outcome is the same.

    Returns ((rows upserted, records quarantined), whether every key was new).
    """
    try:
        return commit_page(conn, endpoint, tenant_id, page, position, run_id, replace=False), True
    except duckdb.ConstraintException:
        pass  # rolled back: a key of the page is stored already
    return commit_page(conn, endpoint, tenant_id, page, position, run_id), False


def mark_deleted(
    conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str, seen_table: str, scope: str = "TRUE"
) -> int:
    """Stamp `_deleted_at` on rows (matching `scope`) whose key is not in `seen_table`; return how many."""
    keys = ", ".join(quote(k) for k in endpoint.key)
    return conn.execute(
        f"UPDATE {endpoint.qualified_table} SET {DELETED_AT_COLUMN} = now() "
        f"WHERE {TENANT_COLUMN} = ? AND {DELETED_AT_COLUMN} IS NULL AND ({scope}) "
        f"AND ({keys}) NOT IN (SELECT {keys} FROM {seen_table})",
        [tenant_id],
    ).fetchone()[0]
