"""When a load writes its committed pages into the DuckDB file: once per row group of rows.

DuckDB keeps committed rows in its write-ahead log until a checkpoint writes them, compressed, into
the file; by default it checkpoints whenever the log passes 16 MB (every 45,000 customers). Each
checkpoint writes the table's last row group (122,880 rows) whole, filled or not, so most rows were
compressed and written three times over. Loads therefore raise the threshold (`CHECKPOINT_BACKSTOP`,
for very wide records only) and checkpoint themselves every `ROW_GROUP` rows they write. Committing
1,000,000 customers in pages of 5,000: 45 ms of commit and checkpoint a page instead of 88.

Rows, not bytes: the key index's entries added since the last checkpoint stay in memory and cannot be
evicted under the memory cap (about 1.7 MB per 100,000 keys); left to grow, they ran a 1,000,000-row
load out of its 32 MB at 785,000 rows. A checkpoint per row group bounds them at about 2 MB.
"""

from __future__ import annotations

import duckdb

from crm_pipeline.storage.backend import backend_of

ROW_GROUP = 122_880  # DuckDB's rows per row group
CHECKPOINT_BACKSTOP = "256MB"  # the log size that still triggers DuckDB's own checkpoint during a load


class Checkpoints:
    """Counts the rows a load commits and checkpoints after every ROW_GROUP of them (between transactions)."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self.conn, self.pending = conn, 0
        self.enabled = backend_of(conn).checkpoints  # a DuckLake compacts in its maintenance asset instead

    def committed(self, rows: int) -> None:
        """Note `rows` just committed; checkpoint once ROW_GROUP have been since the last checkpoint."""
        if not self.enabled:
            return
        self.pending += rows
        if self.pending >= ROW_GROUP:
            self.conn.execute("CHECKPOINT")
            self.pending = 0
