"""Bad input, case by case on `validate_page` + `commit_page`: what drift is stored (and as what),
what is quarantined (and why), the rest of the page stored either way."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pytest

from crm_pipeline.catalog import endpoint
from crm_pipeline.storage import StreamPosition, ensure_raw_table
from crm_pipeline.validation import validate_page
from crm_pipeline_tests.commits import commit_page

CUSTOMERS = endpoint("export/customers")
BASE = {"id": 1, "name": "Acme", "active": True, "createdOn": "2024-06-20T17:47:05.6806011Z"}
STORED = [  # (case, record, column, value stored)
    ("enum as integer", {"type": 2}, "type", "2"),
    ("object in a text field", {"name": {"first": "A"}}, "name", '{"first":"A"}'),
    ("boolean in a text field", {"name": True}, "name", "true"),
    ("integer as text", {"createdById": " 42 "}, "createdById", 42),
    ("whole float for an integer", {"createdById": 42.0}, "createdById", 42),
    ("number as text", {"balance": "-3.5e2"}, "balance", -350.0),
    ("0/1 for a boolean", {"taxExempt": 1}, "taxExempt", True),
    ("null in a required field", {"name": None}, "name", None),
    ("missing field", {}, "balance", None),
    ("empty timestamp", {"modifiedOn": ""}, "modifiedOn", None),
    (
        "timestamp without zone is UTC",
        {"modifiedOn": "2024-01-02T03:04:05"},
        "modifiedOn",
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    ),
    (
        "timestamp with offset",
        {"modifiedOn": "2024-01-02T03:04:05.1234567+02:00"},
        "modifiedOn",
        datetime(2024, 1, 2, 1, 4, 5, 123456, tzinfo=UTC),
    ),
    ("NUL in text", {"name": "a\x00b"}, "name", "a\x00b"),
    ("emoji and spaces kept", {"name": "  🔥 x \n"}, "name", "  🔥 x \n"),
    ("int64 extremes", {"createdById": -(2**63)}, "createdById", -(2**63)),
    ("new field", {"brandNew": [1, {"a": None}]}, "brandNew", '[1,{"a":null}]'),
]
QUARANTINED = [  # (case, record, reason)
    ("text for a number", {"balance": "lots"}, "balance: not a number (got 'lots')"),
    ("empty text for a number", {"balance": ""}, "balance: not a number (got '')"),
    ("boolean for a number", {"balance": False}, "balance: a boolean where a number is expected (got False)"),
    ("fraction for an integer", {"createdById": 2.5}, "createdById: not a whole number (got 2.5)"),
    (
        "integer past int64",
        {"createdById": 2**63},
        "createdById: outside the 64-bit integer range (got 9223372036854775808)",
    ),
    (
        "integer text of 5000 digits",
        {"createdById": "9" * 5000},
        "createdById: outside the 64-bit integer range",
    ),
    (
        "boolean for an integer",
        {"createdById": True},
        "createdById: a boolean where an integer is expected (got True)",
    ),
    ("text for a boolean", {"active": "false"}, "active: not true or false (got 'false')"),
    ("number for a timestamp", {"createdOn": 1718905625}, "createdOn: not a timestamp text (got 1718905625)"),
    (
        "unparseable timestamp",
        {"createdOn": "yesterday"},
        "createdOn: coerce_dtype('datetime64[ns, UTC]') (got 'yesterday')",
    ),
    (
        "year 1 (.NET's MinValue)",
        {"createdOn": "0001-01-01T00:00:00"},
        "createdOn: coerce_dtype('datetime64[ns, UTC]')",
    ),
    ("unpaired surrogate", {"name": "x\udc00"}, "name: holds an unpaired UTF-16 surrogate"),
    (
        "unpaired surrogate in JSON",
        {"address": {"city": "\ud83d"}},
        "address: holds an unpaired UTF-16 surrogate",
    ),
    ("null key", {"id": None}, "id: not_nullable (got None)"),
    ("text key", {"id": "abc"}, "id: not an integer (got 'abc')"),
    (
        "field differing only in case",
        {"Name": "x"},
        "field 'Name' differs only in case from the declared field 'name'",
    ),
    ("two spellings of a new field", {"newF": 1, "NEWF": 2}, "fields 'newF' and 'NEWF' differ only in case"),
    (
        "a pipeline column's name",
        {"_synced_at": "x"},
        "field '_synced_at' has the name of a column the pipeline sets",
    ),
    ("empty field name", {"": 1}, "field name '' cannot be a column"),
    ("a NUL in a field name", {"a\x00b": 1}, "field name 'a\\x00b' cannot be a column"),
]


@pytest.fixture
def db(tmp_path):
    with duckdb.connect(str(tmp_path / "drift.duckdb")) as connection:
        ensure_raw_table(connection, CUSTOMERS)
        yield connection


def commit(db, records: list) -> tuple[int, int]:
    return commit_page(
        db,
        CUSTOMERS,
        "t1",
        page=validate_page(CUSTOMERS, records),
        position=StreamPosition("c1", True),
        run_id="run",
    )


@pytest.mark.parametrize(("case", "change", "column", "value"), STORED, ids=[c[0] for c in STORED])
def test_drift_that_is_stored(db, case, change, column, value):
    record = {k: v for k, v in {**BASE, **change}.items() if not (case == "missing field" and k == column)}
    neighbour = {**BASE, "id": 2}
    assert commit(db, [record, neighbour]) == (2, 0)
    got = db.execute(f'SELECT "{column}" FROM raw_export.customers WHERE id = 1').fetchone()[0]
    assert got == value


@pytest.mark.parametrize(("case", "change", "reason"), QUARANTINED, ids=[c[0] for c in QUARANTINED])
def test_drift_that_is_quarantined_with_its_reason_leaves_the_rest_of_the_page(db, case, change, reason):
    record = {**{k: v for k, v in BASE.items() if k.lower() not in map(str.lower, change)}, "id": 7, **change}
    page = [{**BASE, "id": 1}, record, {**BASE, "id": 2, "balance": 5}]
    assert commit(db, page) == (2, 1)
    stored = db.execute("SELECT id FROM raw_export.customers ORDER BY id").fetchall()
    assert stored == [(1,), (2,)]
    reasons, kept = db.execute("SELECT reasons, record FROM pipeline_state.quarantine").fetchone()
    assert reason in reasons
    assert json.loads(kept).keys() == record.keys()


def test_entries_that_are_not_objects_are_quarantined_as_sent(db):
    assert commit(db, [None, "text", 5, [1, 2], {**BASE}]) == (1, 4)
    rows = db.execute("SELECT record, reasons FROM pipeline_state.quarantine").fetchall()
    assert sorted(repr(None if r is None else json.loads(r)) for r, _ in rows) == sorted(
        map(repr, [None, "text", 5, [1, 2]])
    )
    assert all(reasons == "record is not a JSON object" for _, reasons in rows)
