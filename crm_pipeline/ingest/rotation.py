"""The rotation through unchanged parents: children of a parent can change without its `modifiedOn`
moving (a new note), so each incremental walk also visits the parents visited longest ago.

Sized from the time since the last walk began: every parent is visited within `rotation_hours`,
while the rotation's visits take at most `rotation_share` of the rate limit over that time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from crm_pipeline.storage.walks import ParentWalks


def rotation_extra(walks: ParentWalks, *, watermark: str | None, options) -> int:
    """How many unchanged parents, visited longest ago, the next incremental walk adds (`watermark`: when
    the last walk began)."""
    last_walk = watermark
    if not options.rotation_hours or last_walk is None:
        return 0
    elapsed = (datetime.now(UTC) - datetime.fromisoformat(last_walk)).total_seconds()
    known, _recent, _oldest = walks.rotation_state()
    wanted = math.ceil(known * max(elapsed, 0.0) / (options.rotation_hours * 3600))
    allowed = math.floor(options.rotation_share * options.rate_limit * max(elapsed, 0.0))
    return max(0, min(wanted, allowed, known))


def rotation_report(walks: ParentWalks, *, options) -> dict:
    """How far the rotation is: the share of parents visited within the period, and the oldest visit."""
    known, recent, oldest = walks.rotation_state(options.rotation_hours)
    return {
        "parents_known": known,
        "visited_within_period": round(recent / known, 4) if known else 1.0,
        "oldest_visit": oldest or "never (some parent not visited yet)",
    }
