"""The request rate a tenant's budget learns from the server's 429s.

The rule is CUBIC, as the AWS SDKs' adaptive retry mode applies it to a client's send rate: a dense
run of 429s sets ``w_max`` to the rate in use (or the rate the server accepted lately, if lower) and
drops the rate to ``beta * w_max``; while answers
are good the rate climbs back along a cubic curve, quickly far below ``w_max``, flat near it (where
the server's limit most likely is), then probing above it, up to the configured ceiling. The whole
state is two floats (``w_max`` and when the last drop happened), so processes can share it.

A single 429 among good answers does not lower the rate: gateways and other clients of the same app
cause isolated ones, and treating each as a sign of the limit would sink the rate far below it. Two
within the last few answers mean the budget is spent.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from dataclasses import dataclass

BETA = 0.8  # the share of the rate kept after a drop
SCALE = 0.1  # CUBIC's C: how fast the rate climbs back (requests/s per s**3)
FLOOR = 0.5  # requests/s: the rate never drops below this
NEVER = -math.inf  # `last_drop` of a budget that never met a dense run of 429s
RECENT_ANSWERS = 10  # how many of the last answers a 429 is judged among
DENSE_429S = 2  # 429s among those that mean the limit was reached
MEASURE_SECONDS = 2.0  # the server's accepted rate is measured over this
SETTLE_SECONDS = 1.0  # one drop per this: the 429s of its aftermath (retries, requests in flight) don't count


@dataclass
class LearnedRate:
    """The shared part of a budget: the rate before the last drop and when it happened (budget clock)."""

    w_max: float
    last_drop: float = NEVER

    def rate(self, now: float, ceiling: float) -> float:
        """The rate in use at ``now``: on the cubic curve since the last drop, within [FLOOR, ceiling]."""
        if self.last_drop == NEVER or now < self.last_drop:
            return ceiling
        k = (self.w_max * (1 - BETA) / SCALE) ** (1 / 3)
        cubic = SCALE * (now - self.last_drop - k) ** 3 + self.w_max
        return min(ceiling, max(FLOOR, cubic))

    def drop(self, now: float, ceiling: float, *, accepted: float) -> None:
        """A dense run of 429s at ``now``: the limit is taken to be the rate in use or, when lower, the
        rate the server ``accepted`` lately (the 429s came late to say the rate in use was too high)."""
        self.w_max = max(FLOOR / BETA, min(self.rate(now, ceiling), accepted))
        self.last_drop = now


class RecentAnswers:
    """This process's last answers: whether a 429 is one of a dense run, and the rate of good answers."""

    def __init__(self) -> None:
        self._recent: collections.deque[bool] = collections.deque(maxlen=RECENT_ANSWERS)
        self._accepted: collections.deque[float] = collections.deque()
        self._began = time.monotonic()
        self._lock = threading.Lock()

    def dense(self, throttled: bool) -> bool:
        """Record one answer; True when it is a 429 and the recent answers hold enough of them."""
        now = time.monotonic()
        with self._lock:
            self._recent.append(throttled)
            if not throttled:
                self._accepted.append(now)
            while self._accepted and self._accepted[0] < now - MEASURE_SECONDS:
                self._accepted.popleft()
            return throttled and sum(self._recent) >= DENSE_429S

    def accepted_rate(self) -> float:
        """Good answers per second over the last MEASURE_SECONDS (since the first answer, if sooner)."""
        with self._lock:
            span = min(MEASURE_SECONDS, max(time.monotonic() - self._began, 0.25))
            return len(self._accepted) / span
