"""The catalog of tables for analysts (docs/TABLES.md): what each table holds, its key, how it is kept fresh.

Plain Python, no Dagster. Generated from the endpoint catalog (`crm_pipeline.catalog`), the field
declarations (`crm_pipeline.schemas`) and the SQL model headers (`dbt_like_sql/`); model columns are
what DuckDB describes after building the models over empty raw tables in memory. Given a DuckDB file,
`render(database=...)` adds live facts (rows, last `_synced_at`), opening the file read-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from crm_pipeline.catalog import ENDPOINTS, Endpoint
from crm_pipeline.ingest import DEFAULT_OVERLAP, PAGE_SIZE
from crm_pipeline.sql_models import Model, build_all, load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.history import has_history, history_key, history_table
from crm_pipeline.storage.tables import (
    CURSORS,
    DELETED_AT_COLUMN,
    QUARANTINE,
    SYNCED_AT_COLUMN,
    TENANT_COLUMN,
    column_descriptions,
)

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "TABLES.md"
REGENERATE = ".venv/bin/python -m crm_pipeline.cli catalog --output docs/TABLES.md"
# Defaults of crm_pipeline/defs/servicetitan/automation_settings.py (which imports Dagster); a test keeps them equal.
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
}
EXAMPLES = {  # table family -> (caption, query); a test runs every one of them
    "raw_export": [
        (
            "Active customers and their city (nested JSON)",
            "SELECT id, name, address->>'city' AS city, \"modifiedOn\" FROM raw_export.customers WHERE active LIMIT 10",
        ),
        (
            "Freshness and size of one table, per tenant",
            "SELECT tenant_id, count(*) AS row_count, max(_synced_at) AS last_synced FROM raw_export.leads GROUP BY ALL",
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
            "SELECT stream, count(*) AS records, any_value(reasons) AS a_reason FROM pipeline_state.quarantine "
            "GROUP BY stream",
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
            "SELECT customer_id, customer_name, location_count, phone_count, email_count FROM marts.customers_overview "
            "WHERE is_active ORDER BY location_count DESC LIMIT 10",
        ),
    ],
}


def key_of(ep: Endpoint) -> str:
    return f"({', '.join((TENANT_COLUMN, *ep.key))})"


def freshness(ep: Endpoint) -> str:
    """How the table is kept fresh, from the endpoint's `kind`, `incremental`, `parent`, `shape` and `query`."""
    if ep.kind == "export":
        return (
            "Export feed followed from its continuation cursor (`continueFrom` in `pipeline_state.cursors`); "
            "sensor `servicetitan_export_sensor` runs it again at once while the feed has more, else every "
            f"`CRM_EXPORT_INTERVAL_SECONDS` (default {EXPORT_INTERVAL} s). Rows are upserted, never deleted."
        )
    hourly = f"schedule `servicetitan_list_incremental` (`CRM_LIST_SCHEDULE`, default `{LIST_SCHEDULE}`)"
    weekly = (
        f"the whole walk of `servicetitan_list_full_walk` (`CRM_FULL_WALK_SCHEDULE`, default "
        f"`{FULL_WALK_SCHEDULE}`)"
    )
    if ep.parent is not None:
        carried = ", ".join(f"`{child}`" for _, child in ep.parent.params.values())
        text = (
            f"parent-scoped, built after `{ep.parent.table}`: each run of {hourly} fetches the children of the "
            f"parents stored since the last run (parent ids in {carried}) and stamps `{DELETED_AT_COLUMN}` on "
            f"their children that vanished; {weekly} fetches the children of every parent."
        )
    elif ep.incremental:
        text = (
            f"incremental: each run of {hourly} fetches what changed since the watermark (`modifiedOnOrAfter` = "
            f"newest stored `modifiedOn` minus {int(DEFAULT_OVERLAP.total_seconds() // 60)} min, pages of "
            f"{PAGE_SIZE}); {weekly} stamps `{DELETED_AT_COLUMN}` on rows the API no longer returns."
        )
    else:
        text = (
            f"small, walked whole in one transaction on each run of {hourly}, stamping `{DELETED_AT_COLUMN}` "
            "on rows the API no longer returns."
        )
    if ep.shape == "array":
        text += " The API answers a bare JSON array (no paging)."
    elif ep.shape == "value":
        text += " The API answers one bare value per parent: one row per parent."
    if ep.query:
        text += " Requested with " + ", ".join(f"`{k}={v}`" for k, v in ep.query.items()) + "."
    return text[0].upper() + text[1:]


def _columns(ep: Endpoint) -> list[tuple[str, str, str]]:
    """(column, DuckDB type, description) of a raw table, as `ensure_raw_table` creates and describes it."""
    types = {TENANT_COLUMN: "VARCHAR", SYNCED_AT_COLUMN: "TIMESTAMPTZ", DELETED_AT_COLUMN: "TIMESTAMPTZ"}
    types.update({name: ftype.duckdb for name, ftype in ep.fields.items()})
    keys = (TENANT_COLUMN, *ep.key)
    return [
        (name, types[name], ("**Key.** " if name in keys else "") + doc.replace("|", "\\|"))
        for name, doc in column_descriptions(ep).items()
    ]


def model_columns(models: dict[str, Model]) -> dict[str, list[tuple[str, str]]]:
    """Each model's columns and types, as DuckDB describes it built over empty raw tables (in memory)."""
    with duckdb.connect() as conn:
        for ep in ENDPOINTS:
            ensure_raw_table(conn, ep)
        build_all(conn, models)
        return {
            name: [
                (c, t.replace("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"))
                for c, t, *_ in conn.execute(f"DESCRIBE {m.relation}").fetchall()
            ]
            for name, m in models.items()
        }


def live_facts(database: str | Path) -> dict[str, tuple[int, object]]:
    """relation -> (row count, newest `_synced_at`/`updated_at`/`quarantined_at`); the file is opened read-only."""
    with duckdb.connect(str(database), read_only=True) as conn:
        tables = conn.execute(
            "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
            "UNION ALL SELECT schema_name || '.' || view_name FROM duckdb_views() "
            "WHERE NOT internal"
        ).fetchall()
        cols = {
            (s + "." + t, c)
            for s, t, c in conn.execute(
                "SELECT schema_name, table_name, column_name FROM duckdb_columns()"
            ).fetchall()
        }
        facts = {}
        for (relation,) in tables:
            when = next(
                (c for c in (SYNCED_AT_COLUMN, "updated_at", "quarantined_at") if (relation, c) in cols), None
            )
            latest = f"max({when})" if when else "NULL"
            facts[relation] = conn.execute(f"SELECT count(*), {latest} FROM {relation}").fetchone()
        return facts


def _live_line(facts: dict | None, relation: str) -> list[str]:
    if facts is None:
        return []
    if relation not in facts:
        return ["- **Live:** not in the file yet."]
    rows, latest = facts[relation]
    return [f"- **Live:** {rows} rows" + (f", newest write {latest}" if latest is not None else "") + "."]


def _md_table(header: tuple[str, ...], rows) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]


def _examples(family: str) -> list[str]:
    lines = ["Example queries:", "", "```sql"]
    for caption, sql in EXAMPLES[family]:
        lines += [f"-- {caption}", sql + ";"]
    return lines + ["```", ""]


def _history_section(facts: dict | None) -> list[str]:
    """`raw_history`: one table per export feed and incremental list endpoint (crm_pipeline.storage.history)."""
    kept = [ep for ep in ENDPOINTS if has_history(ep)]
    out = [
        "## `raw_history`: every version delivered",
        "",
        "Every version of a record that a load received, one row per key and `modifiedOn`, with the same "
        "columns (and comments) as its raw table except `_deleted_at`; `_synced_at` is when the version was "
        "first stored. Written in the page's transaction; a version delivered again is stored once; "
        "`CRM_HISTORY=off` writes none. History begins with the first load.",
        "",
        "```sql",
        "-- Versions of one lead, oldest first",
        'SELECT "modifiedOn", status, priority FROM raw_history.leads WHERE id = 8300000003 ORDER BY 1;',
        "```",
        "",
    ]
    rows = [
        (
            f"`{history_table(ep)}`",
            f"`({', '.join(history_key(ep))})`",
            f"`{ep.qualified_table}`",
            *([facts.get(history_table(ep), ("not in the file yet",))[0]] if facts is not None else []),
        )
        for ep in kept
    ]
    header = ("table", "key", "versions of", *(["rows"] if facts is not None else []))
    return out + _md_table(header, rows) + [""]


def render(database: str | Path | None = None) -> str:
    """The catalog as Markdown; with `database`, live row counts and last writes from that file."""
    facts = live_facts(database) if database is not None else None
    built = load_project()  # dependency order, to build them
    described = model_columns(built)
    models = dict(sorted(built.items(), key=lambda item: (item[1].schema != "staging", item[0])))
    out = [
        "# Tables of the DuckDB file",
        "",
        f"Generated from `crm_pipeline/catalog.py`, `crm_pipeline/schemas/` and the headers of `dbt_like_sql/`: "
        f"do not edit; regenerate with `{REGENERATE}`.",
        "Query the read-only copy while the pipeline runs: `.venv/bin/duckdb -readonly data/crm_readonly.duckdb`.",
        "",
    ]
    if facts is not None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        out += [f"Live facts from `{database}`, read {stamp}.", ""]
    out += [
        'Raw tables keep the API\'s camelCase names (quote them: `"modifiedOn"`), one row per key (the '
        "current version), objects and lists as `JSON` (`address->>'city'`). A field no schema knows yet "
        "arrives as an extra `JSON` column. Every key starts with `tenant_id`.",
        "",
        "## Summary",
        "",
    ]
    summary = [(f"`{ep.qualified_table}`", f"`{key_of(ep)}`", ep.kind) for ep in ENDPOINTS]
    summary += [
        (f"`{history_table(ep)}`", f"`({', '.join(history_key(ep))})`", "history")
        for ep in ENDPOINTS
        if has_history(ep)
    ]
    summary += [(f"`{rel}`", desc[1], "pipeline state") for rel, desc in STATE_TABLES.items()]
    summary += [
        (
            f"`{m.relation}`",
            "; ".join(f"`({', '.join(k)})`" for k in m.unique) or "none declared",
            f"SQL model ({m.materialized})",
        )
        for m in models.values()
    ]
    out += _md_table(("table", "key", "kind"), summary) + [""]

    for family, title in (("export", "Export feeds"), ("list", "List endpoints")):
        out += [f"## `raw_{family}`: {title}", ""] + _examples(f"raw_{family}")
        for ep in (e for e in ENDPOINTS if e.kind == family):
            out += [
                f"### `{ep.qualified_table}`",
                "",
                ep.description,
                "",
                f"- **Source:** `GET {ep.path}` ({ep.kind})",
                f"- **Key:** `{key_of(ep)}`",
                f"- **Fresh:** {freshness(ep)}",
                *_live_line(facts, ep.qualified_table),
                "",
            ]
            out += _md_table(
                ("column", "type", "description"), [(f"`{c}`", t, d) for c, t, d in _columns(ep)]
            ) + [""]

    out += _history_section(facts)
    out += [
        "## `pipeline_state`: the pipeline's own state",
        "",
        "Written in the same transaction as the rows they describe.",
        "",
    ] + _examples("pipeline_state")
    for relation, (holds, key, _) in STATE_TABLES.items():
        out += [f"### `{relation}`", "", holds, "", f"- **Key:** {key}", *_live_line(facts, relation), ""]

    for schema in ("staging", "marts"):
        out += [
            f"## `{schema}`: SQL models (`dbt_like_sql/{schema}/`)",
            "",
            "A `table` is rebuilt by sensor `sql_models_automation` once a table it reads has new rows; "
            "a `view` reads the raw tables when queried.",
            "",
        ] + _examples(schema)
        for m in (m for m in models.values() if m.schema == schema):
            reads = [f"`{s}.{t}`" for s, t in m.sources] + [f"`{models[r].relation}`" for r in m.refs]
            out += [
                f"### `{m.relation}`",
                "",
                m.description,
                "",
                f"- **Materialized:** {m.materialized} (`{m.where}`)",
                "- **Key:** " + ("; ".join(f"`({', '.join(k)})`" for k in m.unique) or "none declared"),
                f"- **Reads:** {', '.join(reads)}",
                *([f"- **Not null:** {', '.join(f'`{c}`' for c in m.not_null)}"] if m.not_null else []),
                *(
                    ["- **Tests:** " + "; ".join(f"`{t.check_name}`: {t.description}" for t in m.tests)]
                    if m.tests
                    else []
                ),
                *_live_line(facts, m.relation),
                "",
            ]
            out += _md_table(
                ("column", "type", "description"),
                [(f"`{c}`", t, m.column_docs.get(c, "")) for c, t in described[m.name]],
            ) + [""]
    return "\n".join(out).rstrip() + "\n"


def write(path: str | Path = DOC_PATH, database: str | Path | None = None) -> Path:
    """Write the catalog to `path` (default docs/TABLES.md)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(database), encoding="utf-8")
    return path
