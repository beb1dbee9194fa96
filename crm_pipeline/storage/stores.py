"""Where a sync commits: a DuckDB connection lent for one commit at a time.

A sync never keeps the file open while it waits on the API: it asks `lease()` for a connection
around each commit (or each short read of its state), and the store decides whether the file
stays open in between (crm_pipeline.storage.sharing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

import duckdb

from crm_pipeline.storage.sharing import Setup, SharedFile


class Store(Protocol):
    def lease(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection for one commit or read, this thread's alone until the block ends."""
        ...


class ConnectionStore:
    """A connection the caller keeps open (tests, scripts, a step holding the file anyway)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn = conn
        self._lock = threading.RLock()  # one caller at a time (a walk commits on a thread of its own)

    @contextmanager
    def lease(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._lock:
            yield self.conn


class SharedFileStore:
    """A DuckDB file shared with other processes, opened to commit (see SharedFile)."""

    def __init__(self, shared: SharedFile, setup: Setup | None = None) -> None:
        self.shared, self.setup = shared, setup

    def lease(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.shared.lease(self.setup)


def as_store(target: Store | duckdb.DuckDBPyConnection) -> Store:
    return ConnectionStore(target) if isinstance(target, duckdb.DuckDBPyConnection) else target
