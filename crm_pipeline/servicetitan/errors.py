"""Errors raised by the ServiceTitan client.

Every message says what failed (HTTP status, problem ``title`` and ``traceId`` when the body
parses, the request path) and what to check. Messages never contain the client secret, the app
key or an access token: the client scrubs them before raising.
"""

from __future__ import annotations

import json
from typing import Any

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
    """HTTP 403: the app key is wrong or the app has no access to this tenant or endpoint."""


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
    snippet = _short(" ".join(text.split()))
    kind = f" {content_type.split(';')[0]}" if content_type else ""
    return (f"non-JSON{kind} body: {snippet!r}" if snippet else "empty body"), None, None


def _short(text: str) -> str:
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
