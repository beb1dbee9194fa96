"""Writers of one tenant's stream on a DuckLake take turns (storage/turns.py): a page of records not stored
yet, committed by a second writer while a first one's transaction holds the same page, waits for that
commit and replaces its rows, instead of inserting them a second time (#24, found by test_two_machines)."""

from __future__ import annotations

import threading

from crm_pipeline.catalog import EXPORT_FEEDS
from crm_pipeline.storage import StreamPosition, ensure_raw_table, ensure_state_tables, transaction
from crm_pipeline.storage.backend import backend_of
from crm_pipeline.storage.turns import stream_turn
from crm_pipeline.storage.upsert import upsert_rows
from crm_pipeline.validation.page import validate_page
from crm_pipeline_tests.commits import commit_page

CUSTOMERS = next(e for e in EXPORT_FEEDS if e.path == "export/customers")
TENANT = "1234567890"


def test_a_second_writer_of_a_stream_waits_its_turn_and_nothing_doubles(sandbox, lake):
    first, second = lake.connect(), lake.connect()
    ensure_state_tables(first)
    ensure_raw_table(first, CUSTOMERS)
    page = validate_page(CUSTOMERS, sandbox.records("export/customers")[:20])
    position = StreamPosition("token-1", False)
    with stream_turn(first, (TENANT, CUSTOMERS.path)), transaction(first):
        mode = backend_of(first).upsert_mode(replace=True)
        upsert_rows(first, CUSTOMERS, TENANT, page=page, mode=mode)  # not committed yet
        other = threading.Thread(
            target=commit_page, args=(second, CUSTOMERS, TENANT), kwargs={"page": page, "position": position}
        )
        other.start()
        other.join(2.0)
        assert other.is_alive(), "the second writer did not wait for the first one's turn"
    other.join(60)
    assert not other.is_alive()
    stored = first.execute(
        "SELECT count(*), count(DISTINCT id) FROM raw_export.customers WHERE tenant_id = ?", [TENANT]
    ).fetchone()
    assert stored == (20, 20)
    # another stream of the tenant, or the stream of another tenant, is not kept waiting
    with stream_turn(first, (TENANT, CUSTOMERS.path)):
        assert not kept_waiting(second, (TENANT, "export/leads"))
        assert not kept_waiting(second, ("4321", CUSTOMERS.path))
        assert kept_waiting(second, (TENANT, CUSTOMERS.path))


def kept_waiting(conn, stream: tuple[str, str]) -> bool:
    """Whether a thread (a session of its own) taking the turn of `stream` still waits after 2 seconds."""

    def take() -> None:
        with stream_turn(conn, stream):
            pass

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    thread.join(2.0)
    return thread.is_alive()
