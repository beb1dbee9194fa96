"""The analysts' catalog of tables (docs/TABLES.md): up to date, complete, and true on a loaded file."""

from __future__ import annotations

import re

import duckdb

from crm_pipeline import table_catalog, table_notes
from crm_pipeline.catalog import ENDPOINTS, EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.cli import main
from crm_pipeline.ingest import sync_export
from crm_pipeline.sql_models import build_all, load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.tables import CURSORS, QUARANTINE


def section(doc: str, relation: str) -> str:
    """The text of `### \\`relation\\`` up to the next heading."""
    match = re.search(rf"^### `{re.escape(relation)}`\n(.*?)(?=^#)", doc + "\n#", re.S | re.M)
    assert match, f"docs/TABLES.md has no section for {relation}"
    return match.group(1)


def live_rows(doc: str, relation: str) -> int:
    match = re.search(r"^- \*\*Live:\*\* (\d+) rows", section(doc, relation), re.M)
    assert match, f"no live row count for {relation}"
    return int(match.group(1))


def test_docs_tables_md_is_up_to_date():
    expected = table_catalog.render()
    found = table_catalog.DOC_PATH.read_text(encoding="utf-8") if table_catalog.DOC_PATH.exists() else ""
    assert found == expected, f"docs/TABLES.md is stale: regenerate it with `{table_catalog.REGENERATE}`"
    assert "Live:" not in found, "the checked-in catalog must not hold live facts (run without --database)"


def test_every_raw_table_with_its_real_key_and_columns():
    doc = table_catalog.render()
    with duckdb.connect() as conn:  # the truth: the tables exactly as the loader creates them
        for ep in ENDPOINTS:
            ensure_raw_table(conn, ep)
        keys = {
            f"{s}.{t}": cols
            for s, t, cols in conn.execute(
                "SELECT schema_name, table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'PRIMARY KEY'"
            ).fetchall()
        }
        for ep in ENDPOINTS:
            text = section(doc, ep.qualified_table)
            assert f"- **Key:** `({', '.join(keys[ep.qualified_table])})`" in text, ep.qualified_table
            assert f"`GET {ep.path}` ({ep.kind})" in text and ep.description in text
            columns = conn.execute(f"DESCRIBE {ep.qualified_table}").fetchall()
            for name, dtype, *_ in columns:
                dtype = dtype.replace(
                    "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"
                )  # the spelling of the schemas
                assert f"| `{name}` | {dtype} |" in text, f"{ep.qualified_table}.{name} {dtype} missing"
            assert text.count("\n| `") == len(columns), (
                f"{ep.qualified_table}: columns listed that do not exist"
            )


def test_freshness_follows_the_catalog_fields():
    doc = table_catalog.render()
    for ep in ENDPOINTS:
        fresh = re.search(r"^- \*\*Fresh:\*\* (.*)$", section(doc, ep.qualified_table), re.M).group(1)
        assert ("continuation cursor" in fresh) == (ep.kind == "export"), ep.path
        assert ("Parent-scoped" in fresh) == (ep.parent is not None), ep.path
        assert ("modifiedOnOrAfter" in fresh) == ep.incremental, ep.path
        assert ("_deleted_at" in fresh) == (ep.kind == "list"), ep.path
        assert ("active=Any" in fresh) == (ep.query.get("active") == "Any"), ep.path
        assert ("one row per parent" in fresh) == (ep.shape == "value"), ep.path


def test_every_sql_model_and_state_table_with_its_key():
    doc = table_catalog.render()
    models = load_project()
    assert len(models) >= 8
    for model in models.values():
        text = section(doc, model.relation)
        assert model.description in text and f"- **Materialized:** {model.materialized} " in text
        for key in model.unique:
            assert f"`({', '.join(key)})`" in text, f"{model.relation}: key {key} missing"
        reads = [f"{s}.{t}" for s, t in model.sources] + [models[r].relation for r in model.refs]
        assert all(f"`{r}`" in text for r in reads) and reads, model.relation
    assert "- **Key:** `(tenant_id, stream)`" in section(doc, CURSORS)
    section(doc, QUARANTINE)


def test_defaults_match_the_automation_settings():
    from crm_pipeline.defs.servicetitan import automation_settings as a

    assert (table_notes.EXPORT_INTERVAL, table_notes.LIST_SCHEDULE, table_notes.FULL_WALK_SCHEDULE) == (
        a.DEFAULT_EXPORT_INTERVAL,
        a.DEFAULT_LIST_SCHEDULE,
        a.DEFAULT_FULL_WALK_SCHEDULE,
    )


def test_live_mode_reports_the_true_row_counts(sandbox, settings, client, conn, tmp_path):
    for ep in EXPORT_FEEDS:
        assert sync_export(client, conn, ep, settings.tenant_id).quarantined == 0
    for ep in LIST_ENDPOINTS:
        ensure_raw_table(conn, ep)  # present but empty
    built = build_all(conn, load_project())
    synced = {
        ep.qualified_table: conn.execute(f"SELECT max(_synced_at) FROM {ep.qualified_table}").fetchone()[0]
        for ep in EXPORT_FEEDS
    }
    conn.close()  # the catalog opens the file read-only, which DuckDB refuses beside a read-write connection

    out = tmp_path / "TABLES.md"
    assert main(["catalog", "--database", settings.duckdb_path, "--output", str(out)]) == 0
    doc = out.read_text(encoding="utf-8")
    for ep in EXPORT_FEEDS:
        served = len(sandbox.records(ep.path))
        assert served > 0 and live_rows(doc, ep.qualified_table) == served, ep.path
        assert f"newest write {synced[ep.qualified_table]}." in section(doc, ep.qualified_table)
    assert all(live_rows(doc, ep.qualified_table) == 0 for ep in LIST_ENDPOINTS)
    assert live_rows(doc, CURSORS) == len(EXPORT_FEEDS) and live_rows(doc, QUARANTINE) == 0
    models = load_project()
    assert any(built.values())
    for name, rows in built.items():
        assert live_rows(doc, models[name].relation) == rows, name

    with duckdb.connect(settings.duckdb_path, read_only=True) as ro:  # every example query runs on real data
        results = {
            sql: ro.execute(sql).fetchall() for family in table_notes.EXAMPLES.values() for _, sql in family
        }
    assert results[table_notes.EXAMPLES["raw_export"][0][1]], "the first example query finds no customers"
    assert results[table_notes.EXAMPLES["marts"][0][1]], "the lead funnel example finds no leads"
