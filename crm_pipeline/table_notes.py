"""What docs/TABLES.md says of each raw and state table that is not in the catalog itself: how a raw table
is kept fresh, its key and columns, what the state tables hold, and example queries per table family.

Plain Python, no Dagster; `crm_pipeline.table_catalog` renders it.
"""

from __future__ import annotations

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest import DEFAULT_OVERLAP, PAGE_SIZE
from crm_pipeline.storage.history import HISTORY_OFF, SENT_BACK
from crm_pipeline.storage.tables import (
    CURSORS,
    DELETED_AT_COLUMN,
    QUARANTINE,
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    column_descriptions,
)

# Defaults of crm_pipeline/defs/servicetitan/automation_settings.py (which imports Dagster); a test keeps
# them equal.
EXPORT_INTERVAL, LIST_SCHEDULE, FULL_WALK_SCHEDULE = 300, "0 * * * *", "0 3 * * 0"

STATE_TABLES = {  # relation -> (what it holds, key, freshness column)
    CURSORS: (
        "Each stream's stored position: the export `continueFrom` token, or a list endpoint's watermark "
        "(JSON), whether the feed had more, when and by which run it was written.",
        "`(tenant_id, stream)`",
        "updated_at",
    ),
    QUARANTINE: (
        "Records that failed validation, exactly as received (`record` JSON), with the `reasons`, "
        "the stream and the run id. Never in a raw table.",
        "none (one row per rejected record)",
        "quarantined_at",
    ),
    HISTORY_OFF: (
        "When `CRM_HISTORY` was off, per history (`off_to` NULL while it still is): the raw rows stored "
        "meanwhile (by `_synced_at`) are not versions of the history.",
        "none (one row per period)",
        "off_from",
    ),
    SENT_BACK: (
        "Records (their key as a JSON array) that the API sent an older version of after a newer one, per "
        "history and tenant: only their versions are looked up before one is kept as superseded.",
        "none (one row per record)",
        None,
    ),
}
EXAMPLES = {  # table family -> (caption, query); a test runs every one of them
    "raw_export": [
        (
            "Active customers and their city (nested JSON)",
            "SELECT id, name, address->>'city' AS city, \"modifiedOn\" FROM raw_export.customers "
            "WHERE active LIMIT 10",
        ),
        (
            "Freshness and size of one table, per tenant",
            "SELECT tenant_id, count(*) AS row_count, max(_synced_at) AS last_synced FROM raw_export.leads "
            "GROUP BY ALL",
        ),
    ],
    "raw_list": [
        (
            "Latest notes on customers, still present in the API",
            'SELECT "customerId", "createdOn", text FROM raw_list.customers_notes WHERE _deleted_at IS NULL '
            'ORDER BY "createdOn" DESC LIMIT 10',
        ),
        (
            "Records the last whole walk no longer found",
            "SELECT id, name, _deleted_at FROM raw_list.customers WHERE _deleted_at IS NOT NULL",
        ),
    ],
    "pipeline_state": [
        (
            "Where every stream stands (freshness)",
            "SELECT tenant_id, stream, has_more, updated_at FROM pipeline_state.cursors ORDER BY updated_at",
        ),
        (
            "Rejected records per stream",
            "SELECT stream, count(*) AS records, any_value(reasons) AS a_reason "
            "FROM pipeline_state.quarantine GROUP BY stream",
        ),
    ],
    "staging": [
        (
            "Active customers by type and state",
            "SELECT customer_type, state, count(*) AS customers FROM staging.stg_customers WHERE is_active "
            "GROUP BY ALL ORDER BY customers DESC",
        )
    ],
    "marts": [
        (
            "The lead funnel by month",
            "SELECT created_month, funnel_stage, count(*) AS leads FROM marts.lead_funnel WHERE is_active "
            "GROUP BY ALL ORDER BY ALL",
        ),
        (
            "Best-connected customers",
            "SELECT customer_id, customer_name, location_count, phone_count, email_count "
            "FROM marts.customers_overview WHERE is_active ORDER BY location_count DESC LIMIT 10",
        ),
    ],
}


def key_of(ep: Endpoint) -> str:
    return f"({', '.join((TENANT_COLUMN, *ep.key))})"


_HOURLY = f"schedule `servicetitan_list_incremental` (`CRM_LIST_SCHEDULE`, default `{LIST_SCHEDULE}`)"
_WEEKLY = (
    "the whole walk of `servicetitan_list_full_walk` (`CRM_FULL_WALK_SCHEDULE`, default "
    f"`{FULL_WALK_SCHEDULE}`)"
)


def _export_feed(ep: Endpoint) -> str:
    return (
        "Export feed followed from its continuation cursor (`continueFrom` in `pipeline_state.cursors`); "
        "sensor `servicetitan_export_sensor` runs it again at once while the feed has more, else every "
        f"`CRM_EXPORT_INTERVAL_SECONDS` (default {EXPORT_INTERVAL} s). Rows are upserted, never deleted."
    )


def _parent_fanout(ep: Endpoint) -> str:
    carried = ", ".join(f"`{child}`" for _, child in ep.parent.params.values())
    return (
        f"parent-scoped, built after `{ep.parent.table}`: each run of {_HOURLY} fetches the children of "
        f"the parents stored since the last run (parent ids in {carried}) and stamps "
        f"`{DELETED_AT_COLUMN}` on their children that vanished; {_WEEKLY} fetches the children of every "
        "parent."
    )


def _watermark_list(ep: Endpoint) -> str:
    return (
        f"incremental: each run of {_HOURLY} fetches what changed since the watermark "
        "(`modifiedOnOrAfter` = newest stored `modifiedOn` "
        f"minus {int(DEFAULT_OVERLAP.total_seconds() // 60)} min, pages of "
        f"{PAGE_SIZE}); {_WEEKLY} stamps `{DELETED_AT_COLUMN}` on rows the API no longer returns."
    )


def _whole_list(ep: Endpoint) -> str:
    return (
        f"small, walked whole in one transaction on each run of {_HOURLY}, stamping `{DELETED_AT_COLUMN}` "
        "on rows the API no longer returns."
    )


_BY_STRATEGY = {
    "export_feed": _export_feed,
    "parent_fanout": _parent_fanout,
    "watermark_list": _watermark_list,
    "whole_list": _whole_list,
}
_BY_SHAPE = {
    "paged": "",
    "array": " The API answers a bare JSON array (no paging).",
    "value": " The API answers one bare value per parent: one row per parent.",
}


def freshness(ep: Endpoint) -> str:
    """How the table is kept fresh: its strategy's note, its answer's shape, its query."""
    text = _BY_STRATEGY[ep.strategy](ep)
    text += _BY_SHAPE[ep.shape]
    if ep.query:
        text += " Requested with " + ", ".join(f"`{k}={v}`" for k, v in ep.query.items()) + "."
    return text[0].upper() + text[1:]


def raw_columns(ep: Endpoint) -> list[tuple[str, str, str]]:
    """(column, DuckDB type, description) of a raw table, as `ensure_raw_table` creates and describes it."""
    types = {TENANT_COLUMN: "VARCHAR", SYNCED_AT_COLUMN: "TIMESTAMPTZ", DELETED_AT_COLUMN: "TIMESTAMPTZ"}
    types.update({name: ftype.duckdb for name, ftype in ep.fields.items()})
    keys = (TENANT_COLUMN, *ep.key)
    return [
        (name, types[name], ("**Key.** " if name in keys else "") + doc.replace("|", "\\|"))
        for name, doc in column_descriptions(ep).items()
    ]
