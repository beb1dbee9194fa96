"""Every raw column is described: in the field declarations (from the OpenAPI description), in DuckDB's
column comments, in the Dagster column schema and in docs/TABLES.md."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from crm_pipeline.catalog import ENDPOINTS, EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.defs.servicetitan.metadata import column_schema
from crm_pipeline.ingest import sync_export, sync_list
from crm_pipeline.schemas.declared import SPEC_FIELDS_FILE
from crm_pipeline.sql_models import build_all, load_project
from crm_pipeline.storage import ensure_raw_table
from crm_pipeline.table_catalog import DOC_PATH

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "generate_field_docs", ROOT / "scripts" / "generate_field_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_field_declarations_are_what_the_spec_generates():
    generator = _generator()
    spec = json.loads(generator.DEFAULT_SPEC.read_text())
    assert SPEC_FIELDS_FILE.read_text(encoding="utf-8") == generator.render(spec), (
        "crm_pipeline/schemas/spec_fields.json is stale: run python scripts/generate_field_docs.py"
    )


def test_every_raw_column_has_a_comment_in_the_loaded_file(sandbox, settings, client, conn):
    for ep in EXPORT_FEEDS:
        sync_export(client, conn, ep, tenant_id=settings.tenant_id)
    for ep in LIST_ENDPOINTS:
        sync_list(client, conn, ep, tenant_id=settings.tenant_id)
    rows = conn.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name IN ('raw_export', 'raw_list', 'raw_history')"
    ).fetchall()
    tables = {f"{s}.{t}" for s, t, _, _ in rows}
    assert {ep.qualified_table for ep in ENDPOINTS} <= tables
    assert [f"{s}.{t}.{c}" for s, t, c, comment in rows if not (comment or "").strip()] == []
    assert (
        conn.execute("SELECT count(*) FROM raw_list.customers_notes").fetchone()[0] > 0
    )  # loaded, not empty


def test_a_changed_or_missing_comment_is_restored(conn):
    ep = EXPORT_FEEDS[0]
    ensure_raw_table(conn, ep)
    conn.execute(f"COMMENT ON COLUMN {ep.qualified_table}.name IS 'stale'")
    conn.execute(f"COMMENT ON COLUMN {ep.qualified_table}.tenant_id IS NULL")
    ensure_raw_table(conn, ep)
    comments = dict(
        conn.execute(
            "SELECT column_name, comment FROM duckdb_columns() "
            "WHERE schema_name = 'raw_export' AND table_name = ?",
            [ep.table],
        ).fetchall()
    )
    assert comments["name"] == "Name of the customer"
    assert comments["tenant_id"].startswith("ServiceTitan tenant")


def test_every_column_is_described_in_the_ui_schema_and_the_table_catalog():
    tables = DOC_PATH.read_text()
    for ep in ENDPOINTS:
        for column in column_schema(ep).columns:
            assert column.description.strip(), f"{ep.qualified_table}.{column.name}"
            assert f"| `{column.name}` | {column.type} | " in tables


def test_every_sql_model_column_is_described_in_duckdb(conn):
    for ep in ENDPOINTS:
        ensure_raw_table(conn, ep)
    models = load_project()
    build_all(conn, models)
    rows = conn.execute(
        "SELECT schema_name, table_name, column_name, comment FROM duckdb_columns() "
        "WHERE schema_name IN ('staging', 'marts')"
    ).fetchall()
    assert {f"{s}.{t}" for s, t, _, _ in rows} == {m.relation for m in models.values()}
    assert [f"{s}.{t}.{c}" for s, t, c, comment in rows if not (comment or "").strip()] == []
    assert models["lead_status_history"].column_docs["valid_to"].startswith("When the lead left it")
