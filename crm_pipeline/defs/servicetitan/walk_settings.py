"""Settings of the parent fan-outs, read when a run starts (README, Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crm_pipeline.ingest import FanOutOptions
from crm_pipeline.settings import SettingsError, is_off

DEFAULT_WALK_BUDGET_SECONDS = 1800.0  # a run stops taking new parents after this; the next run continues
DEFAULT_ROTATION_HOURS = 24.0  # every unchanged parent visited within this period
DEFAULT_ROTATION_SHARE = 0.25  # the rotation's visits take at most this share of the rate limit


def _number(env, name: str, default: float, *, at_most: float | None = None) -> float | None:
    """The setting as a number; off (is_off) or 0: None (no limit, no rotation)."""
    raw = (env.get(name) or str(default)).strip().lower()
    if is_off(raw) or raw == "0":
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


@dataclass(frozen=True)
class WalkSettings:
    """CRM_WALK_BUDGET_SECONDS, CRM_ROTATION_HOURS and CRM_ROTATION_SHARE (None: no budget, no rotation)."""

    budget_seconds: float | None = DEFAULT_WALK_BUDGET_SECONDS
    rotation_hours: float | None = DEFAULT_ROTATION_HOURS
    rotation_share: float = DEFAULT_ROTATION_SHARE

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WalkSettings:
        return cls(
            budget_seconds=_number(env, "CRM_WALK_BUDGET_SECONDS", DEFAULT_WALK_BUDGET_SECONDS),
            rotation_hours=_number(env, "CRM_ROTATION_HOURS", DEFAULT_ROTATION_HOURS),
            rotation_share=_number(env, "CRM_ROTATION_SHARE", DEFAULT_ROTATION_SHARE, at_most=1.0) or 0.0,
        )

    def fan_out_options(self, rate_limit: float) -> FanOutOptions:
        """The options of a walk under a client of `rate_limit` requests/s."""
        return FanOutOptions(
            budget_seconds=self.budget_seconds,
            rotation_hours=self.rotation_hours,
            rotation_share=self.rotation_share,
            rate_limit=rate_limit,
        )
