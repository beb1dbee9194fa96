"""The error a refused request raises (4xx worth no retry), with what to check in its message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..settings import Settings
from .errors import (
    ApiError,
    AppKeyRejected,
    BadRequest,
    CredentialsRejected,
    InvalidContinuationToken,
    NotFound,
    ScopeMissing,
    scope_hint,
)


@dataclass
class Refusal:
    """One refused answer: the request (``what``, its query), the status and its body's summary."""

    what: str
    query: dict
    status: int
    summary: str
    title: str | None
    trace: str | None


def refusal_error(
    refusal: Refusal, *, settings: Settings, base_path: str, key_works: Callable[[], bool]
) -> ApiError:
    """The :class:`ApiError` for ``refusal``; ``key_works()`` tells a 403 of a missing scope from a
    refused app key (asked only for a 403)."""
    what, status, tenant = refusal.what, refusal.status, settings.tenant_id
    head = f"{what} answered HTTP {status} ({refusal.summary})"
    kw = {"status": status, "path": what, "title": refusal.title, "trace_id": refusal.trace}
    if status == 401:
        return CredentialsRejected(
            f"{head}: access token refused even after renewing it: check SERVICETITAN_CLIENT_ID/SECRET "
            f"belong to tenant {tenant} (SERVICETITAN_TENANT_ID) and to the environment of "
            f"SERVICETITAN_API_URL ({settings.api_url}).",
            **kw,
        )
    if status == 403:
        if key_works():
            return ScopeMissing.for_path(head, **kw)
        return AppKeyRejected(
            f"{head}: the app key was refused here and by endpoints of other scopes; check "
            f"SERVICETITAN_APP_KEY (the app must be installed on tenant {tenant}). "
            f"If other endpoints load, {scope_hint(what)}.",
            **kw,
        )
    if status == 404:
        return NotFound(
            f"{head}: check SERVICETITAN_TENANT_ID (now {tenant}) and the path; also that "
            f"SERVICETITAN_API_URL ({settings.api_url}) is the tenant's environment. "
            f"If every request to this path answers 404 while others load, {scope_hint(what)}.",
            **kw,
        )
    if status == 400 and "from" in refusal.query:
        cursor = refusal.query["from"]
        cursor = cursor if len(cursor) <= 60 else cursor[:59] + "…"
        return InvalidContinuationToken(
            f"{head}: the stored cursor for this feed (from={cursor!r}) is invalid. Reset the feed's "
            f"cursor with `crm-pipeline reset-cursor {what.split(base_path, 1)[-1]}` (see README) "
            "and run it again.",
            **kw,
        )
    if status == 400:
        return BadRequest(f"{head}: the request parameters were refused.", **kw)
    return ApiError(f"{head}.", **kw)
