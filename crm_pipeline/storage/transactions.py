"""Transactions of the loads: one block committed or rolled back whole, run again on a DuckLake conflict."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import duckdb

from crm_pipeline.storage.backend import Backend, backend_of
from crm_pipeline.storage.layout import PAGE_VIEW
from crm_pipeline.storage.turns import stream_turn

T = TypeVar("T")


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back if it raises."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        conn.unregister(PAGE_VIEW)  # if a failed upsert left it (a no-op otherwise)
        raise
    conn.execute("COMMIT")


def committed(
    conn: duckdb.DuckDBPyConnection,
    work: Callable[[], T],
    backend: Backend | None = None,
    *,
    stream: tuple[str, str] | None = None,
) -> T:
    """`work()` in one transaction, committed; on a DuckLake, run again from the start when the commit
    conflicts with another writer's (storage.backend), and, when it writes `stream` (tenant id, endpoint
    path), in that stream's turn (storage.turns). `work` changes nothing outside the database.
    `backend`: the store's, when chosen already (else looked up)."""

    def attempt() -> T:
        with stream_turn(conn, stream), transaction(conn):
            return work()

    return (backend or backend_of(conn)).retrying(conn, attempt)
