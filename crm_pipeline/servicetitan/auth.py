"""OAuth 2 client-credentials tokens: fetched once, cached, renewed shortly before they expire."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time

import httpx

from ..settings import Settings
from .answers import transient
from .errors import ApiError, CredentialsRejected, UnexpectedResponse, describe_body
from .retry import Retry, RetryPolicy

log = logging.getLogger("crm_pipeline.servicetitan")

RENEW_MARGIN_SECONDS = 60.0
RENEW_MARGIN_FRACTION = 0.1
DEFAULT_TTL_SECONDS = 900.0


class TokenCache:
    """One credential's current access token and every token it had, in memory only."""

    def __init__(self) -> None:
        self.lock = threading.Lock()  # held by the one thread that renews; the others wait and reuse
        self.current: tuple[str, float] | None = None  # (token, monotonic renew time), swapped atomically
        self.seen: list[str] = []

    def __repr__(self) -> str:
        return f"TokenCache(has_token={self.current is not None}, tokens_seen={len(self.seen)})"


_SHARED: dict[tuple[str, str, str, str], TokenCache] = {}
_SHARED_LOCK = threading.Lock()


def shared_token_cache(settings: Settings) -> TokenCache:
    """This process's token cache for ``settings``' credentials and tenant, made on first use.

    Keyed by the token URL, client id, a hash of the secret (a wrong secret must not borrow a good
    token) and the tenant: every client of one tenant in this process reuses one token.
    """
    secret = hashlib.sha256(settings.client_secret.encode()).hexdigest()
    key = (settings.auth_url, settings.client_id, secret, settings.tenant_id)
    with _SHARED_LOCK:
        return _SHARED.setdefault(key, TokenCache())


def forget_shared_tokens() -> None:
    """Drop every shared token of this process (after rotating credentials; tests start afresh with it)."""
    with _SHARED_LOCK:
        _SHARED.clear()


class TokenManager:
    """Hands out a valid access token to any thread; only one thread renews at a time.

    The token is renewed ``min(60 s, 10 % of its lifetime)`` before ``expires_in`` runs out, or
    when a caller reports it refused (:meth:`invalidate`). Past tokens are remembered (never shown)
    so that error messages can be scrubbed of them. With a shared ``cache`` (see
    :func:`shared_token_cache`) several clients use one token; each counts the token requests it sent.
    """

    def __init__(
        self, settings: Settings, http: httpx.Client, policy: RetryPolicy, *, cache: TokenCache | None = None
    ) -> None:
        self._settings = settings
        self._http = http
        self._policy = policy
        self._cache = cache or TokenCache()
        self._refused: CredentialsRejected | None = (
            None  # bad credentials: every later caller gets this at once
        )

    def __repr__(self) -> str:
        has_token = self._cache.current is not None
        return f"TokenManager(auth_url={self._settings.auth_url!r}, has_token={has_token})"

    @property
    def seen_tokens(self) -> tuple[str, ...]:
        """Every access token of this cache so far (for scrubbing messages; never log these)."""
        return tuple(self._cache.seen)

    def token(self, stop: threading.Event | None = None) -> str:
        """A token valid for a while yet; fetches or renews it when needed."""
        cache = self._cache
        current = cache.current
        if current is not None and time.monotonic() < current[1]:
            return current[0]
        with cache.lock:  # one thread renews, the others wait and reuse its token
            if self._refused is not None:
                raise self._refused
            current = cache.current
            if current is None or time.monotonic() >= current[1]:
                try:
                    current = cache.current = self._fetch(stop)
                except CredentialsRejected as refused:
                    self._refused = refused
                    raise
            return current[0]

    def invalidate(self, refused: str) -> None:
        """Forget ``refused`` (answered 401) unless another thread already replaced it."""
        with self._cache.lock:
            if self._cache.current is not None and self._cache.current[0] == refused:
                self._cache.current = None

    def _fetch(self, stop: threading.Event | None) -> tuple[str, float]:
        url = self._settings.auth_url
        issued = time.monotonic()
        doc = self._policy.run(f"POST {url}", self._attempt, stop=stop)
        token = doc.get("access_token")
        if not isinstance(token, str) or not token:
            raise UnexpectedResponse(
                f"POST {url} answered 200 without an access_token (keys: {sorted(doc)[:10]}); "
                "check SERVICETITAN_AUTH_URL points at the ServiceTitan token endpoint."
            )
        try:
            ttl = float(doc.get("expires_in") or DEFAULT_TTL_SECONDS)
        except (TypeError, ValueError):
            ttl = DEFAULT_TTL_SECONDS
        margin = min(RENEW_MARGIN_SECONDS, RENEW_MARGIN_FRACTION * ttl)
        self._cache.seen.append(token)
        log.debug("access token obtained from %s, valid for %.0f s", url, ttl)
        return token, issued + max(ttl - margin, 0.0)

    def _attempt(self) -> dict:
        s = self._settings
        self._policy.stats.add("token_requests")
        form = {
            "grant_type": "client_credentials",
            "client_id": s.client_id,
            "client_secret": s.client_secret,
        }
        try:
            resp = self._http.post(s.auth_url, data=form, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            self._policy.stats.add("transport_errors")
            raise Retry(
                f"{type(exc).__name__} from the token endpoint: {self.scrub(str(exc))[:160]}"
            ) from None
        status = resp.status_code
        if status == 200:
            try:
                doc = json.loads(resp.content)
            except ValueError:
                raise Retry("HTTP 200 with a body that is not JSON (cut off?)", status=200) from None
            if not isinstance(doc, dict):
                raise UnexpectedResponse(f"POST {s.auth_url} answered 200 with JSON that is not an object")
            return doc
        summary, title, trace = describe_body(resp.content, resp.headers.get("content-type", ""))
        summary = self.scrub(summary)
        retry = transient(resp, summary=summary, title=title, origin="from the token endpoint")
        if retry is not None:
            raise retry
        if status in (400, 401):
            raise CredentialsRejected(
                f"The client id/secret were refused by {s.auth_url} (HTTP {status}: {summary}). "
                "Check SERVICETITAN_CLIENT_ID and SERVICETITAN_CLIENT_SECRET (both belong to one tenant), "
                "and that SERVICETITAN_AUTH_URL is the environment (production or integration) "
                "they were issued for.",
                status=status,
                path=s.auth_url,
                title=title,
                trace_id=trace,
            )
        raise ApiError(
            f"POST {s.auth_url} answered HTTP {status} ({summary}); check SERVICETITAN_AUTH_URL.",
            status=status,
            path=s.auth_url,
            title=title,
            trace_id=trace,
        )

    def scrub(self, text: str) -> str:
        """``text`` with the client secret, app key and any access token replaced by ``***``."""
        for secret in (*self._settings.secrets, *self._cache.seen):
            if (
                len(secret) >= 4
            ):  # real credentials are long; a 1-letter test value would garble every message
                text = text.replace(secret, "***")
        return text
