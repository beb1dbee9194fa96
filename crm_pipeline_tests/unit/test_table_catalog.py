"""The analysts' catalog of tables (docs/TABLES.md): up to date and complete (true on a loaded file: the
integration tier's test_table_catalog_live.py)."""

from __future__ import annotations

import re

import duckdb

from crm_pipeline import table_catalog, table_notes
from crm_pipeline.catalog import ENDPOINTS
from crm_pipeline.sql_models import load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.storage.tables import CURSORS, QUARANTINE


def section(doc: str, relation: str) -> str:
    """The text of `### \\`relation\\`` up to the next heading."""
    match = re.search(rf"^### `{re.escape(relation)}`\n(.*?)(?=^#)", doc + "\n#", re.S | re.M)
    assert match, f"docs/TABLES.md has no section for {relation}"
    return match.group(1)


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
