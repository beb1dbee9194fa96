"""The analysts' catalog of tables (docs/TABLES.md) in live mode: true on a file loaded from the sandbox."""

from __future__ import annotations

import re

import duckdb

from crm_pipeline import table_notes
from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
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


def test_live_mode_reports_the_true_row_counts(sandbox, settings, client, conn, tmp_path):
    for ep in EXPORT_FEEDS:
        assert sync_export(client, conn, ep, tenant_id=settings.tenant_id).quarantined == 0
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
