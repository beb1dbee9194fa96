"""A DuckLake whose data files live on an S3-compatible server (moto on loopback)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.ingest import sync_export
from crm_pipeline.settings import Settings
from crm_pipeline.storage.lake import LakeUnavailable
from crm_pipeline_tests.conftest import make_client
from crm_pipeline_tests.lake_helpers import assert_exact
from crm_pipeline_tests.object_store import KEY_ID, SECRET


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
