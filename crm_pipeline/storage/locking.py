"""Waiting for a DuckDB file another process holds, saying so, and publishing a read-only copy for analysts.

DuckDB lets one process open a file read-write, and while it does no other process may open it at
all (not even read-only). `connect_waiting` retries the lock with exponential backoff and jitter,
bounded in time, and gives up with a message saying who holds it and what to do.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from crm_pipeline.backoff import Backoff
from crm_pipeline.storage.privacy import Access, private_file, private_folder

LOCK_BACKOFF = Backoff(base=0.05, cap=0.5)  # between two tries to open a file another process holds
DEFAULT_LOCK_TIMEOUT = 1800.0  # seconds: a long first load of another run may hold the file this long


class DuckDBLockTimeout(RuntimeError):
    """The DuckDB file stayed locked by another process for longer than the allowed wait."""


def is_lock_conflict(error: BaseException) -> bool:
    """True for DuckDB's "Could not set lock on file ... Conflicting lock is held in ..." error."""
    return isinstance(error, duckdb.IOException) and "lock" in str(error).lower()


def connect_waiting(
    database: str,
    *,
    timeout: float = DEFAULT_LOCK_TIMEOUT,
    config: dict | None = None,
    on_wait: Callable[[str, float], None] | None = None,
    backoff: Backoff = LOCK_BACKOFF,
) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, waiting (up to `timeout` seconds) while another process holds the file, between
    two tries as `backoff` says (jittered: two waiters do not collide).

    `on_wait(message, waited_seconds)` is called on the first conflict and then about every 30 s.
    """
    began = time.monotonic()
    attempt, last_report = 0, None
    want = WantFile(database) if is_shareable(database) else None
    while True:
        try:
            conn = duckdb.connect(database, config=config or {})
            if want is not None:
                want.done()
            return conn
        except duckdb.Error as error:
            if not is_lock_conflict(error):
                if want is not None:
                    want.done()
                raise
            if want is not None:
                want.waiting()  # a pipeline process holding the file gives it up between two commits
            waited = time.monotonic() - began
            if waited >= timeout:
                if want is not None:
                    want.done()
                raise DuckDBLockTimeout(
                    f"Gave up after waiting {waited:.0f}s for the DuckDB file {database}: {error}. "
                    "Another process holds it open (another pipeline run, or a DuckDB session left open). "
                    "Analysts should query the read-only copy instead (CRM_DUCKDB_READONLY_PATH); "
                    "to wait longer, raise CRM_DUCKDB_LOCK_TIMEOUT_SECONDS."
                ) from error
            if on_wait is not None and (last_report is None or waited - last_report >= 30):
                on_wait(
                    f"{database} is locked by another process ({error}); waiting up to {timeout:.0f}s", waited
                )
                last_report = waited
            time.sleep(max(0.01, min(backoff.delay(attempt), timeout - waited)))
            attempt += 1


def is_shareable(database: str) -> bool:
    """A local file (not `:memory:`, not a MotherDuck `md:` or a `ducklake:` database)."""
    return database != ":memory:" and ":" not in database.split("/")[0]


class WantFile:
    """`<file>.want`: a shared flock on it says "this process waits for the file". A pipeline process that
    has the file open looks between commits (an exclusive try fails) and gives it up
    (crm_pipeline.storage.sharing)."""

    def __init__(self, database: str) -> None:
        self.path = f"{database}.want"
        self._fd: int | None = None

    def waiting(self) -> None:
        """Say this process waits (until `done`)."""
        if self._fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_SH)
            self._fd = fd

    def done(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None

    def is_wanted(self) -> bool:
        """True while another process (or another descriptor) says it waits."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def wait_until_free(self, seconds: float) -> None:
        deadline = time.monotonic() + max(seconds, 0.0)
        while time.monotonic() < deadline and self.is_wanted():
            time.sleep(0.02)


def readonly_copy_path(database: str) -> str:
    """The default read-only copy beside the file: `data/crm.duckdb` -> `data/crm_readonly.duckdb`."""
    path = Path(database)
    return str(path.with_name(f"{path.stem}_readonly{path.suffix or '.duckdb'}"))


def publish_copy(conn: duckdb.DuckDBPyConnection, database: str, target: str, *, access: Access) -> str:
    """Checkpoint `conn`'s file and copy it to `target`, replaced atomically, readable as `access` says.

    Call it holding the file's only writable connection, so that nothing changes during the copy.
    Sessions already open on the old copy keep reading it; new ones see the new copy.
    """
    conn.execute("CHECKPOINT")  # everything into the main file: the WAL is empty afterwards
    target_path = Path(target)
    private_folder(target_path.parent, access)
    partial = target_path.with_name(f".{target_path.name}.{os.getpid()}.partial")
    try:
        shutil.copyfile(database, partial)
        private_file(partial, access)  # the copy holds the same records: same access as the file
        os.replace(partial, target_path)
    finally:
        partial.unlink(missing_ok=True)
    return str(target_path)
