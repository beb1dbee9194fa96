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

from crm_pipeline.catalog import ENDPOINTS
from crm_pipeline.sql_models import Model, build_all, load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.history import has_history, history_key, history_table
from crm_pipeline.storage.tables import SYNCED_AT_COLUMN
from crm_pipeline.table_notes import EXAMPLES, STATE_TABLES, freshness, key_of, raw_columns

DOC_PATH = Path(__file__).resolve().parents[1] / "docs" / "TABLES.md"
REGENERATE = ".venv/bin/python -m crm_pipeline.cli catalog --output docs/TABLES.md"


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
    """relation -> (row count, newest `_synced_at`/`updated_at`/`quarantined_at`); the file is opened
    read-only."""
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
    """`raw_history`: one table per export feed and incremental list endpoint (storage/history.py)."""
    kept = [ep for ep in ENDPOINTS if has_history(ep)]
    out = [
        "## `raw_history`: every version delivered",
        "",
        "Every version of a record that a load received, one row per key and `modifiedOn`, with the same "
        "columns (and comments) as its raw table except `_deleted_at`; `_synced_at` is when the version was "
        "last stored. Each is a view: the raw table's current versions and `<table>_superseded`, the "
        "versions the raw table no longer holds (a page moves the ones it replaces there, in its "
        "transaction). A version delivered again is kept once; `CRM_HISTORY=off` adds none (what was "
        "kept stays). History begins with the first load.",
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
    out = _preamble(database, facts) + _summary(models)
    for family, title in (("export", "Export feeds"), ("list", "List endpoints")):
        out += _raw_section(family, title, facts)
    out += _history_section(facts) + _state_section(facts)
    for schema in ("staging", "marts"):
        out += _model_section(schema, models, described, facts=facts)
    return "\n".join(out).rstrip() + "\n"


def _preamble(database: str | Path | None, facts: dict | None) -> list[str]:
    out = [
        "# Tables of the DuckDB file",
        "",
        "Generated from `crm_pipeline/catalog.py`, `crm_pipeline/schemas/` and the headers of "
        f"`dbt_like_sql/`: do not edit; regenerate with `{REGENERATE}`.",
        "Query the read-only copy while the pipeline runs: "
        "`.venv/bin/duckdb -readonly data/crm_readonly.duckdb`.",
        "",
    ]
    if facts is not None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        out += [f"Live facts from `{database}`, read {stamp}.", ""]
    return out + [
        'Raw tables keep the API\'s camelCase names (quote them: `"modifiedOn"`), one row per key (the '
        "current version), objects and lists as `JSON` (`address->>'city'`). A field no schema knows yet "
        "arrives as an extra `JSON` column. Every key starts with `tenant_id`.",
        "",
        "## Summary",
        "",
    ]


def _model_keys(model: Model) -> str:
    return "; ".join(f"`({', '.join(k)})`" for k in model.unique)


def _summary(models: dict[str, Model]) -> list[str]:
    summary = [(f"`{ep.qualified_table}`", f"`{key_of(ep)}`", ep.kind) for ep in ENDPOINTS]
    summary += [
        (f"`{history_table(ep)}`", f"`({', '.join(history_key(ep))})`", "history")
        for ep in ENDPOINTS
        if has_history(ep)
    ]
    summary += [(f"`{rel}`", desc[1], "pipeline state") for rel, desc in STATE_TABLES.items()]
    summary += [
        (f"`{m.relation}`", _model_keys(m) or "none declared", f"SQL model ({m.materialized})")
        for m in models.values()
    ]
    return _md_table(("table", "key", "kind"), summary) + [""]


def _raw_section(family: str, title: str, facts: dict | None) -> list[str]:
    """`raw_export` or `raw_list`: each endpoint's table, its source, key, freshness and columns."""
    out = [f"## `raw_{family}`: {title}", ""] + _examples(f"raw_{family}")
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
        columns = [(f"`{c}`", t, d) for c, t, d in raw_columns(ep)]
        out += _md_table(("column", "type", "description"), columns) + [""]
    return out


def _state_section(facts: dict | None) -> list[str]:
    out = [
        "## `pipeline_state`: the pipeline's own state",
        "",
        "Written in the same transaction as the rows they describe.",
        "",
    ] + _examples("pipeline_state")
    for relation, (holds, key, _) in STATE_TABLES.items():
        out += [f"### `{relation}`", "", holds, "", f"- **Key:** {key}", *_live_line(facts, relation), ""]
    return out


def _model_section(
    schema: str, models: dict[str, Model], described: dict, *, facts: dict | None
) -> list[str]:
    """`staging` or `marts`: each SQL model, what it reads, its checks and its columns."""
    out = [
        f"## `{schema}`: SQL models (`dbt_like_sql/{schema}/`)",
        "",
        "A `table` is rebuilt by sensor `sql_models_automation` once a table it reads has new rows; "
        "a `view` reads the raw tables when queried.",
        "",
    ] + _examples(schema)
    for m in (m for m in models.values() if m.schema == schema):
        reads = [f"`{s}.{t}`" for s, t in m.sources] + [f"`{models[r].relation}`" for r in m.refs]
        tests = "; ".join(f"`{t.check_name}`: {t.description}" for t in m.tests)
        out += [
            f"### `{m.relation}`",
            "",
            m.description,
            "",
            f"- **Materialized:** {m.materialized} (`{m.where}`)",
            "- **Key:** " + (_model_keys(m) or "none declared"),
            f"- **Reads:** {', '.join(reads)}",
            *([f"- **Not null:** {', '.join(f'`{c}`' for c in m.not_null)}"] if m.not_null else []),
            *([f"- **Tests:** {tests}"] if m.tests else []),
            *_live_line(facts, m.relation),
            "",
        ]
        columns = [(f"`{c}`", t, m.column_docs.get(c, "")) for c, t in described[m.name]]
        out += _md_table(("column", "type", "description"), columns) + [""]
    return out


def write(path: str | Path = DOC_PATH, database: str | Path | None = None) -> Path:
    """Write the catalog to `path` (default docs/TABLES.md)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(database), encoding="utf-8")
    return path
