"""Client-side rate limiters: one per client (threads), or one per tenant shared through a file
(processes)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import struct
import tempfile
import threading
import time
from collections.abc import Iterator

SLOT = struct.Struct("<d")  # the shared file holds one float: the wall-clock time of the next free slot
CLOCK_JUMP_SECONDS = 3600.0  # a slot further ahead than this was written before the clock went back


class RateLimiter:
    """Minimal-interval limiter: requests start at least ``1/rate`` seconds apart, across threads.

    ``rate=None`` disables the spacing; :meth:`hold` (used after a 429) still pauses everyone.
    """

    def __init__(self, rate: float | None, stop: threading.Event | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate_limit must be positive or None, got {rate!r}")
        self._interval = 0.0 if rate is None else 1.0 / rate
        self._next = 0.0  # monotonic time of the next free slot
        self._lock = threading.Lock()
        self._stop = stop or threading.Event()

    def acquire(self, stop: threading.Event | None = None) -> float:
        """Block until this thread may send a request; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self._interval
        wait = slot - now
        if wait > 0:
            sleep_unless(wait, self._stop, stop)
        return max(wait, 0.0)

    def hold(self, seconds: float) -> None:
        """Make every thread wait ``seconds`` from now before its next request (server said 429)."""
        with self._lock:
            self._next = max(self._next, time.monotonic() + seconds)

    def close(self) -> None:
        """Nothing to release (the same interface as :class:`SharedRateLimiter`)."""


class SharedRateLimiter:
    """The :class:`RateLimiter` of every process of one machine that uses the same ``path``.

    The next free slot lives in a small file, read and advanced under an exclusive ``flock``: the
    requests of all threads, steps and runs for one API and tenant start at least ``1/rate`` apart
    together. The file holds a time only, no secret. Wall-clock time is used because it is the one
    clock processes share.
    """

    def __init__(self, rate: float | None, path: str, stop: threading.Event | None = None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate_limit must be positive or None, got {rate!r}")
        self._interval = 0.0 if rate is None else 1.0 / rate
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(self._fd, 0o600)
        except PermissionError:  # another user's file: keep its mode, share it all the same
            pass
        self._lock = threading.Lock()  # flock excludes processes; this excludes this process's threads
        self._stop = stop or threading.Event()

    def acquire(self, stop: threading.Event | None = None) -> float:
        """Block until this thread may send a request; return the seconds waited."""
        with self._locked() as now:
            if now is None:  # closed: the caller finds its client closed and stops
                return 0.0
            slot = max(now, self._read(now))
            self._write(slot + self._interval)
        wait = slot - now
        if wait > 0:
            sleep_unless(wait, self._stop, stop)
        return max(wait, 0.0)

    def hold(self, seconds: float) -> None:
        """Make every thread of every process wait ``seconds`` from now (the server said 429)."""
        with self._locked() as now:
            if now is not None:
                self._write(max(self._read(now), now + seconds))

    def close(self) -> None:
        """Release the file descriptor. Safe to call twice."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    @contextlib.contextmanager
    def _locked(self) -> Iterator[float | None]:
        """Hold this process's thread lock and the file's exclusive flock; yield the time inside (None once
        closed)."""
        with self._lock:
            if self._fd < 0:
                yield None
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield time.time()
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _read(self, now: float) -> float:
        raw = os.pread(self._fd, SLOT.size, 0)
        slot = SLOT.unpack(raw)[0] if len(raw) == SLOT.size else 0.0
        return slot if slot <= now + CLOCK_JUMP_SECONDS else now

    def _write(self, slot: float) -> None:
        os.pwrite(self._fd, SLOT.pack(slot), 0)


def rate_limit_folder(duckdb_path: str) -> str:
    """The folder beside the DuckDB file where the clients of this machine share their rate budgets
    (in the temp folder when the database is not a local file: `md:`, `ducklake:`)."""
    local = ":" not in duckdb_path.split("/")[0]
    base = os.path.dirname(os.path.abspath(duckdb_path)) if local else tempfile.gettempdir()
    return os.path.join(base, ".servicetitan-ratelimit")


def shared_limit_path(folder: str, api_url: str, tenant_id: str) -> str:
    """The file in ``folder`` shared by every client of ``tenant_id`` at ``api_url`` (named by a hash)."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    digest = hashlib.sha256(f"{api_url.rstrip('/')}\n{tenant_id}".encode()).hexdigest()[:32]
    return os.path.join(folder, f"ratelimit-{digest}")


def sleep_unless(seconds: float, *events: threading.Event | None) -> bool:
    """Sleep ``seconds`` unless one of ``events`` is set first; return True if interrupted."""
    deadline = time.monotonic() + seconds
    live = [e for e in events if e is not None]
    while True:
        if any(e.is_set() for e in live):
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        if not live:
            time.sleep(left)
        else:  # wait on the first event, polling the others every 50 ms
            live[0].wait(left if len(live) == 1 else min(left, 0.05))
