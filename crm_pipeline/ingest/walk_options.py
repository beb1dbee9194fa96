"""How a parent walk runs (crm_pipeline.ingest.fanout): its threads, time budget and rotation."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FanOutOptions:
    workers: int = 16
    budget_seconds: float | None = None  # stop taking new parents after this long (None: walk to the end)
    rotation_hours: float | None = None  # visit every unchanged parent within this period (None: no rotation)
    rotation_share: float = 0.25  # at most this share of the rate limit for the rotation's visits
    rate_limit: float = 60.0
