"""Settings of the sensors, schedules and freshness policies, from the environment (README, Settings)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import timedelta
from itertools import islice

from dagster import DefaultScheduleStatus, DefaultSensorStatus
from dagster._utils.schedules import cron_string_iterator, is_valid_cron_string

from crm_pipeline.settings import SettingsError

DEFAULT_EXPORT_INTERVAL = 300  # seconds between runs of a caught-up export feed, as the API asks
DEFAULT_LIST_SCHEDULE = "0 * * * *"  # incremental list runs: hourly
DEFAULT_FULL_WALK_SCHEDULE = "0 3 * * 0"  # whole walks that mark deletions: Sundays 03:00
DEFAULT_TIMEZONE = "UTC"


def _seconds(env, name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(float(raw))
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds (default {default}).")
    return value


def _cron(env, name: str, default: str) -> str:
    value = (env.get(name) or default).strip()
    if not is_valid_cron_string(value):
        raise SettingsError(f"{name}={value!r} is not a cron schedule like {default!r}.")
    return value


def export_interval(env=None) -> int:
    """CRM_EXPORT_INTERVAL_SECONDS, read at each sensor tick (so a change needs no restart)."""
    return _seconds(
        os.environ if env is None else env, "CRM_EXPORT_INTERVAL_SECONDS", DEFAULT_EXPORT_INTERVAL
    )


def cron_gap(cron: str, timezone: str = DEFAULT_TIMEZONE) -> timedelta:
    """The longest time between two ticks of `cron` over the coming weeks (1 h for hourly)."""
    ticks = list(islice(cron_string_iterator(time.time(), cron, timezone), 60))
    return max((b - a for a, b in zip(ticks, ticks[1:], strict=False)), default=timedelta(days=7))


@dataclass(frozen=True)
class AutomationSettings:
    """What the code location reads when it loads (schedules cannot change without a reload)."""

    enabled: bool
    export_interval: int
    list_schedule: str
    full_walk_schedule: str
    timezone: str

    @classmethod
    def from_env(cls, env=None) -> AutomationSettings:
        env = os.environ if env is None else env
        switch = (env.get("CRM_AUTOMATION") or "on").strip().lower()
        if switch not in ("on", "off"):
            raise SettingsError(f"CRM_AUTOMATION={switch!r}: expected 'on' (default) or 'off'.")
        return cls(
            enabled=switch == "on",
            export_interval=export_interval(env),
            list_schedule=_cron(env, "CRM_LIST_SCHEDULE", DEFAULT_LIST_SCHEDULE),
            full_walk_schedule=_cron(env, "CRM_FULL_WALK_SCHEDULE", DEFAULT_FULL_WALK_SCHEDULE),
            timezone=env.get("CRM_SCHEDULE_TIMEZONE") or DEFAULT_TIMEZONE,
        )

    @property
    def sensor_status(self) -> DefaultSensorStatus:
        return DefaultSensorStatus.RUNNING if self.enabled else DefaultSensorStatus.STOPPED

    @property
    def schedule_status(self) -> DefaultScheduleStatus:
        return DefaultScheduleStatus.RUNNING if self.enabled else DefaultScheduleStatus.STOPPED

    @property
    def export_freshness(self) -> timedelta:
        """An export feed is overdue after two intervals (one missed run tolerated), at least 10 minutes."""
        return max(timedelta(seconds=2 * self.export_interval), timedelta(minutes=10))

    @property
    def list_freshness(self) -> timedelta:
        """A list table is overdue after two gaps of the incremental schedule (one missed run tolerated)."""
        return 2 * cron_gap(self.list_schedule, self.timezone)
