"""The ServiceTitan CRM v2 client: one keep-alive connection pool, safe to share across threads."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from typing import Any

import httpx

from ..fastjson import parse_export_body, parse_json
from ..settings import Settings
from . import paging
from .answers import transient
from .auth import TokenManager, shared_token_cache
from .errors import ClientClosed, describe_body
from .maintenance import MAINTENANCE_NOTICE
from .options import ClientOptions
from .paging import ExportPage, ListPage
from .ratelimit import Slot, open_budget
from .refusals import Refusal, refusal_error
from .retry import Retry, RetryPolicy, Stats
from .scopes import probe_paths_for

log = logging.getLogger("crm_pipeline.servicetitan")

POOL_SIZE = 32  # comfortably above the ~16 threads that may share one client


class ServiceTitanClient:
    """Authenticated, rate-limited, retrying access to ``{api_url}/crm/v2/tenant/{tenant}/``.

    Paths are relative to that base (``"export/customers"``, ``"customers"``). Transient problems
    (429, 500/502/503/504, timeouts, connection errors, cut-off or non-JSON 200 bodies) are retried
    with exponential backoff and full jitter; other errors raise an
    :class:`~crm_pipeline.servicetitan.errors.ApiError` subclass at once. Use as a context manager
    or call :meth:`close`.

    ``options`` say how it behaves (budget, retries, timeouts); each keyword of ``changes`` replaces the
    ClientOptions field of that name (``ServiceTitanClient(settings, rate_limit=None)``).
    """

    def __init__(self, settings: Settings, options: ClientOptions | None = None, **changes: Any) -> None:
        options = replace(options or ClientOptions(), **changes)
        self.settings = settings
        self.base_path = f"/crm/v2/tenant/{settings.tenant_id}/"
        self._base_url = f"{settings.api_url}{self.base_path}"
        self._closed = threading.Event()
        self._stats = Stats()
        self._limiter = open_budget(
            options.rate_limit,
            api_url=settings.api_url,
            tenant_id=settings.tenant_id,
            folder=options.rate_limit_dir,
            postgres=options.rate_limit_postgres,
            stop=self._closed,
        )
        tenant_key = f"{settings.api_url} tenant {settings.tenant_id}"
        self._policy = RetryPolicy(
            max_attempts=options.max_attempts,
            max_retry_seconds=options.max_retry_seconds,
            backoff_base=options.backoff_base,
            backoff_cap=options.backoff_cap,
            max_throttle_seconds=options.max_throttle_seconds,
            max_maintenance_seconds=options.max_maintenance_seconds,
            stats=self._stats,
            closed=self._closed,
            rate_now=lambda: self._limiter.rate,
            on_maintenance=lambda in_window: MAINTENANCE_NOTICE.update(
                tenant_key, in_window=in_window, limit=options.max_maintenance_seconds
            ),
        )
        self._http = httpx.Client(
            http1=True,
            timeout=httpx.Timeout(
                options.read_timeout, connect=options.connect_timeout, pool=options.read_timeout
            ),
            limits=httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE),
            headers={"Accept": "application/json", "User-Agent": "crm-pipeline/0.1"},
            follow_redirects=False,
        )
        cache = shared_token_cache(settings) if options.share_token else None
        self._auth = TokenManager(settings, self._http, self._policy, cache=cache)

    def __repr__(self) -> str:
        state = "closed" if self._closed.is_set() else "open"
        settings = self.settings
        return f"ServiceTitanClient(api_url={settings.api_url!r}, tenant_id={settings.tenant_id!r}, {state})"

    def __enter__(self) -> ServiceTitanClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop pending waits and close the connection pool. Safe to call twice."""
        if not self._closed.is_set():
            self._closed.set()
            self._http.close()
            self._limiter.close()

    @property
    def stats(self) -> dict:
        """Counters so far: requests, retries, token_requests, transport_errors, by_status,
        throttled_seconds."""
        return self._stats.snapshot()

    @property
    def rate(self) -> float | None:
        """The requests/s the tenant's budget allows now (learned from 429s); None: no limit."""
        return self._limiter.rate

    def get_json(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET ``path`` (relative to the tenant base) and return the parsed JSON (object, array or value)."""
        return self._get(path, params)

    def export_pages(
        self,
        path: str,
        start: str | None = None,
        *,
        include_recent_changes: bool = False,
        raw_records: bool = False,
        stop: threading.Event | None = None,
    ) -> Iterator[ExportPage]:
        """Walk an export feed from ``start`` (a continueFrom token, a date, or None for the beginning).

        Yields every page, ending with the first one whose ``has_more`` is false. With ``raw_records``,
        a page's records are usually left as their JSON text (``msgspec.Raw``; see
        ``parse_export_body``), for crm_pipeline.validation.records to parse and type in one go.
        ``stop`` ends the waits and retries of the request in flight (a caller that gives up early)."""
        parse = parse_export_body if raw_records else parse_json
        get = functools.partial(self._get, parse=parse)
        return paging.export_pages(get, path, start, include_recent_changes=include_recent_changes, stop=stop)

    def list_pages(
        self, path: str, params: Mapping[str, Any] | None = None, page_size: int = 5000
    ) -> Iterator[ListPage]:
        """Walk a paged list endpoint from page 1 until ``hasMore`` is false."""
        return paging.list_pages(self._get, path, params, page_size=page_size)

    # -- one logical request -------------------------------------------------------------------

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        stop: threading.Event | None = None,
        *,
        parse: Callable[[bytes], Any] = parse_json,
    ) -> dict:
        if self._closed.is_set():
            raise ClientClosed("the ServiceTitan client is closed")
        rel = path.lstrip("/")
        query = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        what = f"GET {self.base_path}{rel}"
        state = {"renewed": False}
        return self._policy.run(
            what,
            lambda: self._attempt(what, self._base_url + rel, query, state=state, stop=stop, parse=parse),
            stop=stop,
        )

    def _attempt(
        self,
        what: str,
        url: str,
        query: dict,
        *,
        state: dict,
        stop: threading.Event | None,
        parse: Callable[[bytes], Any],
    ) -> dict:
        while True:  # loops at most twice: once more after renewing a refused token
            slot = self._limiter.acquire(stop)
            self._stats.throttled(slot.waited)
            token = self._auth.token(stop)  # after the wait for a slot, which can outlast a short-lived token
            if self._closed.is_set() or (stop is not None and stop.is_set()):
                raise ClientClosed(f"{what}: the client was closed or the walk was stopped")
            headers = {"Authorization": f"Bearer {token}", "ST-App-Key": self.settings.app_key}
            self._stats.add("requests")
            began = time.monotonic()
            try:
                resp = self._http.get(url, params=query, headers=headers)
            except httpx.TransportError as exc:
                self._stats.add("transport_errors")
                raise Retry(f"{type(exc).__name__}: {self._auth.scrub(str(exc))[:160]}") from None
            except RuntimeError:
                if self._closed.is_set():  # httpx refuses requests on a closed client
                    raise ClientClosed(f"{what}: the client was closed") from None
                raise
            status = resp.status_code
            self._stats.status(status)
            self._learn(slot, status)
            log.debug("%s -> %d in %.0f ms", what, status, 1000 * (time.monotonic() - began))
            if status == 401 and not state["renewed"]:
                state["renewed"] = True
                log.info("%s: access token refused (401); renewing it once", what)
                self._auth.invalidate(token)
                continue
            return self._answer(what, query, resp, parse=parse)

    def _answer(self, what: str, query: dict, resp: httpx.Response, *, parse: Callable[[bytes], Any]) -> dict:
        status = resp.status_code
        if status == 200:
            try:
                doc = parse(resp.content)
            except ValueError:
                size = len(resp.content)
                raise Retry(
                    f"HTTP 200 with a body that is not JSON ({size} bytes, cut off?)", status=200
                ) from None
            return doc
        summary, title, trace = describe_body(resp.content, resp.headers.get("content-type", ""))
        summary = self._auth.scrub(summary)
        retry = transient(resp, summary=summary, title=title)
        if retry is not None:
            raise retry
        scrubbed = {k: self._auth.scrub(v) for k, v in query.items()}
        refusal = Refusal(what, scrubbed, status, summary=summary, title=title, trace=trace)
        raise refusal_error(
            refusal, settings=self.settings, base_path=self.base_path, key_works=lambda: self._key_works(what)
        )

    def _learn(self, slot: Slot, status: int) -> None:
        if self._limiter.answered(slot, throttled=status == 429):
            log.info(
                "the server throttles: requests to tenant %s now at %.1f/s",
                self.settings.tenant_id,
                self._limiter.rate or 0.0,
            )

    def _key_works(self, refused: str) -> bool:
        """Whether the app key is accepted: some answer of this client was 200, or else one of a few
        endpoints of other scopes answers 200 now (the 403 may be the first answer of a run whose
        endpoints start side by side: decided from the tenant, not from the order of answers)."""
        if self._stats.snapshot()["by_status"].get(200, 0) > 0:
            return True
        return any(self._answers_ok(path) for path in probe_paths_for(refused))

    def _answers_ok(self, path: str) -> bool:
        """One small GET of ``path`` (retried like any request): True if it answers 200."""

        def attempt() -> bool:
            slot = self._limiter.acquire()
            headers = {"Authorization": f"Bearer {self._auth.token()}", "ST-App-Key": self.settings.app_key}
            self._stats.add("requests")
            try:
                resp = self._http.get(self._base_url + path, params={"pageSize": 1}, headers=headers)
            except httpx.TransportError as exc:
                raise Retry(f"{type(exc).__name__} while checking the app key") from None
            self._stats.status(resp.status_code)
            self._learn(slot, resp.status_code)
            retry = transient(resp, summary=f"HTTP {resp.status_code}", title=None)
            if retry is not None:
                raise retry
            return resp.status_code == 200

        return self._policy.run(f"GET {self.base_path}{path} (checking the app key)", attempt)


def _param(value: Any) -> str:
    """Query values as the API expects them (booleans lower-case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
