"""Children of unchanged parents: each incremental walk also visits the parents visited longest ago,
so that a note added without its customer changing is copied within the rotation's period."""

from __future__ import annotations

import time

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest import FanOutOptions, sync_list
from crm_pipeline_tests.compare import differences, served

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")


def notes_requests(sandbox) -> int:
    return sum(1 for e in sandbox.request_log if e.path.endswith("/notes"))


def test_a_note_on_an_unchanged_customer_arrives_within_the_rotation_period(sandbox, settings, client, conn):
    period = 6.0  # seconds: the whole rotation, so that the test waits for one period only
    options = FanOutOptions(rotation_hours=period / 3600, rotation_share=1.0, rate_limit=60.0)
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    began = time.monotonic()
    sync_list(
        client, conn, NOTES, tenant_id=settings.tenant_id, fan_out=options
    )  # the first walk visits every parent
    sandbox.add("customers/{id}/notes", n=1, touch_parent=False)
    sandbox.clear_log()
    incremental = sync_list(client, conn, NOTES, tenant_id=settings.tenant_id, fan_out=options)
    share = (
        time.monotonic() - began
    ) / period  # of the period since the first walk began: its slice, no more
    assert notes_requests(sandbox) == incremental.parents_planned <= 120 * share + 1
    assert incremental.rotation["visited_within_period"] == 1.0
    time.sleep(period)
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    sandbox.clear_log()
    rotated = sync_list(client, conn, NOTES, tenant_id=settings.tenant_id, fan_out=options)
    assert differences(conn, NOTES, settings.tenant_id, served(sandbox, NOTES)) == []
    assert rotated.parents_planned == len(sandbox.parents(NOTES.path))
    assert rotated.rotation["oldest_visit"] >= incremental.rotation["oldest_visit"]


def test_the_rotation_takes_at_most_its_share_of_the_rate_limit(sandbox, settings, client, conn):
    options = FanOutOptions(rotation_hours=1 / 3600, rotation_share=0.25, rate_limit=20.0)
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    began = time.monotonic()  # the walk's start, which the rotation counts from
    sync_list(client, conn, NOTES, tenant_id=settings.tenant_id, fan_out=options)
    time.sleep(2.0)
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    sandbox.clear_log()
    result = sync_list(client, conn, NOTES, tenant_id=settings.tenant_id, fan_out=options)
    elapsed = time.monotonic() - began
    # nothing changed: every visit is the rotation's, a quarter of 20/s since the last walk began at most
    assert 0 < result.parents_planned <= 0.25 * 20 * (elapsed + 1)
    assert notes_requests(sandbox) == result.parents_planned
    assert 0 < result.rotation["visited_within_period"] < 1.0
