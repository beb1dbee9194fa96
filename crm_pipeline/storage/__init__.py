"""The DuckDB loader: raw tables, pipeline state, and the one-transaction-per-page commit."""

from crm_pipeline.storage.pages import StreamPosition, commit_page, read_position, reset_position
from crm_pipeline.storage.tables import ensure_raw_table, ensure_state_tables

__all__ = [
    "StreamPosition", "commit_page", "ensure_raw_table", "ensure_state_tables", "read_position", "reset_position",
]
