"""HTTP request/response values shared by the sandbox handlers, and RFC 7807 problem answers."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field

JSON = "application/json; charset=utf-8"
PROBLEM = "application/problem+json; charset=utf-8"


@dataclass
class Request:
    """One parsed HTTP request: path without query, query as lists of values, raw body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def arg(self, name: str) -> str | None:
        """First value of a query parameter (names compared case-insensitively, like ASP.NET)."""
        for key, values in self.query.items():
            if key.lower() == name.lower():
                return values[0]
        return None

    def json(self):
        """The body parsed as JSON ({} when empty); raises ValueError when it does not parse."""
        return json.loads(self.body) if self.body.strip() else {}


@dataclass
class Response:
    """An answer to send: status, body bytes, content type and extra headers."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: dict[str, str] = field(default_factory=dict)


def json_response(value, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(status, json.dumps(value, ensure_ascii=False).encode(), JSON)


def trace_id() -> str:
    """A random W3C-style trace id, as ServiceTitan puts in problem answers."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"


def problem(
    status: int, title: str, errors: dict | None = None, headers: dict[str, str] | None = None
) -> Response:
    """An RFC 7807 problem answer {type, title, status, traceId, errors, data}."""
    body = {
        "type": f"https://httpstatuses.io/{status}",
        "title": title,
        "status": status,
        "traceId": trace_id(),
        "errors": errors or {},
        "data": {},
    }
    return Response(status, json.dumps(body).encode(), PROBLEM, dict(headers or {}))


GATEWAY_PAGES = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body>"
    b"<center><h1>502 Bad Gateway</h1></center></body></html>",
    503: b"Service Unavailable",
    504: b"<html><body><h1>504 Gateway Time-out</h1>The server didn't respond in time.</body></html>",
}


def gateway_error(status: int) -> Response:
    """A non-JSON error body, as gateways in front of the API send."""
    kind = "text/plain" if status == 503 else "text/html"
    return Response(status, GATEWAY_PAGES[status], kind)
