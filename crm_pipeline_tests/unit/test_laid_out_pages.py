"""A page laid out as Arrow ahead of its commit (ingest.export.prepare_page) keeps its rows in its table
alone: what storage reads of it is what it reads of the page as validated."""

from __future__ import annotations

import msgspec

from crm_pipeline.catalog import endpoint
from crm_pipeline.ingest.export import held_bytes, prepare_page
from crm_pipeline.servicetitan.paging import ExportPage
from crm_pipeline.storage.keys import page_keys
from crm_pipeline.storage.layout import json_columns, page_table
from crm_pipeline.validation import validate_page

CUSTOMERS = endpoint("export/customers")
RECORDS = [
    {"id": 3, "name": "Ann", "active": True, "modifiedOn": "2024-05-01T10:20:30Z"},
    {"id": 1, "name": "Bob", "active": False, "balance": 1.5},
    {"id": 3, "name": "Ann again", "active": True},  # the same key: the last one wins
    {"id": "x", "name": "refused: not an id"},
]


def test_a_laid_out_page_holds_the_rows_keys_and_columns_of_the_validated_page():
    raw = [msgspec.Raw(msgspec.json.encode(r)) for r in RECORDS]
    validated = validate_page(CUSTOMERS, [dict(r) for r in RECORDS])
    laid_out = prepare_page(
        CUSTOMERS, ExportPage(data=raw, continue_from="t", has_more=False, requested_from=None)
    ).data

    assert len(laid_out.frame) == 0 and list(laid_out.frame.columns) == list(validated.frame.columns)
    assert laid_out.rows == validated.rows == 2
    assert laid_out.table.equals(page_table(validated.frame, json_columns(CUSTOMERS, validated)))
    assert page_keys(CUSTOMERS, laid_out).to_pylist() == page_keys(CUSTOMERS, validated).to_pylist()
    assert page_keys(CUSTOMERS, laid_out).to_pylist() == [{"id": 1}, {"id": 3}]
    assert [r.reasons for r in laid_out.rejected] == [r.reasons for r in validated.rejected] != []


def test_a_page_waiting_for_its_commit_counts_its_table_and_its_rejected_records():
    refused = [msgspec.Raw(msgspec.json.encode({"id": "x", "name": "n" * 1000})) for _ in range(50)]
    page = prepare_page(
        CUSTOMERS, ExportPage(data=refused, continue_from="t", has_more=True, requested_from=None)
    )
    assert page.data.table is None and len(page.data.rejected) == 50
    assert held_bytes(page) > 50 * 1000  # none stored, yet it holds the records it refused
    raw = [msgspec.Raw(msgspec.json.encode(r)) for r in RECORDS]
    mixed = prepare_page(
        CUSTOMERS, ExportPage(data=raw, continue_from="t", has_more=False, requested_from=None)
    )
    rejected = sum(len(r.record_json) + len(r.reasons) for r in mixed.data.rejected)
    assert held_bytes(mixed) == mixed.data.table.nbytes + rejected
