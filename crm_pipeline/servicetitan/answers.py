"""Which answers are worth another attempt, and out of which budget the wait comes."""

from __future__ import annotations

import httpx

from .retry import ERROR, MAINTENANCE, THROTTLE, Retry, parse_retry_after, seconds_in_title

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAINTENANCE_STATUS = 409
MAINTENANCE_WORD = "maintenance"  # a 409's title: "The service is suspended for maintenance"


def server_wait(resp: httpx.Response, title: str | None) -> float | None:
    """A 429's wait: its ``Retry-After`` header, else the seconds in its problem title, else None."""
    header = parse_retry_after(resp.headers.get("retry-after"))
    return header if header is not None else seconds_in_title(title)


def in_maintenance(status: int, summary: str) -> bool:
    """A 409 that says the service is suspended for maintenance (other 409s are errors)."""
    return status == MAINTENANCE_STATUS and MAINTENANCE_WORD in summary.lower()


def transient(resp: httpx.Response, *, summary: str, title: str | None, origin: str = "") -> Retry | None:
    """The :class:`Retry` an error answer calls for, or None when it is not worth another attempt.

    ``summary`` and ``title`` describe the body (errors.describe_body); ``origin`` is added to the
    message ("from the token endpoint")."""
    status = resp.status_code
    where = f" {origin}" if origin else ""
    if status == 429:
        wait = server_wait(resp, title)
        note = f", wait {wait:g} s" if wait is not None else ""
        return Retry(f"HTTP 429{where} ({summary}{note})", status=429, wait=wait, kind=THROTTLE)
    if in_maintenance(status, summary):
        return Retry(f"HTTP 409{where} ({summary})", status=409, kind=MAINTENANCE)
    if status in RETRYABLE_STATUS:
        return Retry(f"HTTP {status}{where} ({summary})", status=status, kind=ERROR)
    return None
