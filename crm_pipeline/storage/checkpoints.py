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

ROW_GROUP = 122_880  # DuckDB's rows per row group
CHECKPOINT_BACKSTOP = "256MB"  # the log size that still triggers DuckDB's own checkpoint during a load
# A checkpoint pins a block per column segment of every table it writes: a wide raw table and its history's
# superseded table, both changed since the last one, need more than a load's memory cap (a failed
# checkpoint is fatal to the database instance), so it runs with at least this much.
CHECKPOINT_MEMORY = 160 * 2**20
_UNITS = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}


def checkpoint(conn: duckdb.DuckDBPyConnection) -> None:
    """Write what was committed into the file (DuckDB's CHECKPOINT) with at least CHECKPOINT_MEMORY of
    memory, then the connection's own limit again."""
    limit = conn.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    number, unit = limit.split()
    if float(number) * _UNITS[unit] >= CHECKPOINT_MEMORY:
        conn.execute("CHECKPOINT")
        return
    conn.execute(f"SET memory_limit = '{CHECKPOINT_MEMORY}B'")
    try:
        conn.execute("CHECKPOINT")
    finally:
        conn.execute(f"SET memory_limit = '{limit}'")


class Checkpoints:
    """Counts the rows a load commits and checkpoints after every ROW_GROUP of them (between transactions)."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled, self.pending = enabled, 0  # a DuckLake compacts in its maintenance asset instead

    def committed(self, conn: duckdb.DuckDBPyConnection, rows: int) -> None:
        """Note `rows` just committed on `conn`; checkpoint once ROW_GROUP have been since the last checkpoint
        (a DuckLake compacts in its maintenance asset instead)."""
        if not self.enabled:
            return
        self.pending += rows
        if self.pending >= ROW_GROUP:
            checkpoint(conn)
            self.pending = 0
