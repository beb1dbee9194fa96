"""How a ServiceTitanClient behaves: its budget, retries and timeouts, one value (the resource builds it)."""

from __future__ import annotations

from dataclasses import dataclass

from .retry import MAX_MAINTENANCE_SECONDS, MAX_THROTTLE_SECONDS


@dataclass(frozen=True, kw_only=True)
class ClientOptions:
    """``rate_limit_dir``: a folder where every client of this API and tenant on this machine (all
    threads, steps and runs) shares one ``rate_limit`` budget through a small file; None: the client's
    own budget. ``rate_limit_postgres``: a libpq connection string; the budget then lives in that
    database, shared by the clients of every machine (before ``rate_limit_dir``). ``share_token``: reuse
    this process's access token for these credentials and tenant instead of fetching one per client."""

    rate_limit: float | None = 60.0
    max_attempts: int = 8
    max_retry_seconds: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_throttle_seconds: float = MAX_THROTTLE_SECONDS
    max_maintenance_seconds: float = MAX_MAINTENANCE_SECONDS
    read_timeout: float = 130.0
    connect_timeout: float = 10.0
    rate_limit_dir: str | None = None
    rate_limit_postgres: str | None = None
    share_token: bool = False
