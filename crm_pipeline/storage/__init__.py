"""The DuckDB loader: raw tables, pipeline state, and the one-transaction commit of a stream's batch.

Its modules: `tables` (DDL; `ddl` its SQL helpers), `history` (change history: a view of the raw table and
the versions it replaced), `cursors` (each stream's position), `layout` (a page as Arrow), `upsert` (rows
written by key, deletions stamped), `quarantine`, `transactions`, `batch` (a batch of rows with its
position, committed in one transaction), `stream` (one stream's storage: its position and its commits),
`walks` (a parent walk's plan) and `stores` (a connection lent for one commit at a time)."""

from crm_pipeline.storage.batch import (
    CHILDREN_OF_VISITED,
    EVERY_ROW,
    Batch,
    Committed,
    Deletions,
    commit,
    unvisited_since,
)
from crm_pipeline.storage.cursors import StreamPosition, read_position, reset_position, store_position
from crm_pipeline.storage.stream import StreamStorage
from crm_pipeline.storage.tables import ensure_raw_table, ensure_state_tables
from crm_pipeline.storage.transactions import committed, transaction
from crm_pipeline.storage.upsert import mark_deleted

__all__ = [
    "CHILDREN_OF_VISITED",
    "EVERY_ROW",
    "Batch",
    "Committed",
    "Deletions",
    "StreamPosition",
    "StreamStorage",
    "commit",
    "committed",
    "ensure_raw_table",
    "ensure_state_tables",
    "mark_deleted",
    "read_position",
    "reset_position",
    "store_position",
    "transaction",
    "unvisited_since",
]
