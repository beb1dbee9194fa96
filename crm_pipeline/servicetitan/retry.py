"""Retry policy: which budget a transient problem spends (errors, throttling, maintenance), how long
to wait, and thread-safe request counters."""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ..backoff import Backoff
from .errors import ClientClosed, RetriesExhausted
from .ratelimit import sleep_unless

log = logging.getLogger("crm_pipeline.servicetitan")
T = TypeVar("T")
MAINTENANCE_BACKOFF_BASE, MAINTENANCE_BACKOFF_CAP = 2.0, 60.0  # seconds: a window lasts minutes
THROTTLE, MAINTENANCE, ERROR = "throttle", "maintenance", "error"


class Retry(Exception):
    """Internal signal raised by one attempt: the problem is transient, try again.

    ``kind`` says which budget the wait comes out of: ``throttle`` (429: the server asks to wait),
    ``maintenance`` (409 during a maintenance window) or ``error`` (5xx, timeouts, cut bodies: attempts
    are counted). ``wait`` is the server's own word on how long to wait, when it gave one."""

    def __init__(
        self, problem: str, *, status: int | None = None, wait: float | None = None, kind: str = ERROR
    ):
        super().__init__(problem)
        self.problem = problem
        self.status = status
        self.wait = wait
        self.kind = kind


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


def seconds_in_title(title: str | None) -> float | None:
    """The wait a 429's problem title gives ("... Try again in 2 seconds.": the word before last)."""
    words = (title or "").split()
    if len(words) < 2:
        return None
    try:
        seconds = float(words[-2])
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86400 else None


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
class _Tally:
    """One logical request's retries so far, per budget."""

    started: float
    attempts: int = 0
    retries: dict = field(default_factory=lambda: {THROTTLE: 0, MAINTENANCE: 0, ERROR: 0})
    since: dict = field(default_factory=dict)  # kind -> when its first retry began


MAX_THROTTLE_SECONDS = 600.0  # a request throttled longer gives up: minutes, as a run can afford
MAX_MAINTENANCE_SECONDS = 1800.0  # maintenance windows last minutes; a longer one is an outage


@dataclass
class RetryPolicy:
    """How often and how long to retry; :meth:`run` drives one logical request.

    Errors get ``max_attempts`` tries within ``max_retry_seconds``; throttling (429) waits as the server
    says for up to ``max_throttle_seconds`` and uses no attempt; a maintenance window (409) is waited
    out with backoff for up to ``max_maintenance_seconds`` (their defaults: ClientOptions)."""

    max_attempts: int
    max_retry_seconds: float
    backoff_base: float
    backoff_cap: float
    max_throttle_seconds: float
    max_maintenance_seconds: float
    stats: Stats = field(default_factory=Stats)
    closed: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)
    rate_now: Callable[[], float | None] = lambda: None  # the budget's rate, for the give-up message
    on_maintenance: Callable[[bool], None] = lambda in_window: None  # told when a window begins and ends

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        self._backoff = Backoff(self.backoff_base, self.backoff_cap, self.rng)
        self._maintenance_backoff = Backoff(MAINTENANCE_BACKOFF_BASE, MAINTENANCE_BACKOFF_CAP, self.rng)

    def backoff(self, retry_number: int) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**retry_number)), retry_number from 0."""
        return self._backoff.delay(retry_number)

    def run(self, what: str, attempt: Callable[[], T], *, stop: threading.Event | None = None) -> T:
        """Call ``attempt`` until it returns; retry on :class:`Retry` within the budget of its kind.

        ``what`` names the request in logs and errors (e.g. ``GET /crm/v2/...``); ``stop`` aborts
        waiting (raises :class:`ClientClosed`)."""
        tally = _Tally(started=time.monotonic())
        in_maintenance = False
        try:
            while True:
                if self.closed.is_set() or (stop is not None and stop.is_set()):
                    raise ClientClosed(f"{what}: the client was closed or the walk was stopped")
                tally.attempts += 1
                try:
                    return attempt()
                except Retry as r:
                    last = r
                if last.kind == MAINTENANCE and not in_maintenance:
                    in_maintenance = True
                    self.on_maintenance(True)
                wait = self._wait(what, last, tally)
                self.stats.add("retries")
                level = logging.DEBUG if last.kind == MAINTENANCE else logging.INFO
                log.log(level, "%s: %s; retry %d in %.2f s", what, last.problem, tally.attempts, wait)
                if sleep_unless(wait, self.closed, stop):
                    raise ClientClosed(f"{what}: the client was closed or the walk was stopped")
        finally:
            if in_maintenance:
                self.on_maintenance(False)

    def _wait(self, what: str, last: Retry, tally: _Tally) -> float:
        """How long to wait before the next attempt; gives up when the budget of ``last.kind`` is spent."""
        now = time.monotonic()
        since = tally.since.setdefault(last.kind, now)
        retry_number = tally.retries[last.kind]
        tally.retries[last.kind] += 1
        if last.kind == ERROR:
            wait = max(self.backoff(retry_number), last.wait or 0.0)
            if retry_number + 1 >= self.max_attempts:
                self._give_up(what, tally, last=last, why=f"max_attempts={self.max_attempts} reached")
            if now - since + wait > self.max_retry_seconds:
                why = f"waiting {wait:.1f} s more would exceed max_retry_seconds={self.max_retry_seconds:g}"
                self._give_up(what, tally, last=last, why=why)
            return wait
        if last.kind == THROTTLE:
            wait, limit, name = last.wait or 0.0, self.max_throttle_seconds, "max_throttle_seconds"
            self.stats.throttled(wait)
        else:
            wait = max(self._maintenance_backoff.delay(retry_number), 1.0)
            limit, name = self.max_maintenance_seconds, "max_maintenance_seconds"
        if now - since + wait > limit:
            self._give_up(what, tally, last=last, why=self._waited(last.kind, now - since, limit, name))
        return wait

    def _waited(self, kind: str, waited: float, limit: float, name: str) -> str:
        if kind == MAINTENANCE:
            return f"the API stayed in maintenance for {waited:.0f} s, longer than {name}={limit:g}"
        rate = self.rate_now()
        at = f" at a budget of {rate:.1f} requests/s" if rate is not None else ""
        return f"throttled (HTTP 429) for {waited:.0f} s{at}, longer than {name}={limit:g}"

    @staticmethod
    def _give_up(what: str, tally: _Tally, *, last: Retry, why: str) -> None:
        hint = "The API may be down: try again later, or allow more with max_attempts / max_retry_seconds."
        if last.kind == THROTTLE:
            hint = (
                "Another deployment or tool may share this app's budget on the tenant: run fewer at once, "
                "or allow a longer wait with max_throttle_seconds."
            )
        elif last.kind == MAINTENANCE:
            hint = "Run again once ServiceTitan's maintenance window is over."
        elif "ConnectError" in last.problem:  # nothing answered at that address
            setting = "SERVICETITAN_AUTH_URL" if "/connect/token" in what else "SERVICETITAN_API_URL"
            hint = f"Nothing answered: check {setting} (and the network, proxy or firewall)."
        elapsed = time.monotonic() - tally.started
        raise RetriesExhausted(
            f"{what} failed after {tally.attempts} attempt(s) over {elapsed:.1f} s ({why}); "
            f"last problem: {last.problem}. {hint}",
            path=what,
            attempts=tally.attempts,
            last_problem=last.problem,
        ) from None
