"""Injected failures (scripted or random) and the per-second rate limit of API requests."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

# "429"/"500"/"502"/"503"/"504": that status; "409": a maintenance window's answer;
# "reset": socket closed without an answer;
# "truncate": 200 with the full Content-Length but half the body, then the connection closed;
# "badjson": 200 with a cut-short body and a matching Content-Length; "slow": delay, then normal.
KINDS = ("429", "409", "500", "502", "503", "504", "reset", "truncate", "badjson", "slow")
BEFORE_ANSWER = {"429", "409", "500", "502", "503", "504", "reset"}  # replace the normal answer
ON_BODY = {"truncate", "badjson"}  # mangle the normal answer


@dataclass
class Fault:
    """One failure to apply to one API request."""

    kind: str
    retry_after: int = 1
    delay: float = 3.0


@dataclass
class _Scripted:
    fault: Fault
    count: int
    path_contains: str | None


def _check(kind: str) -> str:
    kind = str(kind)
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
    return kind


class Faults:
    """Failures for API requests: scripted ones first (in the order added), then random ones."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripted: list[_Scripted] = []
        self._rates: list[tuple[str, float]] = []
        self._rng = random.Random(0)
        self._retry_after, self._delay = 1, 3.0

    def add(
        self,
        kind: str,
        count: int = 1,
        path_contains: str | None = None,
        retry_after: int = 1,
        delay: float = 3.0,
    ) -> None:
        """The next `count` API requests whose path contains `path_contains` (any if None) fail."""
        with self._lock:
            self._scripted.append(
                _Scripted(Fault(_check(kind), int(retry_after), float(delay)), int(count), path_contains)
            )

    def set_rates(
        self, rates: dict[str, float], seed: int | None = None, retry_after: int = 1, delay: float = 3.0
    ) -> None:
        """Random failures: each API request fails with kind k with probability rates[k]."""
        checked = [(_check(k), float(p)) for k, p in rates.items() if float(p) > 0]
        if sum(p for _, p in checked) > 1:
            raise ValueError("fault rates add up to more than 1")
        with self._lock:
            self._rates = checked
            self._rng = random.Random(seed)
            self._retry_after, self._delay = int(retry_after), float(delay)

    def clear(self) -> None:
        """No more scripted or random failures."""
        with self._lock:
            self._scripted.clear()
            self._rates = []

    @property
    def pending(self) -> int:
        """Scripted failures not yet used."""
        with self._lock:
            return sum(s.count for s in self._scripted)

    def draw(self, path: str) -> Fault | None:
        """The failure to apply to an API request on `path`, if any (consumes a scripted one)."""
        with self._lock:
            for s in self._scripted:
                if s.count > 0 and (s.path_contains is None or s.path_contains in path):
                    s.count -= 1
                    self._scripted = [x for x in self._scripted if x.count > 0]
                    return s.fault
            if self._rates:
                roll = self._rng.random()
                for kind, p in self._rates:
                    if roll < p:
                        return Fault(kind, self._retry_after, self._delay)
                    roll -= p
        return None


class RateLimiter:
    """Token bucket: `rate` API requests per second (burst of one second), or no limit if None."""

    def __init__(self, rate: float | None = None) -> None:
        self._lock = threading.Lock()
        self.rate = rate

    @property
    def rate(self) -> float | None:
        """Requests per second allowed; None: unlimited. Setting it refills the bucket."""
        return self._rate

    @rate.setter
    def rate(self, value: float | None) -> None:
        with self._lock:
            self._rate = float(value) if value else None
            self._tokens = max(self._rate, 1.0) if self._rate else 0.0
            self._stamp = time.monotonic()

    def allow(self) -> bool:
        """Take one token; False when the bucket is empty (the request gets a 429)."""
        with self._lock:
            if self._rate is None:
                return True
            now = time.monotonic()
            self._tokens = min(max(self._rate, 1.0), self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False
