"""A parent walk whose every parent answers 404 is an error (missing scope, gateway), not "no children"."""

from __future__ import annotations

import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest import AllParentsNotFound, sync_list
from crm_pipeline.storage.parents import PARENTS
from crm_pipeline_tests.compare import differences, served

CUSTOMERS, NOTES = endpoint("raw_list.customers"), endpoint("raw_list.customers_notes")


def test_every_parent_answering_404_fails_the_walk_and_keeps_the_parents_pending(
    sandbox, settings, client, conn
):
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    real = conn.execute("SELECT list(id) FROM raw_list.customers").fetchone()[0]
    conn.execute("UPDATE raw_list.customers SET id = id + 1000000000000")  # parents the API does not know
    with pytest.raises(AllParentsNotFound, match="every one of the 120 parents visited answered 404.*scope"):
        sync_list(client, conn, NOTES, tenant_id=settings.tenant_id)
    pending = conn.execute(f"SELECT count(*) FILTER (WHERE pending), count(*) FROM {PARENTS}").fetchone()
    assert pending == (120, 120) and len(real) == 120
    assert conn.execute("SELECT count(*) FROM raw_list.customers_notes").fetchone()[0] == 0


def test_a_few_parents_gone_are_no_error(sandbox, settings, client, conn):
    sync_list(client, conn, CUSTOMERS, tenant_id=settings.tenant_id)
    conn.execute(
        "UPDATE raw_list.customers SET id = id + 1000000000000 WHERE id IN "
        "(SELECT id FROM raw_list.customers ORDER BY id LIMIT 3)"
    )
    result = sync_list(client, conn, NOTES, tenant_id=settings.tenant_id)
    assert result.parents_not_found == 3 and not result.has_more
    moved = {
        r[0]
        for r in conn.execute(
            "SELECT id - 1000000000000 FROM raw_list.customers WHERE id > 1000000000000"
        ).fetchall()
    }
    expected = [r for r in served(sandbox, NOTES) if r["customerId"] not in moved]
    assert differences(conn, NOTES, settings.tenant_id, expected) == []
