"""The fast path of page storage against the exact one.

Pages are stored from Arrow, with plain inserts while every key is new. Here:
- pages validated the fast way and the exact way store the same rows, with `commit_page` and with
  `commit_new_page` (on generated pages, mostly clean or as messy as the property tests make them);
- one bad value quarantines its record only, the rest of its column still stored;
- a page of stored keys falls back to replacing rows; Arrow keeps timestamps and JSON texts exactly.
"""

from __future__ import annotations

import json
import uuid

import duckdb
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from crm_pipeline.storage import StreamPosition
from crm_pipeline.storage.layout import page_table
from crm_pipeline.validation import validate_page
from crm_pipeline_tests.commits import commit_new_page, commit_page
from crm_pipeline_tests.fast_path_pages import CUSTOMERS, NULL, as_sent, customers
from crm_pipeline_tests.strategies import HYPOTHESIS, clean_pages, pages


def stored(conn, ep, tenant: str) -> list[dict]:
    cur = conn.execute(
        f"SELECT * EXCLUDE (tenant_id, _synced_at) FROM {ep.qualified_table} WHERE tenant_id = ? "
        f'ORDER BY "{ep.key[0]}"',
        [tenant],
    )
    names = [d[0] for d in cur.description]
    json_columns = {n for n in names if n not in ep.fields or ep.fields[n].is_json}
    return [
        {
            n: (NULL if v is None else json.loads(v)) if n in json_columns else v
            for n, v in zip(names, row, strict=True)
        }
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
def test_fast_and_exact_paths_store_the_same_rows(page_db, case):
    ep, page = case
    tenants = [uuid.uuid4().hex for _ in range(3)]
    position = StreamPosition("p", True)
    counts = [
        commit_page(page_db, ep, tenants[0], page=validate_page(ep, page, fast=False), position=position),
        commit_page(page_db, ep, tenants[1], page=validate_page(ep, page), position=position),
        commit_new_page(
            page_db, ep, tenants[2], page=validate_page(ep, as_sent(page, False)), position=position
        )[0],
    ]
    assert counts[0] == counts[1] == counts[2]
    reference = stored(page_db, ep, tenants[0])
    assert stored(page_db, ep, tenants[1]) == reference and stored(page_db, ep, tenants[2]) == reference
    assert (
        quarantined(page_db, tenants[1])
        == quarantined(page_db, tenants[0])
        == quarantined(page_db, tenants[2])
    )


def test_one_bad_value_quarantines_its_record_and_the_rest_is_stored(page_db):
    page = customers(500)
    page[123]["balance"] = "lots"
    page[321]["tagTypeIds"] = ["\ud800"]  # an unpaired surrogate: DuckDB cannot store it
    page[400]["createdOn"] = "2024-13-45T00:00:00Z"
    tenant = uuid.uuid4().hex
    validated = validate_page(CUSTOMERS, page)
    assert commit_new_page(
        page_db, CUSTOMERS, tenant, page=validated, position=StreamPosition("p", True)
    ) == ((497, 3), True)
    rows = stored(page_db, CUSTOMERS, tenant)
    assert [r["id"] for r in rows] == [i for i in range(1, 501) if i not in (124, 322, 401)]
    assert (
        rows[0]["balance"] == 0.25
        and rows[0]["tagTypeIds"] == [1]
        and rows[0]["address"] == {"city": "Zürich", "zip": None}
    )
    assert rows[0]["externalData"] == NULL
    reasons = {rid: why for _, rid, _, why in quarantined(page_db, tenant)}
    assert reasons["124"] == "balance: not a number (got 'lots')"
    assert reasons["322"].startswith("tagTypeIds: holds an unpaired UTF-16 surrogate")
    assert reasons["401"].startswith("createdOn:")


def test_a_page_of_stored_keys_falls_back_to_replacing_rows(page_db):
    tenant = uuid.uuid4().hex
    first = customers(20)
    assert commit_new_page(
        page_db, CUSTOMERS, tenant, page=validate_page(CUSTOMERS, first), position=StreamPosition("a", True)
    ) == ((20, 0), True)
    second = [{**r, "name": "renamed"} for r in customers(30)[10:]]  # ids 11..30: ten stored already
    counts, fresh = commit_new_page(
        page_db, CUSTOMERS, tenant, page=validate_page(CUSTOMERS, second), position=StreamPosition("b", False)
    )
    assert (counts, fresh) == ((20, 0), False)
    rows = stored(page_db, CUSTOMERS, tenant)
    assert [r["id"] for r in rows] == list(range(1, 31))
    assert [r["name"] for r in rows] == [f"Customer {i} Zoë" for i in range(1, 11)] + ["renamed"] * 20
    assert page_db.execute(
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
    """DuckDB reads the largest pandas instant as `infinity` from a frame; from Arrow it keeps its
    microseconds."""
    frame = pd.DataFrame(
        {"t": pd.to_datetime(pd.Series(["2262-04-11T23:47:16.854775807Z"]), format="ISO8601", utc=True)}
    )
    conn = duckdb.connect()
    conn.register("from_arrow", page_table(frame))
    assert conn.execute("SELECT epoch_us(c0) FROM from_arrow").fetchone() == (9223372036854775,)
