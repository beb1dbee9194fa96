"""Settings read from the environment (the public contract in the README)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlparse

DEFAULT_API_URL = "https://api.servicetitan.io"
DEFAULT_AUTH_URL = "https://auth.servicetitan.io/connect/token"
DEFAULT_DUCKDB_PATH = "data/crm.duckdb"

_REQUIRED = (
    "SERVICETITAN_CLIENT_ID",
    "SERVICETITAN_CLIENT_SECRET",
    "SERVICETITAN_APP_KEY",
    "SERVICETITAN_TENANT_ID",
)


class SettingsError(ValueError):
    """A setting is missing or unusable; the message names it and says how to fix it."""


def _check_url(name: str, url: str) -> str:
    parsed = urlparse(url)
    loopback = parsed.hostname in ("localhost", "127.0.0.1", "::1")
    if parsed.scheme == "https" or (parsed.scheme == "http" and loopback):
        return url.rstrip("/")
    raise SettingsError(
        f"{name}={url!r} is refused: credentials are only sent over https "
        "(plain http is allowed for localhost only, e.g. the sandbox)."
    )


@dataclass(frozen=True)
class Settings:
    client_id: str
    client_secret: str = field(repr=False)
    app_key: str = field(repr=False)
    tenant_id: str
    api_url: str = DEFAULT_API_URL
    auth_url: str = DEFAULT_AUTH_URL
    duckdb_path: str = DEFAULT_DUCKDB_PATH

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", _check_url("SERVICETITAN_API_URL", self.api_url))
        object.__setattr__(self, "auth_url", _check_url("SERVICETITAN_AUTH_URL", self.auth_url))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log, a message or the database."""
        return tuple(s for s in (self.client_secret, self.app_key) if s)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        env = dict(os.environ if env is None else env)
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            raise SettingsError(
                f"Missing setting(s): {', '.join(missing)}. Export them in the environment "
                "(see README, 'Settings'); for the local sandbox run `python -m crm_pipeline.sandbox`, "
                "which prints the values to use."
            )
        return cls(
            client_id=env["SERVICETITAN_CLIENT_ID"],
            client_secret=env["SERVICETITAN_CLIENT_SECRET"],
            app_key=env["SERVICETITAN_APP_KEY"],
            tenant_id=env["SERVICETITAN_TENANT_ID"],
            api_url=env.get("SERVICETITAN_API_URL") or DEFAULT_API_URL,
            auth_url=env.get("SERVICETITAN_AUTH_URL") or DEFAULT_AUTH_URL,
            duckdb_path=env.get("CRM_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH,
        )
