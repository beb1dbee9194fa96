"""A DuckDB file shared by several processes: each opens it only to commit, and hands it over on request.

DuckDB lets one process at a time open a file read-write. A step that waited on the API with the
file open would keep every other run out for hours (a parent fan-out), so a process holds it only
while it commits, and gives it up:
- when another process wants it: a process that wants the file holds a shared `flock` on
  `<file>.want` until it has opened it (storage.locking.connect_waiting); a holder sees that lock (an
  exclusive try fails) between commits and closes the file, once it has had it for MIN_HOLD_SECONDS
  (each handover costs a close, with its checkpoint, and an open);
- when it has not committed for IDLE_SECONDS (its step waits on the API).
After giving the file up to others, a process waits until they got in (the `.want` lock is free
again) before it asks for it itself, so that two busy writers take turns instead of one starving.

Within a process, one `SharedFile` per path is shared by every thread (DuckDB shares one database
instance per file in a process); leases are serialized by a mutex, so at most one transaction (or
CHECKPOINT) runs at a time.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import duckdb

from crm_pipeline.backoff import Backoff
from crm_pipeline.storage.failures import translated_duckdb_errors
from crm_pipeline.storage.locking import DEFAULT_LOCK_TIMEOUT, WantFile, connect_waiting, is_shareable

IDLE_SECONDS = 1.0  # a process that has not committed for this long is waiting on the API: the file goes back
MIN_HOLD_SECONDS = 0.5  # a process keeps the file this long at least: each handover costs a close and an open
POLL_SECONDS = 0.1  # how often a holder looks whether another process wants the file
# between two tries to open the file: short, as a pipeline process holding it hands it over within a second
SHARED_BACKOFF = Backoff(base=0.05, cap=0.25)
TURN_SECONDS = 10.0  # after giving the file up, wait at most this long for the others to get in

Setup = Callable[[duckdb.DuckDBPyConnection], None]
_UNKNOWN = object()  # the settings of a database just opened: whatever its instance had, applied again


class SharedFile:
    """One process's access to a DuckDB file that other processes share (see the module's docstring)."""

    _instances: dict[str, SharedFile] = {}
    _instances_lock = threading.Lock()

    @classmethod
    def close_all(cls) -> None:
        """Close every file of the process (at exit: before the interpreter stops the watcher threads in
        the middle of a DuckDB call, which aborts the process)."""
        with cls._instances_lock:
            instances = list(cls._instances.values())
        for shared in instances:
            shared.close()

    @classmethod
    def of(cls, database: str, **options) -> SharedFile:
        """The process's SharedFile of `database` (options apply when it is first made)."""
        key = os.path.abspath(database) if is_shareable(database) else database
        with cls._instances_lock:
            if key not in cls._instances:
                cls._instances[key] = cls(database, **options)
            return cls._instances[key]

    def __init__(
        self,
        database: str,
        *,
        config: dict | None = None,
        timeout: float = DEFAULT_LOCK_TIMEOUT,
        on_wait: Callable[[str, float], None] | None = None,
        connect: Callable[[], duckdb.DuckDBPyConnection] | None = None,
        cursor: Callable[[duckdb.DuckDBPyConnection], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self.database, self.config, self.timeout, self.on_wait = (
            database,
            dict(config or {}),
            timeout,
            on_wait,
        )
        self._connect = connect  # a database that is not a local file (a DuckLake): how to open it
        self._cursor = cursor or (lambda conn: conn.cursor())  # and how to make a thread's own connection
        self._mutex = threading.RLock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._setup: Setup | None = None
        self._last_used = self._opened_at = 0.0
        self._gave_up_at: float | None = None
        self._want = WantFile(database) if is_shareable(database) else None
        self.stats = {"opens": 0, "handovers": 0}
        self._watcher: threading.Thread | None = None

    @contextmanager
    def lease(self, setup: Setup | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """The open connection, this thread's alone until the block ends (open the file first if needed).

        `setup(conn)` (DuckDB settings for this kind of work) is applied when it differs from the last
        lease's; None restores DuckDB's defaults."""
        with self._mutex, translated_duckdb_errors(self.database):  # a full disk, a broken file: said plainly
            if self._conn is None:
                self._open()
            if setup is not self._setup:
                (setup or _defaults)(self._conn)
                self._setup = setup
            cursor = self._cursor(
                self._conn
            )  # a connection of its own: no result left pending by another thread
            try:
                yield cursor
            finally:
                cursor.close()
                self._last_used = time.monotonic()
                if self._should_hand_over():
                    self._close(handover=True)

    def close(self) -> None:
        """Close the file now (the end of a step or run)."""
        with self._mutex:
            self._close(handover=False)

    def _open(self) -> None:
        if self._gave_up_at is not None and self._want is not None:
            self._want.wait_until_free(TURN_SECONDS - (time.monotonic() - self._gave_up_at))
        self._gave_up_at = None
        if self._connect is not None:
            self._conn = self._connect()
        else:
            self._conn = connect_waiting(  # says it waits (the .want lock) while another process has the file
                self.database,
                timeout=self.timeout,
                config=self.config,
                on_wait=self.on_wait,
                backoff=SHARED_BACKOFF,
            )
        self._setup, self._opened_at = (
            _UNKNOWN,
            time.monotonic(),
        )  # another connection may have kept its settings
        self.stats["opens"] += 1
        if self._want is not None and (self._watcher is None or not self._watcher.is_alive()):
            self._watcher = threading.Thread(target=self._watch, name="crm-duckdb-share", daemon=True)
            self._watcher.start()

    def _close(self, *, handover: bool) -> None:
        if self._conn is None:
            return
        try:
            self._conn.close()
        finally:
            self._conn, self._setup = None, None
        if handover:
            self.stats["handovers"] += 1
            self._gave_up_at = time.monotonic()

    def _should_hand_over(self) -> bool:
        """Another process waits, and this one has had the file for its minimum turn."""
        held = time.monotonic() - self._opened_at
        return held >= MIN_HOLD_SECONDS and self._want is not None and self._want.is_wanted()

    def _watch(self) -> None:
        """Between leases: give the file up when another process wants it, or after IDLE_SECONDS unused."""
        while self._conn is not None:
            time.sleep(POLL_SECONDS)
            if not self._mutex.acquire(blocking=False):
                continue  # a lease is going on: it looks itself when it ends
            try:
                if self._conn is None:
                    return
                if self._should_hand_over():
                    self._close(handover=True)
                elif time.monotonic() - self._last_used >= IDLE_SECONDS:
                    self._close(handover=False)
            finally:
                self._mutex.release()


def _defaults(conn: duckdb.DuckDBPyConnection) -> None:
    """DuckDB's own settings again. The memory limit is SET to DuckDB's default (80% of the machine's
    memory), not RESET: DuckDB 1.5.5 shows a RESET limit but keeps enforcing the old one."""
    conn.execute(f"SET memory_limit = '{_DEFAULT_MEMORY_MB}MB'")
    for setting in ("threads", "checkpoint_threshold"):
        conn.execute(f"RESET {setting}")


_DEFAULT_MEMORY_MB = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 0.8 / 2**20)


atexit.register(SharedFile.close_all)
