"""A client-side rate limiter shared by every thread using one client."""

from __future__ import annotations

import threading
import time


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
