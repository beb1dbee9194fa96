"""Client-side request budgets: one per client (threads), or one per tenant shared through a file
(processes). Either learns the rate the server really allows (:mod:`.adaptive`)."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import NamedTuple

from .adaptive import BudgetState

# The shared file: BudgetState's floats in order (wall-clock times). A file of an older release holds
# the next slot only; it is read as a budget that has learned nothing yet.
STATE = struct.Struct(f"<{BudgetState.size()}d")
SLOT_ONLY = struct.Struct("<d")
CLOCK_JUMP_SECONDS = 3600.0  # a time further ahead than this was written before the clock went back


class Slot(NamedTuple):
    """A request's turn: when it may start (budget clock) and how long the caller waited for it."""

    at: float
    waited: float


def check_rate(rate: float | None) -> float | None:
    if rate is not None and rate <= 0:
        raise ValueError(f"rate_limit must be positive or None, got {rate!r}")
    return rate


class RateLimiter:
    """This client's own budget: requests start at least ``1/rate`` seconds apart across threads, at the
    rate learned from the server's 429s. ``rate=None`` disables spacing and learning."""

    def __init__(self, rate: float | None, stop: threading.Event | None = None) -> None:
        self.ceiling = check_rate(rate)
        self._state = BudgetState()
        self._lock = threading.Lock()
        self._stop = stop or threading.Event()

    @property
    def rate(self) -> float | None:
        """Requests per second the budget allows now."""
        with self._lock:
            return self._state.rate(time.monotonic(), self.ceiling)

    def acquire(self, stop: threading.Event | None = None) -> Slot:
        """Block until this thread may send a request."""

        def grant() -> tuple[float, float]:
            with self._lock:
                now = time.monotonic()
                return self._state.take(now, self.ceiling), now

        def respaced(granted: float) -> bool:
            with self._lock:
                return self._state.dropped_since(granted)

        return wait_for_turn(grant, respaced, self._stop, stop)

    def answered(self, slot: Slot, *, throttled: bool) -> bool:
        """Learn from one answer (``throttled``: a 429); True when the rate dropped."""
        with self._lock:
            now = time.monotonic()
            return self._state.answered(now, sent_at=slot.at, throttled=throttled, ceiling=self.ceiling)

    def close(self) -> None:
        """Nothing to release (the same interface as :class:`SharedRateLimiter`)."""


class SharedRateLimiter:
    """The :class:`RateLimiter` of every client of every process of one machine that uses ``path``.

    The budget's state lives in a small file, read and advanced under an exclusive ``flock``: the
    requests of all threads, steps and runs for one API and tenant share one budget, learn its rate
    together, and a new run starts at the rate the others learned. The file holds times and counts, no
    secret. Wall-clock time is used because it is the one clock processes share.
    """

    def __init__(self, rate: float | None, path: str, stop: threading.Event | None = None) -> None:
        self.ceiling = check_rate(rate)
        self._state = BudgetState()
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.fchmod(self._fd, 0o600)
        except PermissionError:  # another user's file: keep its mode, share it all the same
            pass
        self._lock = threading.Lock()  # flock excludes processes; this excludes this process's threads
        self._stop = stop or threading.Event()

    @property
    def rate(self) -> float | None:
        """Requests per second the budget allows now (as every process sharing the file sees it)."""
        with self._locked() as now:
            return self._state.rate(time.time() if now is None else now, self.ceiling)

    def acquire(self, stop: threading.Event | None = None) -> Slot:
        """Block until this thread may send a request."""

        def grant() -> tuple[float, float] | None:
            with self._locked() as now:
                if now is None:  # closed: the caller finds its client closed and stops
                    return None
                slot = self._state.take(now, self.ceiling)
                self._write()
                return slot, now

        def respaced(granted: float) -> bool:
            with self._locked() as now:
                return now is not None and self._state.dropped_since(granted)

        return wait_for_turn(grant, respaced, self._stop, stop)

    def answered(self, slot: Slot, *, throttled: bool) -> bool:
        """Learn from one answer (``throttled``: a 429); True when the shared rate dropped."""
        if self.ceiling is None:  # no limit: nothing to learn, no file round trip per answer
            return False
        with self._locked() as now:
            if now is None:
                return False
            dropped = self._state.answered(now, sent_at=slot.at, throttled=throttled, ceiling=self.ceiling)
            self._write()
            return dropped

    def close(self) -> None:
        """Release the file descriptor. Safe to call twice."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    @contextlib.contextmanager
    def _locked(self) -> Iterator[float | None]:
        """Hold this process's thread lock and the file's exclusive flock, with the file's state read;
        yield the time inside (None once closed)."""
        with self._lock:
            if self._fd < 0:
                yield None
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                now = time.time()
                self._state = _read(self._fd, now)
                yield now
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _write(self) -> None:
        os.pwrite(self._fd, STATE.pack(*self._state.values()), 0)


def _read(fd: int, now: float) -> BudgetState:
    """The file's state; times written before the clock went back are dropped."""
    raw = os.pread(fd, STATE.size, 0)
    if len(raw) == STATE.size:
        state = BudgetState(*STATE.unpack(raw))
    elif len(raw) >= SLOT_ONLY.size:
        state = BudgetState(next_slot=SLOT_ONLY.unpack(raw[: SLOT_ONLY.size])[0])
    else:
        state = BudgetState()
    ahead = now + CLOCK_JUMP_SECONDS
    if state.next_slot > ahead:
        state.next_slot = now
    if (
        state.last_drop > ahead
        or state.last_429 > ahead
        or state.window_start > ahead
        or state.counting_since > ahead
    ):
        state = BudgetState(next_slot=state.next_slot)
    return state


def wait_for_turn(
    grant: Callable[[], tuple[float, float] | None],
    respaced: Callable[[float], bool],
    *stops: threading.Event | None,
) -> Slot:
    """Wait for the slot ``grant`` gives (with the time it was granted; None: closed). When the rate
    dropped while the request waited (``respaced``), its slot was spaced at the old rate: take a new one,
    so that the queue of waiting requests goes out at the new rate, not the one the 429s refused."""
    waited = 0.0
    while True:
        granted = grant()
        if granted is None:
            return Slot(0.0, waited)
        slot, now = granted
        turn = wait_for_slot(slot, now, *stops)
        waited += turn.waited
        stopped = any(e is not None and e.is_set() for e in stops)
        if not turn.waited or stopped or not respaced(now):
            return Slot(turn.at, waited)


def wait_for_slot(slot: float, now: float, *stops: threading.Event | None) -> Slot:
    wait = slot - now
    if wait > 0:
        sleep_unless(wait, *stops)
    return Slot(slot, max(wait, 0.0))


def rate_limit_folder(duckdb_path: str) -> str:
    """The folder beside the DuckDB file where the clients of this machine share their rate budgets
    (in the temp folder when the database is not a local file: `md:`, `ducklake:`)."""
    local = ":" not in duckdb_path.split("/")[0]
    base = os.path.dirname(os.path.abspath(duckdb_path)) if local else tempfile.gettempdir()
    return os.path.join(base, ".servicetitan-ratelimit")


def budget_key(api_url: str, tenant_id: str) -> str:
    """The name of the budget of ``tenant_id`` at ``api_url`` (a hash: no id in file or table names)."""
    return hashlib.sha256(f"{api_url.rstrip('/')}\n{tenant_id}".encode()).hexdigest()[:32]


def shared_limit_path(folder: str, api_url: str, tenant_id: str) -> str:
    """The file in ``folder`` shared by every client of ``tenant_id`` at ``api_url``."""
    os.makedirs(folder, mode=0o700, exist_ok=True)
    return os.path.join(folder, f"ratelimit-{budget_key(api_url, tenant_id)}")


def open_budget(
    rate: float | None,
    *,
    api_url: str,
    tenant_id: str,
    folder: str | None = None,
    postgres: str | None = None,
    stop: threading.Event | None = None,
):
    """A client's budget: in the PostgreSQL database ``postgres`` names (every machine), else in a file of
    ``folder`` (this machine), else its own."""
    if postgres:
        from .pgbudget import PostgresRateLimiter  # psycopg2 only where a deployment has PostgreSQL

        return PostgresRateLimiter(rate, dsn=postgres, key=budget_key(api_url, tenant_id), stop=stop)
    if folder:
        return SharedRateLimiter(rate, shared_limit_path(folder, api_url, tenant_id), stop=stop)
    return RateLimiter(rate, stop=stop)


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
