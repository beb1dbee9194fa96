"""Errors raised by the ServiceTitan client.

Every message says what failed (HTTP status, problem ``title`` and ``traceId`` when the body
parses, the request path) and what to check. Messages never contain the client secret, the app
key or an access token: the client scrubs them before raising.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .scopes import relative_path, scope_for_path

SNIPPET_CHARS = 200


class ServiceTitanError(Exception):
    """Base class of every error raised by :mod:`crm_pipeline.servicetitan`."""


class ClientClosed(ServiceTitanError):
    """The client was closed (or the walk was stopped) while a request was pending."""


class UnexpectedResponse(ServiceTitanError):
    """The API answered 200 with JSON that does not have the documented shape."""


class RetriesExhausted(ServiceTitanError):
    """A retryable problem (429, 5xx, timeout, cut-off body, ...) persisted past the retry budget."""

    def __init__(self, message: str, *, path: str, attempts: int, last_problem: str) -> None:
        super().__init__(message)
        self.path = path
        self.attempts = attempts
        self.last_problem = last_problem


class ApiError(ServiceTitanError):
    """An answer not worth retrying (4xx). ``status``, ``title``, ``trace_id`` and ``path`` are kept."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        title: str | None = None,
        trace_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.title = title
        self.trace_id = trace_id


class CredentialsRejected(ApiError):
    """Client id/secret refused by the token endpoint, or an access token refused after renewal."""


class AppKeyRejected(ApiError):
    """HTTP 403 before any request of the client succeeded: the app key is wrong (or the app is not
    installed on the tenant), or the very first endpoint asked is outside the app's scopes."""


class ScopeMissing(ApiError):
    """HTTP 403 after other requests of the same client succeeded: the app key works, the app lacks the
    API scope of this endpoint (``scope``). Fails the endpoint's asset, not the tenant."""

    def __init__(self, message: str, *, scope: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.scope = scope

    @classmethod
    def for_path(cls, head: str, **kw: Any) -> ScopeMissing:
        """The error of a 403 on ``kw["path"]``; ``head`` says what was asked and what came back."""
        return cls(
            f"{head}: the app key works on other endpoints; {scope_hint(kw['path'])}.",
            scope=scope_for_path(kw["path"]).name,
            **kw,
        )


def scope_hint(path: str) -> str:
    """Where to grant the scope a path most likely needs, for the messages of 403s and whole-path 404s."""
    scope = scope_for_path(path)
    return (
        f"the app probably lacks the API scope {scope} for {relative_path(path)}: grant it to the app in "
        "the ServiceTitan developer portal and have the tenant's admin reconnect the app"
    )


class NotFound(ApiError):
    """HTTP 404: wrong tenant id or wrong path."""


class BadRequest(ApiError):
    """HTTP 400 on a request without a continuation token."""


class InvalidContinuationToken(BadRequest):
    """HTTP 400 on an export request carrying ``from``: the stored cursor is not accepted."""


def describe_body(body: bytes, content_type: str = "") -> tuple[str, str | None, str | None]:
    """Summarise an error body: ``(summary, title, trace_id)``; never assumes it is JSON."""
    text = body.decode("utf-8", errors="replace")
    try:
        doc: Any = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        title = _str_or_none(doc.get("title") or doc.get("error"))
        trace_id = _str_or_none(doc.get("traceId") or doc.get("traceid"))
        parts = []
        if title:
            parts.append(f"title={title!r}")
        detail = doc.get("detail") or doc.get("error_description")
        if detail:
            parts.append(f"detail={_short(str(detail))!r}")
        if doc.get("errors"):
            parts.append(f"errors={_short(json.dumps(doc['errors'], ensure_ascii=False))}")
        if trace_id:
            parts.append(f"traceId={trace_id}")
        if parts:
            return ", ".join(parts), title, trace_id
    page_title = html_title(text) if _is_html(text, content_type) else None
    if page_title is not None:
        origin = "a gateway in front of the API answered, not the API"
        return f"an HTML page titled {page_title!r}: {origin}", None, None
    snippet = _short(" ".join(text.split()))
    kind = f" {content_type.split(';')[0]}" if content_type else ""
    return (f"non-JSON{kind} body: {snippet!r}" if snippet else "empty body"), None, None


def _is_html(text: str, content_type: str) -> bool:
    return "html" in content_type.lower() or text.lstrip()[:15].lower().startswith(("<!doctype", "<html"))


def html_title(text: str) -> str | None:
    """The ``<title>`` of an HTML page (else its first ``<h1>``), whitespace folded; None if neither."""
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.IGNORECASE | re.DOTALL)
        if match:
            words = " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())
            if words:
                return _short(words)
    return None


def _short(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
