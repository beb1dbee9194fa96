"""What differs between the two storages, in one place: the DuckDB file (default) and a DuckLake
(storage.lake).

The file declares primary keys and upserts with INSERT OR REPLACE; it checkpoints itself once per row group
(storage.checkpoints); one process writes at a time (the file lock), so a commit never conflicts.
A DuckLake has no key constraints: an upsert deletes the page's keys and inserts the page in one
transaction. Several processes write at once, and when two commits touch the same table's rows DuckLake
refuses the later one: that transaction is run again from the start (its effects were rolled back), so
nothing is lost or doubled. Compaction and cleanup are the maintenance asset's job, not the loads'.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

import duckdb

from crm_pipeline.backoff import Backoff
from crm_pipeline.storage.lake import is_lake

T = TypeVar("T")
# How a page's rows are written: plainly, replacing by key (INSERT OR REPLACE), or deleting the page's keys
# first (a store without key constraints)
UpsertMode = Literal["insert", "replace", "delete_insert"]


@dataclass(frozen=True)
class Backend:
    name: str
    key_constraints: bool  # PRIMARY KEY declared, INSERT OR REPLACE; otherwise delete-then-insert
    checkpoints: bool  # the loads checkpoint once per row group
    retry_seconds: float  # how long a transaction is tried again while its commits conflict with others'

    def key_clause(self, key_sql: str) -> str:
        """What a raw table's DDL declares of its key (`key_sql`, its quoted columns)."""
        return f", PRIMARY KEY ({key_sql})" if self.key_constraints else ""

    def upsert_mode(self, *, replace: bool) -> UpsertMode:
        """How a page is written: replacing stored rows of its keys (`replace`) or inserting it plainly."""
        if not self.key_constraints:
            return "delete_insert"  # no index to replace by (and none to refuse a stored key)
        return "replace" if replace else "insert"

    def retrying(self, conn: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
        """`work()` (which opens and commits its own transaction), run again from the start after a
        conflicting commit, with jittered exponential backoff, for up to retry_seconds. The file: once."""
        began, attempt = time.monotonic(), 0
        while True:
            attempt += 1
            try:
                return work()
            except duckdb.TransactionException as error:
                if not is_conflict(error) or time.monotonic() - began >= self.retry_seconds:
                    raise
                _rollback_if_open(conn)
                time.sleep(_BACKOFF.delay(attempt))


# A long transaction (a list walk) conflicts with every commit another writer makes to a table it also
# changes (the cursors) meanwhile: it may have to wait until that writer's run ends, so the budget is in time.
FILE = Backend("file", key_constraints=True, checkpoints=True, retry_seconds=0.0)
LAKE = Backend("ducklake", key_constraints=False, checkpoints=False, retry_seconds=900.0)
RETRY_BASE_SECONDS = 0.05
RETRY_CAP_SECONDS = 2.0
_BACKOFF = Backoff(RETRY_BASE_SECONDS, RETRY_CAP_SECONDS)


def backend_of(conn: duckdb.DuckDBPyConnection) -> Backend:
    return LAKE if is_lake(conn) else FILE


def is_conflict(error: BaseException) -> bool:
    """A commit refused because another transaction changed the same rows or tables first."""
    text = str(error).lower()
    # DuckLake retries a commit itself first; when its own retries run out (two writers took the same
    # snapshot id in the catalog), the whole transaction is ours to run again
    return isinstance(error, duckdb.TransactionException) and (
        "conflict" in text or "ducklake_max_retry_count" in text
    )


def retrying(conn: duckdb.DuckDBPyConnection, work: Callable[[], T]) -> T:
    """Backend.retrying for `conn`'s backend (where no backend was chosen for the store)."""
    return backend_of(conn).retrying(conn, work)


def _rollback_if_open(conn: duckdb.DuckDBPyConnection) -> None:
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error:
        pass  # the failed commit ended the transaction already
