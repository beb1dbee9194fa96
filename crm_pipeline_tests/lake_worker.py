"""A writer or reader process of the lake tests, configured like a run: from the environment.

python -m crm_pipeline_tests.lake_worker export   # every export feed, one line per committed page
python -m crm_pipeline_tests.lake_worker list     # every list endpoint
python -m crm_pipeline_tests.lake_worker read <seconds>  # queries the lake until then; prints counts
"""

from __future__ import annotations

import os
import sys
import time

from crm_pipeline.catalog import EXPORT_FEEDS, LIST_ENDPOINTS
from crm_pipeline.ingest import sync_export, sync_list
from crm_pipeline.servicetitan import ServiceTitanClient
from crm_pipeline.settings import Settings
from crm_pipeline.storage.lake import DATA_PATH_SETTING, connect_lake, object_store_settings


def lake_of_environment():
    """The lake of this process's CRM_DUCKDB_PATH, CRM_DUCKLAKE_DATA_PATH and AWS variables."""
    return connect_lake(
        os.environ["CRM_DUCKDB_PATH"],
        os.environ.get(DATA_PATH_SETTING),
        object_store=object_store_settings(os.environ),
    )


def print_page(result) -> None:
    print(f"page {result.stream} {result.pages}", flush=True)


def write(role: str) -> None:
    settings = Settings.from_env(os.environ)
    conn = lake_of_environment()
    with ServiceTitanClient(settings) as client:
        for endpoint in EXPORT_FEEDS if role == "export" else LIST_ENDPOINTS:
            if role == "export":
                sync_export(client, conn, endpoint, tenant_id=settings.tenant_id, on_page=print_page)
            else:
                sync_list(client, conn, endpoint, tenant_id=settings.tenant_id, on_page=print_page)
    print("done", flush=True)


def read(seconds: float) -> None:
    """Count rows again and again; a failed query is printed as `error ...` (the test expects none)."""
    conn = lake_of_environment()
    deadline, queries = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        try:
            tables = conn.execute(
                "SELECT schema_name || '.' || table_name FROM duckdb_tables() "
                "WHERE database_name = 'lake' AND schema_name IN ('raw_export', 'raw_list') ORDER BY 1"
            ).fetchall()
            counts = [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for (t,) in tables]
            queries += 1
            print(f"counts {sum(counts)}", flush=True)
        except Exception as error:  # noqa: BLE001 (reported to the test, which fails on it)
            print(f"error {type(error).__name__}: {error}", flush=True)
        time.sleep(0.05)
    print(f"done {queries}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(float(sys.argv[2]))
    else:
        write(sys.argv[1])
