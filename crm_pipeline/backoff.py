"""Exponential backoff with full jitter: the one delay rule of every loop that waits and tries again
(the API client's retries, the file lock's waits, a DuckLake commit's conflicts)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MAX_DOUBLINGS = 30  # past this, base * 2**n only overflows: the cap decides anyway


@dataclass
class Backoff:
    """``delay(n)`` for the n-th retry (from 0): uniform(0, min(cap, base * 2**n)).

    Full jitter spreads waiters that failed together, so they do not collide again."""

    base: float
    cap: float
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap <= 0:
            raise ValueError(f"backoff base and cap must be positive, got {self.base!r}, {self.cap!r}")

    def ceiling(self, retry_number: int) -> float:
        """The longest delay the ``retry_number``-th retry may draw."""
        return min(self.cap, self.base * 2 ** min(max(retry_number, 0), MAX_DOUBLINGS))

    def delay(self, retry_number: int) -> float:
        return self.rng.uniform(0.0, self.ceiling(retry_number))
