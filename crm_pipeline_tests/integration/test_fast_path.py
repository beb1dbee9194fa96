"""The fast path of page validation and storage against the exact one.

An export walk hands `validate_page` each record as its JSON text; the usual ones are decoded
straight into typed Structs (crm_pipeline.typed_records), the others parsed. `validate_page` hands
pandera whole columns already typed when every value of a column fits (type sets and pyarrow
conversions in C), and checks one by one only the values that do not; pages are stored from
Arrow, with plain inserts while every key is new. Here, on generated pages (mostly clean, or as
messy as the property tests make them):
- the fast (from parsed records, and from the records' JSON texts, escaped to ASCII or not) and the
  exact (`fast=False`, every value checked on its own) validation give the same rows, the same
  rejects with the same reasons and the same new fields;
- both store the same rows, with `commit_page` and with `commit_new_page`;
- one bad value quarantines its record only, the rest of its column still stored;
- a clean page really takes the fast path (typed columns, no per-value checks).
"""

from __future__ import annotations

import json
import uuid

import duckdb
import msgspec
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_pipeline import validation
from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.storage import StreamPosition, commit_page, ensure_raw_table
from crm_pipeline.storage.commit import commit_new_page
from crm_pipeline.storage.layout import page_table
from crm_pipeline.typed_records import decode_records
from crm_pipeline.validation import validate_page
from crm_pipeline_tests.unit.test_reliability_properties import INT64, JSON_VALUES, TYPED, pages, timestamps

ENDPOINTS = [*EXPORT_FEEDS, endpoint("contacts")]
CUSTOMERS = endpoint("export/customers")
NULL = "<SQL NULL, not JSON null>"

FITTING = {  # values that fit their field (the usual page)
    "int": st.one_of(st.none(), st.integers(*INT64)),
    "float": st.one_of(
        st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)
    ),
    "bool": st.one_of(st.none(), st.booleans()),
    "timestamp": st.one_of(st.none(), timestamps()),
    "text": st.one_of(st.none(), st.text(max_size=8)),
    "json": JSON_VALUES,
}


@st.composite
def clean_pages(draw):
    """A page of records sending every declared field with a fitting value; now and then one value of
    any kind (TYPED: mostly misfits) in one record, or a field left out, or a new field."""
    ep = draw(st.sampled_from(ENDPOINTS))
    size = draw(st.integers(1, 40))
    key = ep.key[0]
    keys = (
        st.integers(1, 60)
        if ep.fields[key].name == "int"
        else st.sampled_from([str(uuid.UUID(int=i)) for i in range(1, 60)])
    )
    page = []
    for _ in range(size):
        record = {name: draw(FITTING[ftype.name]) for name, ftype in ep.fields.items() if name != key}
        record[key] = draw(keys)
        page.append(record)
    for _ in range(draw(st.integers(0, 2))):
        record = page[draw(st.integers(0, size - 1))]
        name = draw(st.sampled_from(list(ep.fields)))
        change = draw(st.sampled_from(["misfit", "missing", "extra"]))
        if change == "misfit":
            record[name] = draw(TYPED[ep.fields[name].name])
        elif change == "missing":
            record.pop(name, None)
        else:
            record[draw(st.sampled_from(["loyaltyTier", "LoyaltyTier", "legacyId"]))] = draw(JSON_VALUES)
    return ep, page


def comparable(ep, frame: pd.DataFrame) -> pd.DataFrame:
    """JSON columns parsed (the same value may be written `1e-05` or `0.00001`; SQL NULL is not JSON null),
    everything else as is."""
    frame = frame.copy()
    for column in frame.columns:
        if column not in ep.fields or ep.fields[column].is_json:
            frame[column] = pd.Series(
                [NULL if pd.isna(v) else json.loads(v) for v in frame[column]],
                index=frame.index,
                dtype=object,
            )
    return frame


def as_sent(page: list, ascii_only: bool) -> list[msgspec.Raw]:
    """The page's records as JSON texts, as an export walk hands them over (`raw_records`); non-ASCII
    text written as is, or escaped (always escaped where it holds an unpaired surrogate)."""
    texts = []
    for record in page:
        text = json.dumps(record, ensure_ascii=ascii_only, separators=(",", ":"))
        try:
            texts.append(msgspec.Raw(text.encode()))
        except UnicodeEncodeError:
            texts.append(msgspec.Raw(json.dumps(record, separators=(",", ":")).encode()))
    return texts


def assert_same_validation(ep, page: list) -> None:
    exact = validate_page(ep, page, fast=False)
    for fast in (
        validate_page(ep, page),
        validate_page(ep, as_sent(page, False)),
        validate_page(ep, as_sent(page, True)),
    ):
        assert fast.rejected == exact.rejected
        assert fast.extra_fields == exact.extra_fields
        pd.testing.assert_frame_equal(comparable(ep, fast.frame), comparable(ep, exact.frame))


HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)


@HYPOTHESIS
@given(clean_pages())
def test_fast_and_exact_validation_agree_on_mostly_clean_pages(case):
    assert_same_validation(*case)


@HYPOTHESIS
@given(pages())
def test_fast_and_exact_validation_agree_on_messy_pages(case):
    assert_same_validation(*case)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    conn = duckdb.connect(str(tmp_path_factory.mktemp("fast") / "crm.duckdb"))
    for ep in ENDPOINTS:
        ensure_raw_table(conn, ep)
    yield conn
    conn.close()


def stored(conn, ep, tenant: str) -> list[dict]:
    cur = conn.execute(
        f"SELECT * EXCLUDE (tenant_id, _synced_at) FROM {ep.qualified_table} WHERE tenant_id = ? "
        f'ORDER BY "{ep.key[0]}"',
        [tenant],
    )
    names = [d[0] for d in cur.description]
    json_columns = {n for n in names if n not in ep.fields or ep.fields[n].is_json}
    return [
        {n: (NULL if v is None else json.loads(v)) if n in json_columns else v for n, v in zip(names, row)}
        for row in cur.fetchall()
    ]


def quarantined(conn, tenant: str) -> list[tuple]:
    return conn.execute(
        "SELECT stream, record_id, record::VARCHAR, reasons FROM pipeline_state.quarantine "
        "WHERE tenant_id = ? ORDER BY ALL",
        [tenant],
    ).fetchall()


@HYPOTHESIS
@given(st.one_of(clean_pages(), pages()))
def test_fast_and_exact_paths_store_the_same_rows(db, case):
    ep, page = case
    tenants = [uuid.uuid4().hex for _ in range(3)]
    position = StreamPosition("p", True)
    counts = [
        commit_page(db, ep, tenants[0], validate_page(ep, page, fast=False), position),
        commit_page(db, ep, tenants[1], validate_page(ep, page), position),
        commit_new_page(db, ep, tenants[2], validate_page(ep, as_sent(page, False)), position)[0],
    ]
    assert counts[0] == counts[1] == counts[2]
    reference = stored(db, ep, tenants[0])
    assert stored(db, ep, tenants[1]) == reference and stored(db, ep, tenants[2]) == reference
    assert quarantined(db, tenants[1]) == quarantined(db, tenants[0]) == quarantined(db, tenants[2])


def customers(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "active": i % 2 == 0,
            "name": f"Customer {i} Zoë",
            "type": "Residential",
            "address": {"city": "Zürich", "zip": None},
            "customFields": [],
            "balance": i / 4,
            "taxExempt": False,
            "tagTypeIds": [i],
            "doNotMail": None,
            "doNotService": False,
            "nationalAccount": False,
            "createdOn": "2024-01-02T03:04:05.1234567Z",
            "createdById": 2**40 + i,
            "modifiedOn": "2024-01-02T03:04:05Z",
            "mergedToId": None,
            "paymentTermId": None,
            "creditLimit": None,
            "creditLimitBalance": 0,
            "externalData": None,
        }
        for i in range(1, n + 1)
    ]


def test_a_clean_page_takes_the_fast_path(monkeypatch):
    def refuse(value):
        raise AssertionError(f"value {value!r} checked on its own on a clean page")

    monkeypatch.setattr(validation, "_CHECKS", dict.fromkeys(validation._CHECKS, refuse))
    frame = validation._frame(CUSTOMERS, customers(50), {}, {})
    typed = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert typed["id"] == "Int64" and typed["balance"] == "Float64" and typed["active"] == "boolean"
    assert typed["name"] == "string" and typed["address"] == "string"
    assert typed["createdOn"] == "datetime64[ns, UTC]"  # the usual form, parsed by Arrow
    assert frame.loc[0, "address"] == '{"city":"Zürich","zip":null}' and pd.isna(frame.loc[0, "externalData"])


def test_a_clean_page_sent_as_json_is_decoded_typed_and_a_messy_record_parsed():
    page = customers(5)
    page[1]["balance"], page[2]["legacyId"], page[3]["name"] = "12.5", 7, "🤷"
    decoded = decode_records(CUSTOMERS, as_sent(page, ascii_only=False))
    assert [type(r).__name__ for r in decoded] == [
        "Typed_customers",
        "dict",
        "dict",
        "Typed_customers",
        "Typed_customers",
    ]
    escaped = decode_records(
        CUSTOMERS, as_sent(page, ascii_only=True)
    )  # the emoji as a surrogate pair: parsed
    assert [type(r).__name__ for r in escaped] == [
        "Typed_customers",
        "dict",
        "dict",
        "dict",
        "Typed_customers",
    ]
    assert decoded[1] == json.loads(json.dumps(page[1]))


def test_one_bad_value_quarantines_its_record_and_the_rest_is_stored(db):
    page = customers(500)
    page[123]["balance"] = "lots"
    page[321]["tagTypeIds"] = ["\ud800"]  # an unpaired surrogate: DuckDB cannot store it
    page[400]["createdOn"] = "2024-13-45T00:00:00Z"
    tenant = uuid.uuid4().hex
    validated = validate_page(CUSTOMERS, page)
    assert commit_new_page(db, CUSTOMERS, tenant, validated, StreamPosition("p", True)) == ((497, 3), True)
    rows = stored(db, CUSTOMERS, tenant)
    assert [r["id"] for r in rows] == [i for i in range(1, 501) if i not in (124, 322, 401)]
    assert (
        rows[0]["balance"] == 0.25
        and rows[0]["tagTypeIds"] == [1]
        and rows[0]["address"] == {"city": "Zürich", "zip": None}
    )
    assert rows[0]["externalData"] == NULL
    reasons = {rid: why for _, rid, _, why in quarantined(db, tenant)}
    assert reasons["124"] == "balance: not a number (got 'lots')"
    assert reasons["322"].startswith("tagTypeIds: holds an unpaired UTF-16 surrogate")
    assert reasons["401"].startswith("createdOn:")


def test_a_page_of_stored_keys_falls_back_to_replacing_rows(db):
    tenant = uuid.uuid4().hex
    first = customers(20)
    assert commit_new_page(
        db, CUSTOMERS, tenant, validate_page(CUSTOMERS, first), StreamPosition("a", True)
    ) == ((20, 0), True)
    second = [{**r, "name": "renamed"} for r in customers(30)[10:]]  # ids 11..30: ten stored already
    counts, fresh = commit_new_page(
        db, CUSTOMERS, tenant, validate_page(CUSTOMERS, second), StreamPosition("b", False)
    )
    assert (counts, fresh) == ((20, 0), False)
    rows = stored(db, CUSTOMERS, tenant)
    assert [r["id"] for r in rows] == list(range(1, 31))
    assert [r["name"] for r in rows] == [f"Customer {i} Zoë" for i in range(1, 11)] + ["renamed"] * 20
    assert db.execute(
        "SELECT position, has_more FROM pipeline_state.cursors WHERE tenant_id = ?", [tenant]
    ).fetchone() == ("b", False)


def test_arrow_pages_keep_the_microseconds_a_pandas_scan_keeps():
    moments = [
        "1960-01-01T00:00:00.1234567Z",
        "2020-01-01T00:00:00.1234567Z",
        "1969-12-31T23:59:59.9999999Z",
        "1677-09-22T00:12:43.145224192Z",
        "2262-04-11T23:47:16.854775Z",
        None,
    ]
    frame = pd.DataFrame(
        {"t": pd.to_datetime(pd.Series(moments), format="ISO8601", utc=True), "o": [None] * 6}
    )
    conn = duckdb.connect()
    conn.execute("CREATE TABLE a (t TIMESTAMPTZ, o JSON)")
    conn.register("from_pandas", frame)
    conn.register("from_arrow", page_table(frame))
    via_pandas = conn.execute("SELECT epoch_us(t) FROM from_pandas").fetchall()
    via_arrow = conn.execute("SELECT epoch_us(c0) FROM from_arrow").fetchall()
    assert via_arrow == via_pandas
    assert via_arrow[1] == (1577836800123456,) and via_arrow[-1] == (None,)


def test_json_columns_reach_duckdb_as_json_texts_unchanged():
    """Marked as Arrow's JSON type, the texts are stored as they are (no DuckDB re-parse and re-write),
    a column of nulls only included; other text columns stay VARCHAR."""
    texts = ['{"b": 1,  "a": [1.50, "é"]}', None, "12345678901234567890123", '"x"']
    frame = pd.DataFrame(
        {
            "j": pd.array(texts, dtype="string[pyarrow]"),
            "nothing": [None] * 4,
            "t": pd.array(["a", None, "c", "d"], dtype="string[pyarrow]"),
        }
    )
    conn = duckdb.connect()
    conn.execute("CREATE TABLE a (j JSON, nothing JSON, t VARCHAR)")
    conn.register("page", page_table(frame, {"j", "nothing"}))
    assert [r[1] for r in conn.execute("DESCRIBE page").fetchall()] == ["JSON", "JSON", "VARCHAR"]
    conn.execute("INSERT INTO a SELECT * FROM page")
    assert conn.execute("SELECT j, nothing, t FROM a").fetchall() == [
        (texts[0], None, "a"),
        (None, None, None),
        (texts[2], None, "c"),
        (texts[3], None, "d"),
    ]
    assert conn.execute("SELECT j.a[1]::VARCHAR, j->>'b' FROM a LIMIT 1").fetchone() == ('"é"', "1")


def test_the_last_nanosecond_pandas_holds_is_not_infinity():
    """DuckDB reads the largest pandas instant as `infinity` from a frame; from Arrow it keeps its microseconds."""
    frame = pd.DataFrame(
        {"t": pd.to_datetime(pd.Series(["2262-04-11T23:47:16.854775807Z"]), format="ISO8601", utc=True)}
    )
    conn = duckdb.connect()
    conn.register("from_arrow", page_table(frame))
    assert conn.execute("SELECT epoch_us(c0) FROM from_arrow").fetchone() == (9223372036854775,)
