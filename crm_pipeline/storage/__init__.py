"""The DuckDB loader: raw tables, pipeline state, and the one-transaction-per-page commit.

Its modules: `tables` (DDL; `ddl` its SQL helpers), `history` (change history: a view of the raw table and
the versions it replaced), `cursors` (each stream's position), `layout` (a page as Arrow), `upsert` (rows
written by key, deletions stamped), `quarantine`, `transactions` and `commit` (a page with its position)."""

from crm_pipeline.storage.commit import commit_page
from crm_pipeline.storage.cursors import StreamPosition, read_position, reset_position, store_position
from crm_pipeline.storage.tables import ensure_raw_table, ensure_state_tables
from crm_pipeline.storage.transactions import committed, transaction
from crm_pipeline.storage.upsert import mark_deleted, write_rows

__all__ = [
    "StreamPosition",
    "commit_page",
    "committed",
    "ensure_raw_table",
    "ensure_state_tables",
    "mark_deleted",
    "read_position",
    "reset_position",
    "store_position",
    "transaction",
    "write_rows",
]
