"""The fast path of page validation against the exact one.

An export walk hands `validate_page` each record as its JSON text; the usual ones are decoded
straight into typed Structs (crm_pipeline.validation.records), the others parsed. `validate_page` hands
pandera whole columns already typed when every value of a column fits (type sets and pyarrow
conversions in C), and checks one by one only the values that do not. Here, on generated pages
(mostly clean, or as messy as the property tests make them):
- the fast (from parsed records, and from the records' JSON texts, escaped to ASCII or not) and the
  exact (`fast=False`, every value checked on its own) validation give the same rows, the same
  rejects with the same reasons and the same new fields;
- a clean page really takes the fast path (typed columns, no per-value checks).
Storing both ways: test_fast_path_storage.py.
"""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
from hypothesis import given

from crm_pipeline.validation import validate_page
from crm_pipeline.validation.frame import build_frame
from crm_pipeline.validation.records import decode_records
from crm_pipeline_tests.fast_path_pages import CUSTOMERS, NULL, as_sent, customers
from crm_pipeline_tests.strategies import HYPOTHESIS, clean_pages, pages


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


@HYPOTHESIS
@given(clean_pages())
def test_fast_and_exact_validation_agree_on_mostly_clean_pages(case):
    assert_same_validation(*case)


@HYPOTHESIS
@given(pages())
def test_fast_and_exact_validation_agree_on_messy_pages(case):
    assert_same_validation(*case)


def test_a_clean_page_takes_the_fast_path():
    def refuse(value):
        raise AssertionError(f"value {value!r} checked on its own on a clean page")

    refusing = {name: dataclasses.replace(ftype, check=refuse) for name, ftype in CUSTOMERS.fields.items()}
    frame = build_frame(dataclasses.replace(CUSTOMERS, fields=refusing), customers(50), {}, reasons={})
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
