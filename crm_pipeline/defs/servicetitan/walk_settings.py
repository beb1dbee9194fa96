"""Settings of the parent fan-outs, read when a run starts (README, Settings)."""

from __future__ import annotations

import os

from crm_pipeline.ingest import FanOutOptions
from crm_pipeline.settings import SettingsError

DEFAULT_WALK_BUDGET_SECONDS = 1800.0  # a run stops taking new parents after this; the next run continues
DEFAULT_ROTATION_HOURS = 24.0  # every unchanged parent visited within this period
DEFAULT_ROTATION_SHARE = 0.25  # the rotation's visits take at most this share of the rate limit


def _number(env, name: str, default: float, *, at_most: float | None = None) -> float | None:
    """The setting as a number; `off` or 0: None (no limit, no rotation)."""
    raw = (env.get(name) or str(default)).strip().lower()
    if raw in ("off", "0", "none"):
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0 or (at_most is not None and value > at_most):
        raise SettingsError(
            f"{name}={raw!r} must be a positive number{f' up to {at_most}' if at_most else ''} "
            f"or off (default {default})."
        )
    return value


def fan_out_options(rate_limit: float, env=None) -> FanOutOptions:
    """CRM_WALK_BUDGET_SECONDS, CRM_ROTATION_HOURS and CRM_ROTATION_SHARE."""
    env = os.environ if env is None else env
    return FanOutOptions(
        budget_seconds=_number(env, "CRM_WALK_BUDGET_SECONDS", DEFAULT_WALK_BUDGET_SECONDS),
        rotation_hours=_number(env, "CRM_ROTATION_HOURS", DEFAULT_ROTATION_HOURS),
        rotation_share=_number(env, "CRM_ROTATION_SHARE", DEFAULT_ROTATION_SHARE, at_most=1.0) or 0.0,
        rate_limit=rate_limit,
    )
