"""OAuth 2 client-credentials token endpoint and the checks every API request goes through."""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import parse_qs

from .responses import Request, Response, json_response, problem


class Tokens:
    """Issued bearer tokens: random opaque strings, each bound to a tenant, with an expiry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (tenant, monotonic expiry)

    def issue(self, tenant: str, ttl: float) -> str:
        """A new token valid for `ttl` seconds."""
        token = secrets.token_urlsafe(48)
        with self._lock:
            now = time.monotonic()
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}  # forget expired ones
            self._tokens[token] = (tenant, now + ttl)
        return token

    def tenant_of(self, token: str) -> str | None:
        """The tenant of a valid token; None when unknown or expired."""
        with self._lock:
            entry = self._tokens.get(token)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def expire_all(self) -> None:
        """Every token issued so far becomes invalid."""
        with self._lock:
            self._tokens.clear()


def _same(given: str, expected: str) -> bool:
    return secrets.compare_digest(given.encode(), expected.encode())


def token_endpoint(app, req: Request) -> Response:
    """`POST /connect/token` with a form body grant_type=client_credentials&client_id&client_secret."""
    if req.method != "POST":
        return problem(405, "Method Not Allowed")
    form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, 400)
    if not (
        _same(form.get("client_id", ""), app.client_id)
        and _same(form.get("client_secret", ""), app.client_secret)
    ):
        return json_response({"error": "invalid_client"}, 400)
    ttl = app.token_ttl
    token = app.tokens.issue(app.tenant_id, ttl)
    return json_response(
        {"access_token": token, "expires_in": int(ttl), "token_type": "Bearer", "scope": "tn.crm.v2"}
    )


def check_api_access(app, req: Request, tenant: str) -> Response | None:
    """401 without a valid bearer token, 403 without the right app key, 404 for another tenant."""
    auth = req.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    token_tenant = app.tokens.tenant_of(token.strip()) if scheme.lower() == "bearer" else None
    if token_tenant is None:
        return problem(
            401,
            "Unauthorized",
            {"Authorization": ["The bearer token is missing, unknown or expired."]},
            {"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    if not _same(req.headers.get("st-app-key", ""), app.app_key):
        return problem(
            403,
            "The app key is not valid.",
            {"ST-App-Key": ["The ST-App-Key header is missing or not valid."]},
        )
    if tenant != token_tenant:
        return problem(404, "Tenant not found", {"tenant": [f"Tenant {tenant!r} not found."]})
    return None
