"""Property-based tests (hypothesis) over record shapes: every record is stored exactly or quarantined.

Pages of generated records (crm_pipeline_tests.strategies: well-typed values, values of the wrong
JSON type, huge numbers, timestamps outside any range, lone UTF-16 surrogates, unknown fields with
awkward names, missing or junk keys, repeated keys, entries that are not objects) go through
`validate_page` + `commit_page` into a real DuckDB file. Whatever the page holds:
- the commit never raises;
- each record is either in the raw table (its key's last stored version, every value equal to what
  was sent) or in `pipeline_state.quarantine` exactly as sent, with a reason; never both, never neither;
- a record whose every value fits its field ("clean") is never quarantined.
"""

from __future__ import annotations

import json
import math
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import HealthCheck, given, settings

from crm_pipeline.catalog import endpoint
from crm_pipeline.page_types import PIPELINE_COLUMNS
from crm_pipeline.storage import StreamPosition
from crm_pipeline.storage.tables import DELETED_AT_COLUMN, SYNCED_AT_COLUMN, TENANT_COLUMN
from crm_pipeline.validation import validate_page
from crm_pipeline.validation.quarantine import quarantine_json
from crm_pipeline_tests.commits import commit_page
from crm_pipeline_tests.strategies import INT64, pages


# -- the oracle ---------------------------------------------------------------------------------
def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def fits(kind: str, value) -> bool:
    """Whether a value plainly belongs in a field of `kind` (an independent, strict reading)."""
    if value is None:
        return True
    if kind == "int":
        return type(value) is int and INT64[0] <= value <= INT64[1]
    if kind == "float":
        return type(value) in (int, float) and abs(value) < 1e300
    if kind == "bool":
        return type(value) is bool
    if kind == "timestamp":
        try:
            return isinstance(value, str) and 1678 <= instant(value).year <= 2261
        except ValueError:
            return False
    if kind == "text":
        return isinstance(value, str) and utf8(value)
    return utf8(dumps(value))  # json


def clean(ep, record) -> bool:
    """A record nothing is wrong with: it must be stored, never quarantined."""
    if not isinstance(record, dict) or record.get(ep.key[0]) is None:
        return False
    declared = {n.lower() for n in ep.fields}
    names = [n.lower() for n in record]
    if len(set(names)) != len(names) or any(
        not n or "\x00" in n or n in PIPELINE_COLUMNS or not utf8(n) for n in names
    ):
        return False
    if any(n.lower() in declared and n not in ep.fields for n in record):
        return False
    return all(fits(ep.fields[n].name if n in ep.fields else "json", v) for n, v in record.items())


def stored_key(ep, value):
    """The key a stored record must have been stored under (raises if it should not have been stored)."""
    if ep.fields[ep.key[0]].name == "int":
        assert not isinstance(value, bool), f"a boolean key {value!r} was stored"
        number = int(value.strip()) if isinstance(value, str) else int(value)
        assert number == value or isinstance(value, str) and value.strip().lstrip("+-").isdigit(), value
        assert INT64[0] <= number <= INT64[1]
        return number
    assert value is not None
    return value if isinstance(value, str) else dumps(value)


def expected(kind: str, value):
    """What the raw table must hold for a value that was stored (None: NULL)."""
    if value is None:
        return None
    if kind == "int":
        assert not isinstance(value, bool), f"boolean {value!r} stored in an integer column"
        number = int(value)
        assert isinstance(value, str) or number == value, f"{value!r} stored as an integer"
        return number
    if kind == "float":
        assert not isinstance(value, bool), f"boolean {value!r} stored in a number column"
        return float(value)
    if kind == "bool":
        assert value in (True, False, 0, 1) and not isinstance(value, str), f"{value!r} stored as a boolean"
        return bool(value)
    if kind == "timestamp":
        assert isinstance(value, str), f"{value!r} stored as a timestamp"
        return None if value == "" else instant(value)
    if kind == "text":
        return value if isinstance(value, str) else dumps(value)
    return value  # json: compared parsed


def same(kind: str, want, got) -> bool:
    if kind == "json":
        return want == (None if got is None else json.loads(got)) and (got is None) == (want is None)
    if kind == "timestamp" and want is not None and got is not None:
        return abs(pd.Timestamp(got) - pd.Timestamp(want)) <= timedelta(microseconds=1)
    if kind == "float" and want is not None and got is not None:
        return got == want or math.isclose(got, want, rel_tol=1e-15)
    return want == got and type(want) is type(got) or (want is None and got is None)


def canonical(text_or_value) -> str:
    value = json.loads(text_or_value) if isinstance(text_or_value, str) else text_or_value
    return json.dumps(value, sort_keys=True)


def check_page(conn, ep, page: list, tenant: str) -> None:
    """Commit `page` and assert every record is accounted for: stored exactly, or quarantined as sent."""
    validated = validate_page(ep, page)
    upserted, quarantined = commit_page(
        conn, ep, tenant, page=validated, position=StreamPosition("p1", True), run_id="prop"
    )
    rows = conn.execute(
        "SELECT record, reasons, record_id FROM pipeline_state.quarantine WHERE tenant_id = ?", [tenant]
    ).fetchall()
    assert quarantined == len(rows) == len(validated.rejected)
    assert all(reasons.strip() for _, reasons, _ in rows), "a record was quarantined without a reason"
    waiting = Counter(canonical(record) for record, _, _ in rows)
    latest: dict = {}
    for record in page:
        sent = canonical(quarantine_json(record))
        if waiting[sent]:
            waiting[sent] -= 1
            assert not clean(ep, record), f"a clean record was quarantined: {record!r}"
            continue
        assert isinstance(record, dict) and ep.key[0] in record, f"neither stored nor quarantined: {record!r}"
        latest[stored_key(ep, record[ep.key[0]])] = record
    assert +waiting == Counter(), f"quarantined records that were never sent: {+waiting}"
    cur = conn.execute(f"SELECT * FROM {ep.qualified_table} WHERE tenant_id = ?", [tenant])
    names = [d[0] for d in cur.description]
    table = {row[names.index(ep.key[0])]: dict(zip(names, row, strict=True)) for row in cur.fetchall()}
    assert set(table) == set(latest) and upserted == len(latest)
    for key, record in latest.items():
        row = {name.lower(): value for name, value in table[key].items()}
        for name, ftype in ep.fields.items():
            value = record.get(name)
            want = expected(ftype.name, value)
            assert same(ftype.name, want, row[name.lower()]), (
                f"{name}: sent {value!r}, stored {row[name.lower()]!r}"
            )
        for name, value in record.items():
            if name not in ep.fields:
                assert same("json", value, row[name.lower()]), (
                    f"new field {name}: sent {value!r}, stored {row[name.lower()]!r}"
                )
        assert row[TENANT_COLUMN] == tenant and row[SYNCED_AT_COLUMN] is not None


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
@given(pages())
def test_every_record_is_stored_exactly_or_quarantined(page_db, case):
    ep, page = case
    check_page(page_db, ep, page, tenant=uuid.uuid4().hex)  # a fresh tenant: its own rows in shared tables


def test_the_pipeline_columns_are_the_ones_validation_guards():
    assert set(PIPELINE_COLUMNS) == {TENANT_COLUMN, SYNCED_AT_COLUMN, DELETED_AT_COLUMN}


def commit(conn, ep, tenant: str, page: list) -> tuple[int, int]:
    return commit_page(conn, ep, tenant, page=validate_page(ep, page), position=StreamPosition("p", True))


def test_a_new_field_spelled_two_ways_lands_in_one_column_across_pages(page_db):
    ep, tenant = endpoint("export/customers"), uuid.uuid4().hex
    assert commit(
        page_db, ep, tenant, [{"id": 1, "loyaltyTier": "gold"}, {"id": 2, "LoyaltyTier": "silver"}]
    ) == (2, 0)
    assert commit(page_db, ep, tenant, [{"id": 3, "LOYALTYTIER": {"level": 3}}]) == (1, 0)
    rows = page_db.execute(
        'SELECT id, "loyaltyTier" FROM raw_export.customers WHERE tenant_id = ? ORDER BY id', [tenant]
    ).fetchall()
    assert [(i, json.loads(v)) for i, v in rows] == [(1, "gold"), (2, "silver"), (3, {"level": 3})]


def test_a_field_a_newer_version_no_longer_sends_is_null(page_db):
    ep, tenant = endpoint("export/customers"), uuid.uuid4().hex
    commit(page_db, ep, tenant, [{"id": 1, "name": "A", "loyaltyTier": "gold"}])
    commit(page_db, ep, tenant, [{"id": 1, "name": "B"}])
    row = page_db.execute(
        'SELECT name, "loyaltyTier" FROM raw_export.customers WHERE tenant_id = ?', [tenant]
    ).fetchone()
    assert row == ("B", None)
