""".NET-tick timestamps: the formats the API mixes (7 digits, trimmed, none, with or without a zone),
and parsing the instants of filters and records back into ticks."""

from __future__ import annotations

from datetime import UTC, datetime

TICKS_PER_SECOND = 10_000_000  # .NET ticks (100 ns): 7 fractional digits

_DAYS: dict[int, str] = {}  # day number -> "2024-01-31"
_CLOCKS: dict[int, str] = {}  # second of the day -> "T13:45:07": formatted once, joined per record


def format_ticks(ticks: int, style: int) -> str:
    """Format ticks since the epoch. style 0: 7 digits + Z, 1: trailing zeros trimmed + Z,
    2: no fraction + Z, 3: 3 digits + Z, 4: 7 digits without zone, 5: no fraction, no zone."""
    sec, frac = divmod(ticks, TICKS_PER_SECOND)
    day, sec = divmod(sec, 86400)
    head = _DAYS.get(day)
    if head is None:
        head = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    clock = _CLOCKS.get(sec)
    if clock is None:
        clock = _CLOCKS[sec] = f"T{sec // 3600:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    if style == 0:
        return f"{head}{clock}.{frac:07d}Z"
    if style == 1:
        digits = f"{frac:07d}".rstrip("0")
        return f"{head}{clock}.{digits}Z" if digits else f"{head}{clock}Z"
    if style == 2:
        return f"{head}{clock}Z"
    if style == 3:
        return f"{head}{clock}.{frac // 10000:03d}Z"
    if style == 4:
        return f"{head}{clock}.{frac:07d}"
    return head + clock


TS_STYLES = (0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 0, 0, 1, 0, 2, 0)  # mostly 7 digits; 16 entries: pick with 4 bits


def parse_instant(text: str) -> int | None:
    """Ticks since the epoch for `2024-01-01` or an ISO date-time (zone optional, UTC assumed)."""
    text = text.strip()
    try:
        if len(text) == 10:
            dt = datetime.strptime(text, "%Y-%m-%d")
        else:
            main, _, frac = text.replace("z", "Z").removesuffix("Z").partition(".")
            zone = ""
            for sign in "+-":
                if sign in frac:
                    frac, _, rest = frac.partition(sign)
                    zone = sign + rest
            dt = datetime.fromisoformat(main + zone)
            if frac and not frac.isdigit():
                return None
            dt = dt.replace(microsecond=0)
            extra = int((frac + "0000000")[:7]) if frac else 0
            return _ticks(dt) + extra
    except ValueError:
        return None
    return _ticks(dt)


def _ticks(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * TICKS_PER_SECOND
