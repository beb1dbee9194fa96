"""Records that failed validation, kept as received, with the reasons, in `pipeline_state.quarantine`."""

from __future__ import annotations

import duckdb

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage
from crm_pipeline.storage.tables import QUARANTINE


def quarantine(
    conn: duckdb.DuckDBPyConnection,
    endpoint: Endpoint,
    tenant_id: str,
    *,
    page: ValidatedPage,
    run_id: str | None,
) -> int:
    """Keep each rejected record once: a record repeated on a later answer (includeRecentChanges, a re-run)
    replaces its identical copy, stamped with the latest run."""
    rejected = page.rejected
    if rejected:
        conn.executemany(
            f"DELETE FROM {QUARANTINE} WHERE tenant_id = ? AND stream = ? "
            "AND record_id IS NOT DISTINCT FROM ? AND record::VARCHAR IS NOT DISTINCT FROM ?",
            [[tenant_id, endpoint.path, r.record_id, r.record_json] for r in rejected],
        )
        conn.executemany(
            f"INSERT INTO {QUARANTINE} VALUES (?, ?, ?, ?, ?, now(), ?)",
            [[tenant_id, endpoint.path, r.record_id, r.record_json, r.reasons, run_id] for r in rejected],
        )
    return len(page.rejected)
