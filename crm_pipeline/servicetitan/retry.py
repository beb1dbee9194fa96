"""Retry policy (exponential backoff with full jitter) and thread-safe request counters."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from .errors import ClientClosed, RetriesExhausted
from .ratelimit import sleep_unless

log = logging.getLogger("crm_pipeline.servicetitan")
T = TypeVar("T")


class Retry(Exception):
    """Internal signal raised by one attempt: the problem is transient, try again."""

    def __init__(self, problem: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.retry_after = retry_after


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Stats:
    """Thread-safe counters; :meth:`snapshot` returns a plain dict copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = {"requests": 0, "retries": 0, "token_requests": 0, "transport_errors": 0}
        self._by_status: dict[int, int] = {}
        self._throttled = 0.0

    def add(self, name: str, n: int = 1) -> None:
        """Increase counter ``name`` by ``n``."""
        with self._lock:
            self._counts[name] = self._counts.get(name, 0) + n

    def status(self, code: int) -> None:
        """Count one API answer with HTTP status ``code``."""
        with self._lock:
            self._by_status[code] = self._by_status.get(code, 0) + 1

    def throttled(self, seconds: float) -> None:
        """Add ``seconds`` spent waiting on the rate limiter or on a 429."""
        if seconds > 0:
            with self._lock:
                self._throttled += seconds

    def snapshot(self) -> dict:
        """A consistent copy: requests, retries, token_requests, transport_errors, by_status,
        throttled_seconds."""
        with self._lock:
            out: dict = dict(self._counts)
            out["by_status"] = dict(self._by_status)
            out["throttled_seconds"] = round(self._throttled, 3)
            return out


@dataclass
class RetryPolicy:
    """How often and how long to retry; :meth:`run` drives one logical request."""

    max_attempts: int = 8
    max_retry_seconds: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    stats: Stats = field(default_factory=Stats)
    closed: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")

    def backoff(self, retry_number: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**retry_number)), retry_number from 0."""
        return self.rng.uniform(0.0, min(self.backoff_cap, self.backoff_base * 2**retry_number))

    def run(
        self,
        what: str,
        attempt: Callable[[], T],
        *,
        stop: threading.Event | None = None,
        on_throttle: Callable[[float], None] | None = None,
    ) -> T:
        """Call ``attempt`` until it returns; retry on :class:`Retry` within the budget.

        ``what`` names the request in logs and errors (e.g. ``GET /crm/v2/...``); ``stop`` aborts
        waiting (raises :class:`ClientClosed`); ``on_throttle(seconds)`` is told about 429 waits.
        """
        started = time.monotonic()
        attempts = 0
        while True:
            if self.closed.is_set() or (stop is not None and stop.is_set()):
                raise ClientClosed(f"{what}: the client was closed or the walk was stopped")
            attempts += 1
            try:
                return attempt()
            except Retry as r:
                last = r
            elapsed = time.monotonic() - started
            if attempts >= self.max_attempts:
                self._give_up(
                    what, attempts, elapsed, last=last, why=f"max_attempts={self.max_attempts} reached"
                )
            wait = self.backoff(attempts - 1)
            if last.retry_after is not None:
                wait = max(wait, last.retry_after)
            if elapsed + wait > self.max_retry_seconds:
                self._give_up(
                    what,
                    attempts,
                    elapsed,
                    last=last,
                    why=f"waiting {wait:.1f} s more would exceed "
                    f"max_retry_seconds={self.max_retry_seconds:g}",
                )
            self.stats.add("retries")
            if last.status == 429:
                self.stats.throttled(wait)
                if on_throttle is not None:
                    on_throttle(wait)
            log.info("%s: %s; retry %d in %.2f s", what, last.problem, attempts, wait)
            if sleep_unless(wait, self.closed, stop):
                raise ClientClosed(f"{what}: the client was closed or the walk was stopped")

    @staticmethod
    def _give_up(what: str, attempts: int, elapsed: float, *, last: Retry, why: str) -> None:
        hint = (
            "The API may be down or throttling this app: try again later, or allow more with max_attempts / "
            "max_retry_seconds."
        )
        if "ConnectError" in last.problem:  # nothing answered at that address
            setting = "SERVICETITAN_AUTH_URL" if "/connect/token" in what else "SERVICETITAN_API_URL"
            hint = f"Nothing answered: check {setting} (and the network, proxy or firewall)."
        raise RetriesExhausted(
            f"{what} failed after {attempts} attempt(s) over {elapsed:.1f} s ({why}); "
            f"last problem: {last.problem}. {hint}",
            path=what,
            attempts=attempts,
            last_problem=last.problem,
        ) from None
