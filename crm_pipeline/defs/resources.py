"""Dagster resources: the ServiceTitan client and the DuckDB file, both configured from the environment.

With the location wiring (defs/location.py) this is where the Dagster layer reads the environment: at run
time here, at load there; what is read goes down as values."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from dagster import ConfigurableResource, InitResourceContext, get_dagster_logger
from dagster_duckdb import DuckDBResource
from pydantic import Field, PrivateAttr

from crm_pipeline.defs.servicetitan.automation_settings import export_interval
from crm_pipeline.defs.servicetitan.walk_settings import WalkSettings
from crm_pipeline.ingest import SharedFileStore
from crm_pipeline.servicetitan import ClientOptions, ServiceTitanClient
from crm_pipeline.servicetitan.ratelimit import rate_limit_folder
from crm_pipeline.servicetitan.retry import MAX_MAINTENANCE_SECONDS, MAX_THROTTLE_SECONDS
from crm_pipeline.settings import (
    DEFAULT_DUCKDB_PATH,
    Settings,
    duckdb_storage_version,
    history_enabled,
    is_off,
)
from crm_pipeline.storage.lake import (
    DATA_PATH_SETTING,
    LAKE_PREFIX,
    connect_lake,
    is_lake_path,
    lake_cursor,
    object_store_settings,
)
from crm_pipeline.storage.locking import (
    DEFAULT_LOCK_TIMEOUT,
    DuckDBLockTimeout,
    publish_copy,
    readonly_copy_path,
)
from crm_pipeline.storage.privacy import Access, secure_database
from crm_pipeline.storage.sharing import Setup, SharedFile, is_shareable
from crm_pipeline.storage.tuning import (
    RAW_TABLE_MEMORY_LIMIT,
    tune_for_lake_raw_tables,
    tune_for_raw_tables,
    writer_config,
)

_SECURED: set[str] = set()  # the files this process made private already

# The concurrency pool of every step that opens the DuckDB file (no limit in the shipped
# dagster_home/dagster.yaml: the resource's wait-for-lock keeps one writer at a time; see that file).
DUCKDB_POOL = "crm_duckdb"


class ServiceTitanResource(ConfigurableResource):
    """Opens a ServiceTitan client; credentials and URLs come from the SERVICETITAN_* variables at run
    time."""

    rate_limit: float = Field(default=60.0, description="The tenant's budget's ceiling, requests/s.")
    max_throttle_seconds: float = Field(
        default=MAX_THROTTLE_SECONDS,
        description="How long one request may be throttled (429s) before it gives up.",
    )
    max_maintenance_seconds: float = Field(
        default=MAX_MAINTENANCE_SECONDS,
        description="How long one request waits out a maintenance window (409s).",
    )

    def settings(self, tenant: str | None = None) -> Settings:
        """The settings of the environment; of one of SERVICETITAN_TENANTS when `tenant` is given."""
        return Settings.from_env(tenant=tenant)

    @contextmanager
    def client(self, tenant: str | None = None) -> Iterator[ServiceTitanClient]:
        """A client whose requests share the tenant's rate limit with every other process: of every machine
        when the settings name a PostgreSQL (CRM_BUDGET_POSTGRES, a lake's catalog), else of this one (a file
        beside the DuckDB file); and whose token every client of this process shares."""
        settings = self.settings(tenant)
        options = ClientOptions(
            rate_limit=self.rate_limit,
            max_throttle_seconds=self.max_throttle_seconds,
            max_maintenance_seconds=self.max_maintenance_seconds,
            share_token=True,
            rate_limit_dir=rate_limit_folder(settings.duckdb_path),
            rate_limit_postgres=settings.budget_postgres,
        )
        with ServiceTitanClient(settings, options) as client:
            yield client


class CrmDuckDB(DuckDBResource):
    """The DuckDB file the pipeline writes (CRM_DUCKDB_PATH); its folder is created on first use.

    Every step of a process shares one handle on the file (SharedFile), which it opens only to
    commit and hands over within about a second when another process wants it; opening waits for
    the other process up to `lock_timeout_seconds`. After each run that opened it, a read-only copy
    is published at `readonly_copy` for analysts to query while runs write.
    """

    lock_timeout_seconds: float = Field(
        default=DEFAULT_LOCK_TIMEOUT,
        description="How long to wait for the file while another process holds it.",
    )
    readonly_copy: str | None = Field(
        default=None, description="Where to publish a read-only copy after each run; None: no copy."
    )
    raw_table_memory_limit: str | None = Field(
        default=None,
        description="DuckDB's memory limit while a raw table loads or is checked "
        f"(None: {RAW_TABLE_MEMORY_LIMIT}).",
    )
    lake_data_path: str | None = Field(
        default=None,
        description="A DuckLake's data folder or bucket (CRM_DUCKLAKE_DATA_PATH); DuckLake paths only.",
    )
    history: bool = Field(
        default=True,
        description="Keep every delivered version of a record in raw_history (CRM_HISTORY); False adds none.",
    )
    _opened: bool = PrivateAttr(default=False)

    def shared_file(self) -> SharedFile:
        """This process's handle on the file, shared by its steps and threads (its folder and files made
        private the first time)."""
        if is_shareable(self.database) and self.database not in _SECURED:
            secure_file(self.database)
            _SECURED.add(self.database)
        self._opened = True
        config = {"custom_user_agent": "dagster", **self.connection_config}
        lake = {}
        if is_lake_path(
            self.database
        ):  # a DuckLake: no file, no lock, no copy; writers at once (storage/lake.py)
            lake = {
                "connect": lambda: connect_lake(
                    self.database,
                    self.lake_data_path or os.environ.get(DATA_PATH_SETTING),
                    config,
                    object_store=object_store_settings(os.environ),
                ),
                "cursor": lake_cursor,
            }
        return SharedFile.of(
            self.database,
            config=config,
            timeout=self.lock_timeout_seconds,
            on_wait=lambda message, _: get_dagster_logger().info(message),
            **lake,
        )

    @contextmanager
    def get_connection(self):
        """The file with DuckDB's default settings (SQL models), this thread's alone for the block."""
        with self.shared_file().lease() as conn:
            yield conn

    @contextmanager
    def raw_table_connection(self):
        """A connection for a raw table's load or checks: memory capped, one thread (tune_for_raw_tables)."""
        with self.shared_file().lease(self._raw_table_setup()) as conn:
            yield conn

    def raw_table_store(self, tables: int = 1) -> SharedFileStore:
        """Where raw tables load (`tables` of them at once): the shared file, leased for each commit with
        the raw-table settings."""
        return SharedFileStore(self.shared_file(), self._raw_table_setup(tables))

    def _raw_table_setup(self, tables: int = 1) -> Setup:
        """The raw-table settings of this storage: a file's memory cap is not for a lake (storage.tuning)."""
        if is_lake_path(self.database):
            return tune_for_lake_raw_tables
        return raw_table_setup(self.raw_table_memory_limit, tables)

    def publish_readonly_copy(self) -> str | None:
        """Copy the file to `readonly_copy` now (holding the lease, so the copy is consistent)."""
        if not self.readonly_copy or not is_shareable(self.database):
            return None
        with self.get_connection() as conn:
            return publish_copy(conn, self.database, self.readonly_copy, access=data_access())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if not self._opened:
            return
        try:
            published = self.publish_readonly_copy()
        except (OSError, DuckDBLockTimeout) as error:  # the data is committed; only the copy is stale
            get_dagster_logger().warning(f"read-only copy not published ({error}); the previous one stays")
            return
        finally:
            self.shared_file().close()  # the run is over: the file goes back at once
        if published:
            get_dagster_logger().info(f"read-only copy published: {published}")


def export_interval_now() -> int:
    """CRM_EXPORT_INTERVAL_SECONDS as the environment has it now: for an export sensor built without the
    code location's value (a test's)."""
    return export_interval(os.environ)


def walk_settings_now() -> WalkSettings:
    """The parent walks' settings as the environment has them at a run's start: for list assets built
    without the code location's (a test's)."""
    return WalkSettings.from_env(os.environ)


def data_access() -> Access:
    """Who may read the files holding records (CRM_DATA_GROUP), as the environment says when a run opens
    or copies the file."""
    return Access.from_env(os.environ)


def secure_file(database: str) -> Access:
    """Before `database` opens: its folder created private, the umask narrowed for the WAL, files and
    $DAGSTER_HOME's records tightened (storage.privacy), as the environment says now."""
    return secure_database(database, data_access(), dagster_home=os.environ.get("DAGSTER_HOME"))


@functools.cache
def raw_table_setup(memory_limit: str | None, tables: int = 1) -> Setup:
    """The settings of raw-table work, one object per limit (a lease re-applies them only on a change)."""
    return functools.partial(tune_for_raw_tables, memory_limit=memory_limit, tables=tables)


def _duckdb_from_env(env: Mapping[str, str]) -> CrmDuckDB:
    """CRM_DUCKDB_PATH, CRM_DUCKDB_READONLY_PATH (`off`: no copy), CRM_DUCKDB_LOCK_TIMEOUT_SECONDS and the
    rest of what the file's loads take (memory limit, storage format, the lake's data path, CRM_HISTORY)."""
    database = env.get("CRM_DUCKDB_PATH") or DEFAULT_DUCKDB_PATH
    # A MotherDuck database (`md:name`) is a shared service that readers query directly: no copy to publish.
    copy = env.get("CRM_DUCKDB_READONLY_PATH") or (
        "off" if database.startswith(("md:", LAKE_PREFIX)) else readonly_copy_path(database)
    )
    return CrmDuckDB(
        database=database,
        lock_timeout_seconds=float(env.get("CRM_DUCKDB_LOCK_TIMEOUT_SECONDS") or DEFAULT_LOCK_TIMEOUT),
        readonly_copy=None if is_off(copy) else copy,
        connection_config=writer_config(duckdb_storage_version(env)),
        raw_table_memory_limit=env.get("CRM_DUCKDB_MEMORY_LIMIT") or None,
        lake_data_path=env.get(DATA_PATH_SETTING) or None,
        history=history_enabled(env),
    )


def default_resources(env: Mapping[str, str] | None = None) -> dict:
    """The `servicetitan` and `duckdb` resources, the latter configured from `env` (default: os.environ)."""
    return {
        "servicetitan": ServiceTitanResource(),
        "duckdb": _duckdb_from_env(os.environ if env is None else env),
    }
