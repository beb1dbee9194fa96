"""A raw table's Dagster data version: it changes exactly when the pipeline wrote rows or marked deletions.

Every upsert stamps `_synced_at = now()`, a whole walk stamps `_deleted_at`, so (rows, latest
`_synced_at`, latest `_deleted_at`) moves with every change and stays put when a run found nothing
new. SQL models rebuild on a changed data version, not on every materialization.
"""

from __future__ import annotations

import hashlib

import duckdb
from dagster import DataVersion

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage.tables import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, TENANT_COLUMN


def table_version(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, tenant_id: str) -> DataVersion:
    """The data version of `endpoint`'s raw table for one tenant."""
    deleted = f"max({DELETED_AT_COLUMN})" if endpoint.marks_deletions else "NULL"
    row = conn.execute(
        f"SELECT count(*), max({SYNCED_AT_COLUMN}), {deleted} FROM {endpoint.qualified_table} "
        f"WHERE {TENANT_COLUMN} = ?",
        [tenant_id],
    ).fetchone()
    return DataVersion(hashlib.sha256(repr(tuple(map(str, row))).encode()).hexdigest()[:20])
