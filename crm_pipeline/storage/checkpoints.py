"""When a load writes its committed pages into the DuckDB file: once per row group of rows.

DuckDB keeps committed rows in its write-ahead log until a checkpoint writes them, compressed, into
the file; by default it checkpoints whenever the log passes 16 MB. Each checkpoint writes the table's
last row group (`ROW_GROUP` rows) whole, filled or not, so most rows were compressed and written
several times over. Loads therefore raise the threshold (`CHECKPOINT_BACKSTOP`, for very wide records
only) and checkpoint themselves every `ROW_GROUP` rows they write.

Rows, not bytes: the key index's entries added since the last checkpoint stay in memory and cannot be
evicted under the memory cap, so a large load would outgrow its memory limit. A checkpoint per row
group bounds them.
"""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.storage.history import superseded_table

ROW_GROUP = 122_880  # DuckDB's rows per row group
CHECKPOINT_BACKSTOP = "256MB"  # the log size that still triggers DuckDB's own checkpoint during a load
# A checkpoint pins blocks for the column segments of each table it writes: a wide raw table and its
# history's superseded table, both changed since the last one, need more than a load's memory cap, and a
# failed checkpoint is fatal to the database instance. So one runs with at least this much per column of
# the tables it writes (a 70-column pair needed 34 to 40 MB) and a base; not more, as DuckDB fills what it
# is allowed (peak RSS, docs/PERFORMANCE.md). A first load inserts new rows only: its checkpoints write
# the raw table alone, and count its columns alone.
CHECKPOINT_MEMORY_PER_COLUMN = 3 * 2**18  # 0.75 MiB
CHECKPOINT_MEMORY_BASE = 8 * 2**20
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def checkpoint(conn: duckdb.DuckDBPyConnection, endpoint: Endpoint, *, superseded: bool = True) -> None:
    """Write what was committed into the file (DuckDB's CHECKPOINT) with at least the memory it needs for
    the tables it writes: `endpoint`'s raw table, and its history's superseded table unless `superseded`
    is False (no stored version was replaced since the last checkpoint), then the connection's own
    limit again."""
    tables = [endpoint.qualified_table, *([superseded_table(endpoint)] if superseded else [])]
    columns = conn.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND list_contains(?, schema_name || '.' || table_name)",
        [tables],
    ).fetchone()[0]
    need = CHECKPOINT_MEMORY_BASE + columns * CHECKPOINT_MEMORY_PER_COLUMN
    limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    number, _, unit = limit.partition(" ")
    if unit not in _UNITS or float(number) * _UNITS[unit] >= need:  # enough already (or not a size)
        conn.execute("CHECKPOINT")
        return
    conn.execute(f"SET memory_limit = '{need}B'")
    try:
        conn.execute("CHECKPOINT")
    finally:
        conn.execute(f"SET memory_limit = '{limit}'")


class Checkpoints:
    """Counts the rows a load commits and checkpoints after every ROW_GROUP of them (between transactions)."""

    def __init__(self, endpoint: Endpoint, *, enabled: bool = True) -> None:
        self.endpoint = endpoint
        self.enabled, self.pending = enabled, 0  # a DuckLake compacts in its maintenance asset instead
        self.superseded = False  # whether a commit since the last checkpoint may have replaced stored rows

    def committed(self, conn: duckdb.DuckDBPyConnection, rows: int, *, superseded: bool = True) -> None:
        """Note `rows` just committed on `conn` (`superseded` False: inserted as new, so no stored version
        went to the history); checkpoint once ROW_GROUP have been since the last checkpoint (a DuckLake
        compacts in its maintenance asset instead)."""
        if not self.enabled:
            return
        self.pending += rows
        self.superseded |= superseded
        if self.pending >= ROW_GROUP:
            checkpoint(conn, self.endpoint, superseded=self.superseded)
            self.pending, self.superseded = 0, False
