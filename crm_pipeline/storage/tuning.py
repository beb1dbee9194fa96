"""DuckDB's settings for the pipeline's connections, and for the steps that load and check raw tables."""

from __future__ import annotations

import re

import duckdb

from crm_pipeline.storage.checkpoints import CHECKPOINT_BACKSTOP
from crm_pipeline.storage.compat import storage_config

RAW_TABLE_MEMORY_LIMIT = "32MB"
_MEMORY_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B)", re.IGNORECASE)


def writer_config(storage_version: str) -> dict[str, str]:
    """DuckDB settings for the pipeline's connections: freed memory given back to the system, and a new
    file created in `storage_version`'s format, one the analysts' tools read (crm_pipeline.storage.compat)."""
    return {
        "allocator_flush_threshold": "8MB",
        "allocator_bulk_deallocation_flush_threshold": "8MB",
        **storage_config(storage_version),
    }


def tune_for_raw_tables(
    conn: duckdb.DuckDBPyConnection, memory_limit: str | None = None, tables: int = 1
) -> None:
    """Set DuckDB up for the steps of one raw table: its load and its checks. SQL models keep DuckDB's
    defaults (their joins ran out of memory under the cap). The settings end with the connection's
    database instance, closed after the step. Measured with scripts/benchmark.py (docs/PERFORMANCE.md).

    - Memory capped (CRM_DUCKDB_MEMORY_LIMIT, default 32MB, for each of the `tables` a step loads at
      once: each table being loaded keeps its unwritten column segments in memory), so that a run's
      memory stays the same however big the tables grow: beyond it DuckDB evicts cached blocks, and the
      key check's aggregation spills to disk (capped, no slower: docs/PERFORMANCE.md).
    - One thread: a page's insert is small, and DuckDB's worker threads would take the second core
      from the thread that fetches and validates the next page.
    - DuckDB's own checkpoints only past CHECKPOINT_BACKSTOP of log: the loads checkpoint once per row
      group themselves (crm_pipeline.storage.checkpoints)."""
    limit = (memory_limit or RAW_TABLE_MEMORY_LIMIT).strip()
    size = _MEMORY_SIZE.fullmatch(limit)
    if not size:
        raise ValueError(f"CRM_DUCKDB_MEMORY_LIMIT must be a size such as 32MB or 1GB, not {limit!r}")
    conn.execute(f"SET memory_limit = '{float(size.group(1)) * max(tables, 1):g}{size.group(2)}'")
    conn.execute("SET threads = 1")
    conn.execute(f"SET checkpoint_threshold = '{CHECKPOINT_BACKSTOP}'")


def tune_for_lake_raw_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The raw-table settings for a DuckLake connection: one thread (as for a file), no memory cap. The
    connection is an in-memory database that lives for the process, holding the catalog, the extensions'
    state and the SQL models' work: a cap sized for one table cannot be set on it (DuckDB refuses to
    lower the limit below what it holds), and the lake's writes go to Parquet files, not to a cache."""
    conn.execute("SET threads = 1")
