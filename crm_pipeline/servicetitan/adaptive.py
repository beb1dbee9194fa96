"""The request rate a tenant's budget learns from the server's 429s.

The rule is CUBIC, as the AWS SDKs' adaptive retry mode applies it to a client's send rate: a dense
run of 429s sets ``w_max`` to the rate in use (or, when requests were waiting for the budget, to the
rate the server accepted lately if lower: the 429s come late to say the rate was too high) and drops
the rate to ``BETA * w_max``; while answers
are good the rate climbs back along a cubic curve, quickly far below ``w_max``, flat near it (where the
server's limit most likely is), then probing above it, up to the configured ceiling. Above ``w_max`` it
climbs no faster than PROBE (a share of ``w_max`` per second) and no further than GROWTH times the rate
really sent lately: a server's limit is usually a token bucket whose burst hides an overshoot for
seconds, so a fast climb there would meet the 429s only when it is far above the limit; and a budget
left idle does not grow into a burst when work comes back.

A 429 here and there among good answers does not lower the rate: gateways and other clients of the same
app cause isolated ones, and treating each as a sign of the limit would sink the rate far below it.
Three within the time of a few requests, or a sixth of the answers lately, mean the budget is spent.

At a drop the queue is taken anew: the slots granted to requests still waiting were spaced at the rate
the 429s refused (with many threads, seconds of them), so those requests take new ones at the new rate
(``dropped_since``, ratelimit.wait_for_turn). A drop's own 429s don't count towards the next one; those
of requests sent at the new rate do, after the time of a few of them (``settle_seconds``).

The whole state is a handful of floats in one clock, so processes can share it (ratelimit.py).
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass, fields

BETA = 0.8  # the share of w_max the rate keeps after a drop
SCALE = 0.05  # CUBIC's C: how fast the rate climbs back (requests/s per s**3)
FLOOR = 0.5  # requests/s: the rate never drops below this
NEVER = -math.inf
DENSE_REQUESTS = 6  # three 429s within the time of this many requests are a dense run
DENSE_SHARE = 0.15  # so are DENSE_COUNT or more making this share of the answers lately (a steady trickle)
DENSE_COUNT = 4
SETTLE_SECONDS = 1.0  # a drop's aftermath lasts at most this (see settle_seconds)
WINDOW_SECONDS = 2.0  # good answers are counted in windows of this (a sliding window made of the last two)
GROWTH = 1.5
PROBE = 0.02  # above w_max the rate climbs at most this share of w_max per second (see the module's doc)
BINDING = 0.5  # the budget binds when what is sent is at least this share of its rate
MARGIN = 0.95  # the plateau sits this far below the accepted rate, so the server's burst allowance refills


@dataclass
class BudgetState:
    """A tenant's budget at one moment: the next free slot, the learned rate (``w_max`` and the last
    drop), the last two 429s, and the good answers of this window and the one before (all in one clock)."""

    next_slot: float = 0.0
    w_max: float = 0.0
    last_drop: float = NEVER
    window_start: float = 0.0
    accepted_now: float = 0.0
    accepted_before: float = 0.0
    throttled_now: float = 0.0
    throttled_before: float = 0.0
    last_429: float = NEVER
    prev_429: float = NEVER
    last_wait: float = NEVER  # the last time a request had to wait for its slot (the budget was binding)
    counting_since: float = NEVER  # the first answer counted (the windows hold less before a full one)
    accepted_since: float = 0.0  # answers to the requests sent since the last drop, good and 429
    throttled_since: float = 0.0

    @classmethod
    def size(cls) -> int:
        return len(fields(cls))

    def values(self) -> tuple[float, ...]:
        return astuple(self)

    def rate(self, now: float, ceiling: float | None) -> float | None:
        """The rate in use at ``now``: on the cubic curve since the last drop, within [FLOOR, ceiling]."""
        if ceiling is None:
            return None
        if self.last_drop == NEVER or now < self.last_drop or self.w_max <= 0:
            return ceiling
        k = (self.w_max * (1 - BETA) / SCALE) ** (1 / 3)
        cubic = SCALE * (now - self.last_drop - k) ** 3 + self.w_max
        if cubic > self.w_max:
            probe = self.w_max * (1 + PROBE * (now - self.last_drop - k))
            cubic = min(cubic, probe, max(self.w_max, GROWTH * self._sent_rate(now)))
        return min(ceiling, max(FLOOR, cubic))

    def take(self, now: float, ceiling: float | None) -> float:
        """The slot of the next request, moving the next free one an interval on."""
        slot = max(now, self.next_slot)
        if slot > now:
            self.last_wait = now
        rate = self.rate(now, ceiling)
        self.next_slot = slot + (0.0 if rate is None else 1.0 / rate)
        return slot

    def answered(self, now: float, *, sent_at: float, throttled: bool, ceiling: float | None) -> bool:
        """Learn from one answer to a request sent at ``sent_at``; True when the rate dropped."""
        self._roll(now)
        if sent_at >= self.last_drop:
            self.accepted_since += not throttled
            self.throttled_since += throttled
        if not throttled:
            self.accepted_now += 1
            return False
        self.throttled_now += 1
        rate = self.rate(now, ceiling)
        accepted = self._lately(now, self.accepted_before, self.accepted_now)
        throttles = self._lately(now, self.throttled_before, self.throttled_now)
        close = rate is not None and now - self.prev_429 < DENSE_REQUESTS / rate
        steady = throttles >= DENSE_COUNT and throttles >= DENSE_SHARE * (accepted + throttles)
        self.prev_429, self.last_429 = self.last_429, now
        if rate is None or not (close or steady) or sent_at < self.last_drop + self.settle_seconds():
            return False
        span = min(WINDOW_SECONDS, max(now - self.counting_since, WINDOW_SECONDS / 8))
        estimate = min(rate, self._accepted_rate(rate, accepted / span)) if self._binding(now, rate) else rate
        self.w_max = max(FLOOR / BETA, estimate)
        self.throttled_now = self.throttled_before = 0.0  # these 429s made this drop: not the next one
        self.accepted_since = self.throttled_since = 0.0
        self.next_slot = min(self.next_slot, now)  # the queue was spaced at the old rate: it is taken anew
        self.last_drop = now
        return True

    def settle_seconds(self) -> float:
        """How long after a drop a request's 429 still belongs to the drop: the time of a few requests at
        the dropped rate. Requests sent before the drop never count; those sent after it take their slots
        at the new rate (retries too), so their 429s say the new rate is still too high. A first drop
        learns from a burst the server's token bucket allowed and can land too high: every request of a
        longer settling time would go into a 429."""
        return min(SETTLE_SECONDS, DENSE_REQUESTS / max(FLOOR, BETA * self.w_max))

    def dropped_since(self, granted: float) -> bool:
        """Whether the rate dropped after a slot was granted at ``granted`` (its spacing is the old rate's:
        a request that still waits for it takes a new one)."""
        return self.last_drop > granted

    def _binding(self, now: float, rate: float) -> bool:
        """Whether the budget held requests back lately: one waited, and what was sent came near its rate
        (else fewer were asked than it allows, and the good answers say how many were asked, not what the
        server accepts: a run's first seconds, a machine short of CPU)."""
        return now - self.last_wait < WINDOW_SECONDS and self._sent_rate(now) >= BINDING * rate

    def _accepted_rate(self, rate: float, accepted_lately: float) -> float:
        """The rate the server accepts, less MARGIN: the good answers lately, or, when fewer, ``rate`` times
        the share of good answers since the last drop (the answers lately may hold a burst the server's
        token bucket allowed on top of its rate, and the share does not)."""
        answers = self.accepted_since + self.throttled_since
        share = self.accepted_since / answers if answers >= DENSE_REQUESTS else 1.0
        return MARGIN * min(accepted_lately, rate * share)

    def _sent_rate(self, now: float) -> float:
        """Answers per second lately, good or 429 (what was really sent)."""
        answers = self._lately(
            now, self.accepted_before + self.throttled_before, self.accepted_now + self.throttled_now
        )
        return answers / min(WINDOW_SECONDS, max(now - self.counting_since, WINDOW_SECONDS / 8))

    def _lately(self, now: float, before: float, current: float) -> float:
        """Answers of a kind in the last WINDOW_SECONDS: the current window and the older one's rest."""
        elapsed = min(max(now - self.window_start, 0.0), WINDOW_SECONDS) / WINDOW_SECONDS
        return before * (1 - elapsed) + current

    def _roll(self, now: float) -> None:
        if self.counting_since == NEVER or self.counting_since > now:
            self.counting_since = self.window_start = now
        if now < self.window_start + WINDOW_SECONDS:
            return
        recent = now < self.window_start + 2 * WINDOW_SECONDS
        self.accepted_before = self.accepted_now if recent else 0.0
        self.throttled_before = self.throttled_now if recent else 0.0
        self.accepted_now = self.throttled_now = 0.0
        self.window_start = now
