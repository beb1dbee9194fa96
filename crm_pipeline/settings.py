"""Settings read from the environment (the public contract in the README)."""

from __future__ import annotations

import os
from collections.abc import Mapping
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
# Several tenants (an agency): their ids, comma-separated. Each SERVICETITAN_* setting may then be given
# per tenant as `<NAME>__<TENANT_ID>` (e.g. SERVICETITAN_CLIENT_SECRET__1234), else the plain one is used.
TENANTS_VAR = "SERVICETITAN_TENANTS"


def tenant_ids(env: dict[str, str] | None = None) -> list[str]:
    """The tenants of SERVICETITAN_TENANTS, in order, without repeats; [] when it is not set (one tenant)."""
    raw = (os.environ if env is None else env).get(TENANTS_VAR) or ""
    return list(dict.fromkeys(t.strip() for t in raw.split(",") if t.strip()))


def _per_tenant(env: dict[str, str], tenant: str) -> dict[str, str]:
    """`env` seen from one tenant: its `<NAME>__<tenant>` values win over the plain ones."""
    suffix = f"__{tenant}"
    own = {k[: -len(suffix)]: v for k, v in env.items() if k.endswith(suffix) and v}
    return {**env, **own, "SERVICETITAN_TENANT_ID": tenant}


BUDGET_POSTGRES_VAR = "CRM_BUDGET_POSTGRES"
LAKE_ON_POSTGRES = "ducklake:postgres:"


def budget_postgres(env: dict[str, str]) -> str | None:
    """CRM_BUDGET_POSTGRES, else the catalog of a DuckLake on PostgreSQL: the database where every
    machine shares the tenants' request budgets (None: each machine's own file)."""
    if env.get(BUDGET_POSTGRES_VAR):
        return env[BUDGET_POSTGRES_VAR]
    path = env.get("CRM_DUCKDB_PATH") or ""
    return path[len(LAKE_ON_POSTGRES) :] or None if path.startswith(LAKE_ON_POSTGRES) else None


class SettingsError(ValueError):
    """A setting is missing or unusable; the message names it and says how to fix it."""


OFF_WORDS = ("off", "none")  # what switches off any setting that can be switched off


def is_off(value: str | None) -> bool:
    """Whether a setting's value switches it off (`off` or `none`, in any case)."""
    return (value or "").strip().lower() in OFF_WORDS


def switch(env: Mapping[str, str], name: str, *, default: bool = True) -> bool:
    """An on/off setting: `on`, or an off word (is_off); unset or empty: `default`."""
    value = (env.get(name) or "").strip().lower()
    if not value:
        return default
    if value == "on" or is_off(value):
        return value == "on"
    raise SettingsError(f"{name}={value!r}: expected `on` or `off` (default `{'on' if default else 'off'}`).")


def seconds(env: Mapping[str, str], name: str, default: int) -> int:
    """A setting in whole seconds (a fraction is cut off); unset or empty: `default`."""
    raw = env.get(name) or str(default)
    try:
        value = int(float(raw))
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{name}={raw!r} is not a number of seconds (default {default}).")
    return value


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
    # Where the tenant's request budget is shared by every machine (a libpq string; may hold a password).
    budget_postgres: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", _check_url("SERVICETITAN_API_URL", self.api_url))
        object.__setattr__(self, "auth_url", _check_url("SERVICETITAN_AUTH_URL", self.auth_url))

    @property
    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a log, a message or the database."""
        return tuple(s for s in (self.client_secret, self.app_key) if s)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, tenant: str | None = None) -> Settings:
        """The settings of the environment, or of one of its SERVICETITAN_TENANTS (per-tenant values
        first)."""
        env = dict(os.environ if env is None else env)
        if tenant is not None:
            env = _per_tenant(env, tenant)
        missing = [name for name in _REQUIRED if not env.get(name)]
        if missing:
            where = f" for tenant {tenant} (as <NAME>__{tenant} or <NAME>)" if tenant else ""
            raise SettingsError(
                f"Missing setting(s){where}: {', '.join(missing)}. Export them in the environment "
                "(see README, 'Settings'); for the local sandbox run `python -m crm_pipeline_tests.sandbox`, "
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
            budget_postgres=budget_postgres(env),
        )


HISTORY_VAR = "CRM_HISTORY"


def history_enabled(env: Mapping[str, str]) -> bool:
    """CRM_HISTORY: `on` (default) keeps every delivered version in `raw_history`; `off` keeps none."""
    return switch(env, HISTORY_VAR)


STORAGE_VERSION_VAR = "CRM_DUCKDB_STORAGE_VERSION"
DEFAULT_STORAGE_VERSION = (
    "v1.2.0"  # storage 65: read by DuckDB 1.2 to 1.5 (CLI, Python, JDBC/DBeaver) and later
)


def duckdb_storage_version(env: dict[str, str] | None = None) -> str:
    """CRM_DUCKDB_STORAGE_VERSION: the DuckDB release whose readers a newly created file must suit
    (`v1.1.0`, ...; `latest`: the running DuckDB's own format, which older readers refuse)."""
    value = ((os.environ if env is None else env).get(STORAGE_VERSION_VAR) or DEFAULT_STORAGE_VERSION).strip()
    if value != "latest" and not (value.startswith("v") and value[1:].replace(".", "").isdigit()):
        raise SettingsError(
            f"{STORAGE_VERSION_VAR} must be a DuckDB release such as v1.1.0, or latest; not {value!r}"
        )
    return value
