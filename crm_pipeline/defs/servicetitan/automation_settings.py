"""Settings of the sensors, schedules and freshness policies, from the environment (README, Settings)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dagster import (
    DagsterInvalidDefinitionError,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    TimeWindowPartitionsDefinition,
)

from crm_pipeline.settings import SettingsError, seconds, switch

DEFAULT_EXPORT_INTERVAL = 300  # seconds between runs of a caught-up export feed, as the API asks
DEFAULT_LIST_SCHEDULE = "0 * * * *"  # incremental list runs: hourly
DEFAULT_FULL_WALK_SCHEDULE = "0 3 * * 0"  # whole walks that mark deletions: Sundays 03:00
DEFAULT_TIMEZONE = "UTC"
_TICKS = 60  # the ticks of a cron whose gaps cron_gap compares
_TICK_FORMAT = "%Y-%m-%d %H:%M"
_LONGEST_SPAN = timedelta(days=366 * 250)  # 60 ticks of the rarest cron (29 February) take 240 years


def cron_setting(env: Mapping[str, str], name: str, default: str) -> str:
    """A cron schedule setting; unset or empty: `default`. Checked as Dagster checks a schedule's."""
    value = (env.get(name) or default).strip()
    try:
        _ticks_within(value, DEFAULT_TIMEZONE, timedelta(0))
    except DagsterInvalidDefinitionError:
        raise SettingsError(f"{name}={value!r} is not a cron schedule like {default!r}.") from None
    return value


def export_interval(env: Mapping[str, str]) -> int:
    """CRM_EXPORT_INTERVAL_SECONDS: how long a caught-up export feed waits for its next run."""
    return seconds(env, "CRM_EXPORT_INTERVAL_SECONDS", DEFAULT_EXPORT_INTERVAL)


def _ticks_within(cron: str, timezone: str, span: timedelta) -> list[datetime]:
    """The ticks of `cron` from now to `span` ahead, as wall-clock times of `timezone`: the time windows
    of a partitions definition on that cron (Dagster's public reading of a cron string)."""
    start = datetime.now(ZoneInfo(timezone)).replace(second=0, microsecond=0)
    windows = TimeWindowPartitionsDefinition(
        cron_schedule=cron, start=start, fmt=_TICK_FORMAT, timezone=timezone
    )
    keys = windows.get_partition_keys(current_time=start + span)
    return [datetime.strptime(key, _TICK_FORMAT) for key in keys]


def cron_gap(cron: str, timezone: str = DEFAULT_TIMEZONE) -> timedelta:
    """The longest time between two of the next 60 ticks of `cron` (1 h for hourly)."""
    span = timedelta(hours=1)
    ticks = _ticks_within(cron, timezone, span)
    while len(ticks) < _TICKS and span < _LONGEST_SPAN:
        span *= 4
        ticks = _ticks_within(cron, timezone, span)
    ticks = ticks[:_TICKS]
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
    def from_env(cls, env: Mapping[str, str]) -> AutomationSettings:
        return cls(
            enabled=switch(env, "CRM_AUTOMATION"),
            export_interval=export_interval(env),
            list_schedule=cron_setting(env, "CRM_LIST_SCHEDULE", DEFAULT_LIST_SCHEDULE),
            full_walk_schedule=cron_setting(env, "CRM_FULL_WALK_SCHEDULE", DEFAULT_FULL_WALK_SCHEDULE),
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
