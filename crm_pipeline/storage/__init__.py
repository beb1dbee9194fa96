"""The DuckDB loader: raw tables, pipeline state, and the one-transaction-per-page commit."""

from crm_pipeline.storage.pages import (
    StreamPosition,
    commit_page,
    committed,
    mark_deleted,
    read_position,
    reset_position,
    store_position,
    transaction,
    write_rows,
)
from crm_pipeline.storage.tables import ensure_raw_table, ensure_state_tables

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
