"""The HTTP side of the sandbox: routing, gateway behaviour (faults, rate limit, auth), sockets.

`API_ROUTES` maps (method, path pattern under /crm/v2/tenant/{tenant}/) to handlers
`handler(app, request, **groups) -> Response`; new endpoints are one more line there. `app` is the
`Sandbox` (stores in `app.registry`, settings, faults, tokens, request log).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import traceback
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from . import admin
from .auth import check_api_access, token_endpoint
from .faults import BEFORE_ANSWER, Fault
from .feeds import EXPORT_ROUTE, export_handler
from .list_api import LIST_ROUTES
from .responses import Request, Response, gateway_error, problem

API_PREFIX = re.compile(r"^/crm/v2/tenant/(?P<tenant>[^/]+)/(?P<rest>.*)$")
API_ROUTES: list[tuple[str, re.Pattern, object]] = [
    ("GET", re.compile(EXPORT_ROUTE), export_handler),
    *LIST_ROUTES,
]


def route_api(app, req: Request, tenant: str, rest: str) -> Response:
    """Auth checks, then the handler of the first matching route (404/405 when none)."""
    denied = check_api_access(app, req, tenant)
    if denied is not None:
        return denied
    for pattern, status in app.denied:  # after the app key: a wrong key fails everywhere first
        if pattern.fullmatch(rest.rstrip("/")):
            return (
                problem(403, "Forbidden", {"": ["The app is not granted the API scope of this endpoint."]})
                if status == 403
                else problem(404, "Not Found")
            )
    allowed = []
    for method, pattern, handler in API_ROUTES:
        match = pattern.fullmatch(rest.rstrip("/"))
        if match:
            if method == req.method:
                return handler(app, req, **match.groupdict())
            allowed.append(method)
    if allowed:
        return problem(405, "Method Not Allowed", headers={"Allow": ", ".join(allowed)})
    return problem(404, "Not Found", {"path": [f"No endpoint at {req.path}."]})


def throttled(app, seconds: int) -> Response:
    """A 429 as the API sends it: the wait in the title's word before last, and in `Retry-After` unless
    the sandbox is told to leave that header out (`retry_after_header`), as some of the API's answers do."""
    headers = {"Retry-After": str(seconds)} if app.retry_after_header else {}
    return problem(429, f"Rate limit is exceeded. Try again in {seconds} seconds.", headers=headers)


def maintenance() -> Response:
    """The API's answer during a maintenance window."""
    return problem(409, "The service is suspended for maintenance. Please try again later.")


def fault_response(app, fault: Fault) -> Response:
    """The answer that replaces the normal one for a 429/409/5xx fault."""
    if fault.kind == "429":
        return throttled(app, fault.retry_after)
    if fault.kind == "409":
        return maintenance()
    if fault.kind == "500":
        return problem(500, "Internal Server Error")
    return gateway_error(int(fault.kind))


def serve_api(app, req: Request, tenant: str, rest: str) -> tuple[Response | None, str | None]:
    """Answer an API request as the real gateway would; (None, "reset") means drop the connection."""
    if app.in_maintenance():
        return maintenance(), "maintenance"
    fault = app.faults.draw(req.path)
    if fault is not None and fault.kind == "slow":
        time.sleep(fault.delay)
    elif fault is not None and fault.kind in BEFORE_ANSWER:
        return (None if fault.kind == "reset" else fault_response(app, fault)), fault.kind
    if not app.limiter.allow():
        return throttled(app, 1), "rate_limit"
    return route_api(app, req, tenant, rest), (fault.kind if fault else None)


class SandboxHandler(BaseHTTPRequestHandler):
    """One connection: keep-alive HTTP/1.1, Content-Length bodies."""

    protocol_version = "HTTP/1.1"
    server_version = "ServiceTitanSandbox/1.0"
    timeout = 300  # idle keep-alive connections are closed after this

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        super().finish()

    def log_message(self, format, *args) -> None:  # noqa: A002 - silence the default stderr log
        pass

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        app = self.server.app
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        req = Request(
            self.command,
            url.path,
            parse_qs(url.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        fault = None
        try:
            if req.path == "/connect/token":
                app._count_token_request()
                resp = token_endpoint(app, req)
            elif req.path.startswith("/_sandbox/"):
                resp = admin.handle(app, req)
            elif match := API_PREFIX.match(req.path):
                resp, fault = serve_api(app, req, match["tenant"], match["rest"])
            else:
                resp = problem(404, "Not Found")
        except Exception as exc:  # a sandbox bug: answer it visibly instead of dropping the connection
            traceback.print_exc()
            resp = problem(500, "Sandbox internal error", {"detail": [repr(exc)]})
        if not req.path.startswith("/_sandbox/"):
            app._log_request(req, resp.status if resp else None, fault)
        if resp is None:  # "reset": drop the connection without an answer (RST)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self._send(resp, fault)

    def _send(self, resp: Response, fault: str | None) -> None:
        body, length = resp.body, len(resp.body)
        if fault == "badjson":
            body = body[: max(1, len(body) // 2)]
            length = len(body)
        elif fault == "truncate":
            body = body[: len(body) // 2]
            self.close_connection = True
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        lines = [
            f"HTTP/1.1 {resp.status} {reason}",
            f"Date: {formatdate(usegmt=True)}",
            f"Server: {self.server_version}",
            f"Content-Type: {resp.content_type}",
            f"Content-Length: {length}",
        ]
        lines += [f"{k}: {v}" for k, v in resp.headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        except OSError:
            self.close_connection = True


class SandboxServer(ThreadingHTTPServer):
    """Threaded HTTP server that knows its sandbox (`app`) and can close open connections."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app) -> None:
        self.app = app
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__(address, SandboxHandler)

    def track(self, conn: socket.socket, is_open: bool) -> None:
        """Remember open connections so that `close_connections` can end them."""
        with self._conns_lock:
            (self._conns.add if is_open else self._conns.discard)(conn)

    def close_connections(self) -> None:
        """End every open connection (idle keep-alive ones included)."""
        with self._conns_lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
