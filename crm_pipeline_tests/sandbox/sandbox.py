"""`Sandbox`: a local fake of the ServiceTitan CRM v2 API, served over real HTTP on loopback."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from .auth import Tokens
from .faults import Faults, RateLimiter
from .lists import ENDPOINTS, Lists
from .responses import Request
from .server import SandboxServer
from .store import Registry

TENANT_ID = "1234567890"
CLIENT_ID = "cid.sandbox-client-7f3a"
CLIENT_SECRET = "cs1.sandbox-secret-do-not-log-9c2e41"
APP_KEY = "ak1.sandbox-app-key-5b8d20"
WARM_ALL_UP_TO = 200_000  # build every store at start when they hold this many records in total


@dataclass(frozen=True)
class LoggedRequest:
    """One request seen by the sandbox (API and token endpoint; admin calls are not logged).
    status is None for a dropped connection; fault names the injected failure ("rate_limit" for
    the rate limit), else None."""

    method: str
    path: str
    query: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    fault: str | None = None
    at: float = 0.0  # time.monotonic() when the answer was sent


class Sandbox:
    """Fake ServiceTitan (auth + CRM v2 export feeds and list endpoints) on http://127.0.0.1:<port>; use as a
    context manager or call `close()`. Data is deterministic for a seed; see the project notes for the quirks.

    `sizes` sets store sizes by name; unset ones derive from "customers": the export stores
    (locations, customer_contacts, ...) and the list-only stores (customer_notes, contacts,
    contact_methods, booking_provider_tags, ...; see `list_records.LIST_SPECS`), built on first use."""

    tenant_id = TENANT_ID
    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET
    app_key = APP_KEY

    def __init__(
        self,
        seed: int = 7,
        sizes: dict[str, int] | None = None,
        page_size: int = 100,
        token_ttl: float = 900,
        rate_limit: float | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        warm: Iterable[str] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        if tenant_id is not None and tenant_id != TENANT_ID:  # another tenant: credentials of its own
            self.tenant_id, self.client_id = tenant_id, f"{CLIENT_ID}-{tenant_id}"
            self.client_secret = hashlib.sha256(f"{CLIENT_SECRET}:{tenant_id}".encode()).hexdigest()[:32]
        self.seed = seed
        self.registry = Registry(seed, sizes)
        self.lists = Lists(self.registry)
        self.page_size, self.token_ttl = page_size, token_ttl
        self.faults, self.tokens, self.limiter = Faults(), Tokens(), RateLimiter(rate_limit)
        self.token_salt = hashlib.sha256(f"{self.tenant_id}:{seed}".encode()).hexdigest()[:12]
        self.denied: list[tuple[re.Pattern, int]] = []  # (path pattern, status) of scopes the app lacks
        self.retry_after_header = True  # False: 429s carry their wait only in the problem's title
        self._maintenance_until = 0.0  # monotonic time a maintenance window ends
        self._log: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._token_requests = 0
        if warm is None:
            total = sum(store.size for store in self.registry.stores.values())
            warm = self.registry.stores if total <= WARM_ALL_UP_TO else ["customers"]
        for name in warm:  # serialize every record once now, so that pages are bytes joined
            self.registry.store(name).page(0, self.registry.store(name).size)
        self._server = SandboxServer((host, port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="servicetitan-sandbox",
            daemon=True,
        )
        self._thread.start()

    # -- addresses and settings ----------------------------------------------------------------
    @property
    def port(self) -> int:
        """The TCP port the sandbox listens on."""
        return self._server.server_address[1]

    @property
    def api_url(self) -> str:
        """Base URL of the API (the CRM lives under /crm/v2/tenant/{tenant}/...)."""
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def auth_url(self) -> str:
        """URL of the OAuth token endpoint."""
        return f"{self.api_url}/connect/token"

    def env(self) -> dict[str, str]:
        """The SERVICETITAN_* environment variables that point the pipeline at this sandbox."""
        return {
            "SERVICETITAN_CLIENT_ID": self.client_id,
            "SERVICETITAN_CLIENT_SECRET": self.client_secret,
            "SERVICETITAN_APP_KEY": self.app_key,
            "SERVICETITAN_TENANT_ID": self.tenant_id,
            "SERVICETITAN_API_URL": self.api_url,
            "SERVICETITAN_AUTH_URL": self.auth_url,
        }

    @property
    def rate_limit(self) -> float | None:
        """API requests per second before 429s (token bucket); None: unlimited."""
        return self.limiter.rate

    @rate_limit.setter
    def rate_limit(self, value: float | None) -> None:
        self.limiter.rate = value

    @property
    def maintenance_seconds(self) -> float:
        """Seconds left of the maintenance window (every API request answers 409 meanwhile)."""
        return max(0.0, self._maintenance_until - time.monotonic())

    @maintenance_seconds.setter
    def maintenance_seconds(self, value: float) -> None:
        self._maintenance_until = time.monotonic() + float(value)

    def in_maintenance(self) -> bool:
        return time.monotonic() < self._maintenance_until

    # -- data -------------------------------------------------------------------------------------
    def records(self, feed: str) -> list[dict]:
        """Every current record as served, sorted by id (fresh copies). A list path ("customers",
        "contacts/preferences", ...): what the list endpoint serves with active=Any and no filters.
        An export feed path ("export/customers") or export store name ("customer_contacts"): the
        export version. A list-only store name ("customer_notes"): its records as served."""
        key = feed.strip("/")
        if key in ENDPOINTS:
            return self.lists.records(key)
        if key in self.registry.stores or key.startswith("export/"):
            return self.registry.store(feed).records()
        return self.lists.collection(self.lists.store_name(key)).records()

    def child_records(self, path: str) -> list[tuple[dict, object]]:
        """(params, record) for every record of every parent of a parent-scoped list path
        ("customers/{id}/notes"): params like {"id": 123}; preferredtechnician records are
        {"technicianId": <int|None>}, one per parent."""
        return self.lists.child_records(path)

    def parents(self, path: str) -> list[dict]:
        """The parents a parent-scoped list path accepts, as path-parameter dicts, sorted by id."""
        return self.lists.parents(path)

    def change(self, feed: str, n: int = 10) -> list:
        """Give n existing records a new version (new modifiedOn = that store's now, changed values;
        export records sometimes inactive or merged); parents of list-only records (notes,
        contact methods, ...) are touched too. Takes an export feed path, list path or store name;
        returns the ids."""
        return self.lists.change(feed, n)

    def add(self, feed: str, n: int = 5, touch_parent: bool = True) -> list:
        """Create n new records (children under existing parents, which are touched unless not
        `touch_parent`: list-only children); returns their ids."""
        return self.lists.add(feed, n, touch_parent)

    def delete(self, feed: str, n: int = 3) -> list:
        """Remove n random records from the list endpoints (export feeds unchanged); parents of
        list-only records are touched. Returns the ids."""
        return self.lists.delete(feed, n)

    def restore(self, feed: str, ids) -> list:
        """Bring records deleted with `delete` back to the list endpoints, as new versions; returns their
        ids."""
        return self.lists.restore(feed, ids)

    def put(self, feed: str, record: dict, parent=None) -> None:
        """Insert or replace a raw record as is (needs an "id"; may lack or add fields, wrong types).
        `feed`: an export feed path, a list path or a store name; a new record of a list-only store goes
        under `parent`."""
        if feed.startswith("export/") or feed.strip("/") not in ENDPOINTS and feed in self.registry.stores:
            self.registry.store(feed).put(record)
        else:
            self.lists.put(feed, record, parent)

    def deny(self, path_pattern: str, status: int = 403) -> None:
        """Answer `status` (403: a scope the app lacks; 404: a gateway hiding the whole path) to every API
        request whose path under the tenant fully matches `path_pattern` (a regex: `customers/\\d+/notes`)."""
        if status not in (403, 404):
            raise ValueError("a denied path answers 403 or 404")
        self.denied.append((re.compile(path_pattern), int(status)))

    def allow_all(self) -> None:
        """No path denied any more."""
        self.denied = []

    def touch(self, feed: str, rid) -> None:
        """Give a record a new version that differs only by its modifiedOn (now), so that the next incremental
        walk brings it (a record `put` into an export store keeps the modifiedOn it was given)."""
        self.lists.touch(self.lists.store_name(feed), rid)

    # -- observation ------------------------------------------------------------------------------
    def expire_tokens(self) -> None:
        """Every token issued so far becomes invalid (the next API call gets a 401)."""
        self.tokens.expire_all()

    @property
    def request_log(self) -> list[LoggedRequest]:
        """Requests seen so far (a snapshot), oldest first."""
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget logged requests."""
        with self._log_lock:
            self._log.clear()

    @property
    def token_requests(self) -> int:
        """Number of POSTs to the token endpoint (successful or not)."""
        return self._token_requests

    def _log_request(self, req: Request, status: int | None, fault: str | None) -> None:
        query = {k: v[0] for k, v in req.query.items()}
        entry = LoggedRequest(req.method, req.path, query, status, fault, time.monotonic())
        with self._log_lock:
            self._log.append(entry)

    def _count_token_request(self) -> None:
        with self._log_lock:
            self._token_requests += 1

    # -- lifecycle --------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop serving and end open connections."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Sandbox(api_url={self.api_url!r}, tenant_id={self.tenant_id!r}, sizes={self.registry.sizes})"
