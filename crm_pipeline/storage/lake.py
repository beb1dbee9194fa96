"""DuckLake with its catalog in PostgreSQL: the second storage, chosen by
CRM_DUCKDB_PATH=ducklake:postgres:<libpq>.

Tables are Parquet files under CRM_DUCKLAKE_DATA_PATH; the catalog (schemas, snapshots, file lists) lives in
PostgreSQL, so several processes write at once (conflicting commits are retried, see storage.backend) and
readers see committed snapshots without blocking anyone. DuckDB's `ducklake` and `postgres_scanner`
extensions are loaded from their PyPI packages (extra `lake`), never downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import re
import weakref
from collections.abc import Mapping
from pathlib import Path

import duckdb

from crm_pipeline.settings import LAKE_ON_POSTGRES

LAKE_PREFIX = "ducklake:"
PATH_SETTING = "CRM_DUCKDB_PATH"
DATA_PATH_SETTING = "CRM_DUCKLAKE_DATA_PATH"
CATALOG = "lake"  # the name the lake is attached under; the connection's default database
CONNECT_TIMEOUT_SECONDS = 10  # libpq's connect_timeout, unless the connection string sets one
_EXTENSIONS = {
    "ducklake": "duckdb_extension_ducklake",
    "postgres_scanner": "duckdb_extension_postgres_scanner",
    "httpfs": "duckdb_extension_httpfs",  # loaded only for data on object storage (s3://)
}
_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)
_URI_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")

# the connections connect_lake opened (see is_lake), each with its catalog's libpq string (catalog_of)
_lakes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class LakeUnavailable(RuntimeError):
    """The lake named by CRM_DUCKDB_PATH cannot be attached (wrong, unreachable, or extensions missing)."""


def is_lake_path(database: str) -> bool:
    return database.startswith(LAKE_PREFIX)


def is_lake(conn: duckdb.DuckDBPyConnection) -> bool:
    """Whether `conn` was opened by connect_lake (a set lookup: no query on the file path's hot loop)."""
    return conn in _lakes


def catalog_of(conn: duckdb.DuckDBPyConnection) -> str | None:
    """The libpq string of the PostgreSQL database holding the catalog of `conn`'s lake (None: no lake)."""
    return _lakes.get(conn)


def lake_cursor(conn: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of a lake connection (one per thread), using the lake like its connection."""
    cursor = conn.cursor()
    cursor.execute(f"USE {CATALOG}")
    _lakes[cursor] = _lakes[conn]
    return cursor


def redact(text: str) -> str:
    """`text` with any password of a libpq string or URI replaced by ***."""
    return _URI_PASSWORD.sub(r"\1***\3", _PASSWORD.sub(r"\1***", text))


def extension_file(name: str) -> Path:
    """The extension binary shipped by its PyPI package for this DuckDB version."""
    spec = importlib.util.find_spec(_EXTENSIONS[name])
    if spec is None or spec.origin is None:
        raise LakeUnavailable(
            f"{PATH_SETTING} names a DuckLake, but the {_EXTENSIONS[name]} package is missing: "
            "pip install 'crm-pipeline[lake]'"
        )
    path = Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    if not path.exists():
        raise LakeUnavailable(
            f"{path} missing: the {_EXTENSIONS[name]} package does not match duckdb {duckdb.__version__}"
        )
    return path


def _with_timeout(conninfo: str) -> str:
    """A key=value libpq string gets connect_timeout (an unreachable host fails in seconds, not minutes)."""
    if "://" in conninfo or "connect_timeout" in conninfo:
        return conninfo
    return f"{conninfo} connect_timeout={CONNECT_TIMEOUT_SECONDS}"


def connect_lake(
    database: str,
    data_path: str | None,
    config: dict | None = None,
    *,
    object_store: Mapping[str, str] | None = None,
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with the lake attached as `lake` and in use, so that unqualified
    names (raw_export.customers) resolve in the lake. `data_path`: CRM_DUCKLAKE_DATA_PATH; `object_store`:
    the credentials of data on s3:// (object_store_settings)."""
    if not data_path:
        raise LakeUnavailable(
            f"{PATH_SETTING} names a DuckLake: set {DATA_PATH_SETTING} to its data folder or bucket"
        )
    if not database.startswith(LAKE_ON_POSTGRES):
        raise LakeUnavailable(
            f"{PATH_SETTING}: only ducklake:postgres:<connection string> is supported as a lake"
        )
    target = _with_timeout(database)
    if "://" not in data_path:
        Path(data_path).mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(config={**(config or {}), "autoinstall_known_extensions": False})
    try:
        for name in ("ducklake", "postgres_scanner"):
            conn.execute(f"LOAD '{extension_file(name)}'")
        if data_path.startswith("s3://"):
            object_store_secret(conn, object_store or {})
            _probe_object_store(conn, data_path)
        conn.execute(f"ATTACH '{_literal(target)}' AS {CATALOG} (DATA_PATH '{_literal(data_path)}')")
        conn.execute(f"USE {CATALOG}")
        conn.execute("SET ducklake_max_retry_count = 100")  # writers at once: DuckLake's own commit retries
    except duckdb.Error as error:
        conn.close()
        raise LakeUnavailable(
            f"{PATH_SETTING}: cannot attach the DuckLake {redact(database)}: {redact(str(error))}"
        ) from None  # the original error repeats the connection string, password and all
    except LakeUnavailable:
        conn.close()
        raise
    _lakes[conn] = target[len(LAKE_ON_POSTGRES) :]
    return conn


# The standard AWS variables and the DuckDB secret option each one sets.
_AWS_SETTINGS = {
    "AWS_ACCESS_KEY_ID": "KEY_ID",
    "AWS_SECRET_ACCESS_KEY": "SECRET",
    "AWS_SESSION_TOKEN": "SESSION_TOKEN",
    "AWS_REGION": "REGION",
}
OBJECT_STORE_SETTINGS = (*_AWS_SETTINGS, "AWS_ENDPOINT_URL")


def object_store_settings(env: Mapping[str, str]) -> dict[str, str]:
    """The object store's settings of `env` (the AWS variables that are set)."""
    return {name: env[name] for name in OBJECT_STORE_SETTINGS if env.get(name)}


def object_store_secret(conn: duckdb.DuckDBPyConnection, env: Mapping[str, str]) -> None:
    """Load httpfs and create the connection's (temporary, in-memory) S3 secret from the AWS variables;
    AWS_ENDPOINT_URL names a store that is not AWS (an http:// one without TLS, path-style URLs)."""
    conn.execute(f"LOAD '{extension_file('httpfs')}'")
    options = [
        f"{option} '{_literal(env[variable])}'"
        for variable, option in _AWS_SETTINGS.items()
        if env.get(variable)
    ]
    endpoint = env.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.rstrip("/").partition("://")
        options += [f"ENDPOINT '{_literal(host or scheme)}'", "URL_STYLE 'path'"]
        options.append(f"USE_SSL {'false' if scheme == 'http' else 'true'}")
    # CREATE SECRET takes literals only (no parameters): quoted here; the statement never reaches a
    # message (connect_lake reports errors without it).
    statement = "CREATE OR REPLACE SECRET crm_lake_s3 (TYPE s3" + "".join(f", {o}" for o in options) + ")"
    conn.execute(statement)


def _probe_object_store(conn: duckdb.DuckDBPyConnection, data_path: str) -> None:
    """List the data path once: a wrong bucket or refused credentials fail here, at the start, naming the
    settings (DuckLake's ATTACH does not touch the store; the first write would fail mid-run)."""
    try:
        conn.execute("SELECT count(*) FROM glob(?)", [data_path.rstrip("/") + "/*"]).fetchone()
    except duckdb.Error as error:
        reason = " ".join(redact(str(error)).splitlines()[:3])
        raise LakeUnavailable(
            f"{DATA_PATH_SETTING}={data_path}: the object store refused it ({reason}); check the bucket, "
            "and the credentials of AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, "
            "AWS_REGION and AWS_ENDPOINT_URL"
        ) from None


def _literal(text: str) -> str:
    return text.replace("'", "''")
