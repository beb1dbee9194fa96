"""A DuckLake whose data files live on an S3-compatible server (moto on loopback)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.ingest import sync_export
from crm_pipeline.settings import Settings
from crm_pipeline.storage.cursors import reset_position
from crm_pipeline.storage.lake import LakeUnavailable
from crm_pipeline.storage.maintenance import maintain_lake
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.lake_helpers import assert_exact
from crm_pipeline_tests.object_store import KEY_ID, SECRET

CUSTOMERS = next(e for e in EXPORT_FEEDS if e.path == "export/customers")


def test_export_feeds_load_into_a_lake_with_data_on_s3(sandbox, s3_lake):
    settings = Settings.from_env({**sandbox.env(), **s3_lake.env()})
    conn = s3_lake.connect()
    with make_client(settings) as client:
        for feed in EXPORT_FEEDS:
            sync_export(client, conn, feed, tenant_id=settings.tenant_id)
    assert_exact(conn, sandbox, EXPORT_FEEDS, settings.tenant_id)
    pattern = f"{s3_lake.data_path}**/*.parquet"
    assert conn.execute("SELECT count(*) FROM glob(?)", [pattern]).fetchone()[0] > 0  # in the bucket


def test_a_wrong_bucket_fails_fast_naming_the_setting(s3_lake):
    with pytest.raises(LakeUnavailable) as raised:
        replace(s3_lake, data_path="s3://no-such-bucket-here/data/").connect()
    message = str(raised.value)
    assert "CRM_DUCKLAKE_DATA_PATH" in message and "no-such-bucket-here" in message
    assert SECRET not in message and KEY_ID not in message


def test_maintenance_merges_expires_and_deletes_files_on_s3(sandbox, s3_lake):
    settings = Settings.from_env({**sandbox.env(), **s3_lake.env()})
    conn = s3_lake.connect()
    with make_client(settings) as client:
        sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
        for _ in range(3):  # the whole feed again each time: files per page, delete files from the upserts
            reset_position(conn, settings.tenant_id, CUSTOMERS.path)
            sync_export(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    pattern = f"{s3_lake.data_path}**/*.parquet"
    on_s3 = conn.execute("SELECT count(*) FROM glob(?)", [pattern]).fetchone()[0]
    before, after = maintain_lake(conn, retention=timedelta(0))
    assert on_s3 > 10 and after.data_files < before.data_files and after.snapshots == 1
    # Nothing left in the bucket that the one remaining snapshot does not reference.
    left = conn.execute("SELECT count(*) FROM glob(?)", [pattern]).fetchone()[0]
    assert left == after.data_files + after.delete_files
    assert_exact(conn, sandbox, [CUSTOMERS], settings.tenant_id)
