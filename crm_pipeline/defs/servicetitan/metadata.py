"""What the Dagster UI shows about a raw table: its column schema and a run's figures."""

from __future__ import annotations

from dagster import MetadataValue, TableColumn, TableColumnConstraints, TableSchema

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest import SyncResult
from crm_pipeline.storage.tables import (
    DELETED_AT_COLUMN,
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    column_descriptions,
)


def column_schema(endpoint: Endpoint) -> TableSchema:
    """The raw table's columns, from the endpoint's declared fields (the pandera schema's source), each
    described as in the OpenAPI description (or, for the pipeline's own columns, by the pipeline)."""
    docs = column_descriptions(endpoint)
    types = {TENANT_COLUMN: "VARCHAR", SYNCED_AT_COLUMN: "TIMESTAMPTZ", DELETED_AT_COLUMN: "TIMESTAMPTZ"}
    types.update({name: ftype.duckdb for name, ftype in endpoint.fields.items()})
    columns = []
    for name, doc in docs.items():
        required = name in (TENANT_COLUMN, SYNCED_AT_COLUMN, *endpoint.key)
        description = f"Key. {doc}" if name in (TENANT_COLUMN, *endpoint.key) else doc
        columns.append(
            TableColumn(name, types[name], description, TableColumnConstraints(nullable=not required))
        )
    return TableSchema(columns=columns)


def definition_metadata(endpoint: Endpoint) -> dict:
    return {
        "dagster/column_schema": column_schema(endpoint),
        "dagster/table_name": endpoint.qualified_table,
        "endpoint": endpoint.path,
        "key": ", ".join((TENANT_COLUMN, *endpoint.key)),
    }


def run_metadata(result: SyncResult, row_count: int) -> dict:
    return {
        "dagster/row_count": row_count,
        "rows_upserted": result.rows_upserted,
        "records_received": result.records_received,
        "pages": result.pages,
        "quarantined": result.quarantined,
        "cursor_position": MetadataValue.text(result.position or ""),
        "has_more": result.has_more,
        "seconds": round(result.seconds, 3),
        "records_per_second": round(result.records_per_second, 1),
        "new_fields": MetadataValue.text(", ".join(sorted(result.new_fields))),
        **_api_metadata(result),
        "deleted": result.deleted,
        "api_total_count": result.total_count if result.total_count is not None else -1,
        **({} if result.whole_walk is None else {"whole_walk": result.whole_walk}),
        **_walk_metadata(result),
    }


def _api_metadata(result: SyncResult) -> dict:
    """The requests and what the tenant's budget made of them (a settled rate far below the configured
    one means the server, or another user of the app, takes part of the budget: README)."""
    api = result.api
    return {
        "requests": api.requests,
        "requests_429": api.requests_429,
        "throttled_seconds": round(api.throttled_seconds, 1),
        **({} if api.settled_rate is None else {"settled_rate_per_second": round(api.settled_rate, 1)}),
    }


def _walk_metadata(result: SyncResult) -> dict:
    """A parent walk's progress and its rotation through unchanged parents."""
    if result.parents_planned is None:
        return {}
    return {
        "parents_planned": result.parents_planned,
        "parents_done": result.parents_done or 0,
        "parents_not_found": result.parents_not_found,
        **{f"rotation_{name}": value for name, value in (result.rotation or {}).items()},
    }
