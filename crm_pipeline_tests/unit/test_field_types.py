"""What each field type (crm_pipeline.schemas.types) must provide, shown on a few values of each.

A `FieldType` brings its exact check of one value (`check`), its whole-column fast path
(`fast_column`), the value types that path takes (`fits`) and the type an export record is decoded
into (`decoder_type`). For the pipeline to decide the same way whichever path a page takes:
- on a column of typical and edge values, the fast path gives what the exact check gives, once
  pandera has coerced both to the type's dtype;
- on a column the fast path cannot take whole, it declines (None), and the exact check decides;
- the types the fast path takes are in `fits`;
- a value decoded straight from JSON into `decoder_type` is checked into the same value, and has a type
  in `fits` (validation hands such columns to the fast path without looking at each value's type).
A new field type adds its cases to TAKEN and DECLINED (the first test fails until it does).
"""

from __future__ import annotations

import json

import msgspec
import pandas as pd
import pytest
from pandera.engines import pandas_engine

from crm_pipeline.schemas import types
from crm_pipeline.schemas.types import FieldType
from crm_pipeline.validation.values import INT64_MAX, INT64_MIN, NULL, Bad

FIELD_TYPES = {t.name: t for t in vars(types).values() if isinstance(t, FieldType)}

TAKEN = {  # columns each fast path takes whole: typical values and the edges of what fits
    "int": [1, None, 0, INT64_MIN, INT64_MAX],
    "float": [1.5, None, 3, -(2**53), 1e300, 0.0],
    "bool": [True, False, None],
    "text": ["x", "", "  padded ", "Zoë", "😀", "a\x00b", None],
    "timestamp": ["2024-05-01T10:20:30.1234567Z", "1700-01-01T00:00:00Z", None],
    "json": [{"a": [1, "é"]}, [], "x", 2, None, True, 1.5, {"zip": None}],
}
# Timestamps not in the API's usual form: taken as texts, for pandera's ISO 8601 coercion.
OTHER_TIMESTAMPS = ["2024-05-01T10:20:30", "2024-05-01T10:20:30+02:00", "", None]
RAW_JSON = [msgspec.Raw(b'{"b": 1,  "a": [1.50]}'), NULL, msgspec.Raw(b'"x"')]  # as sent: kept as sent

DECLINED = {  # (value the fast path declines, what the exact check makes of it; Bad: refused)
    "int": [("42", 42), (True, Bad), (2**63, Bad), (2.0, 2), (2.5, Bad)],
    "float": [("12.5", 12.5), (True, Bad), (2**53 + 1, float(2**53 + 1)), ("lots", Bad)],
    "bool": [(1, True), (0, False), ("true", Bad), (2, Bad)],
    "text": [(2, "2"), ({"a": 1}, '{"a":1}'), ("x\ud800", Bad)],
    "timestamp": [(5, Bad), (True, Bad)],
    "json": [({"a": "\ud800"}, Bad), (2**70, str(2**70))],
}


def coerced(ftype: FieldType, values) -> list:
    """The column as pandera's coercion to the type's dtype makes it (what validation then stores)."""
    dtype = pandas_engine.Engine.dtype(ftype.pandas_dtype)
    column = pd.Series(values, dtype=object) if isinstance(values, list) else pd.Series(values)
    return dtype.coerce(column).tolist()


def exact(ftype: FieldType, values: list) -> list:
    return [ftype.check(v) for v in values]


def test_every_field_type_has_cases_here():
    assert set(FIELD_TYPES) == set(TAKEN) == set(DECLINED)


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_the_fast_path_gives_what_the_exact_check_gives(name):
    ftype = FIELD_TYPES[name]
    fast = ftype.fast_column(TAKEN[name])
    assert fast is not None, f"{name}: the fast path declined its usual values"
    assert coerced(ftype, fast) == coerced(ftype, exact(ftype, TAKEN[name]))


def test_timestamps_in_another_form_are_left_as_texts_for_pandera():
    ftype = FIELD_TYPES["timestamp"]
    fast = ftype.fast_column(OTHER_TIMESTAMPS)
    assert list(fast) == exact(ftype, OTHER_TIMESTAMPS) == OTHER_TIMESTAMPS
    moments = coerced(ftype, fast)
    assert moments[0] == pd.Timestamp("2024-05-01T10:20:30Z")  # no zone: UTC
    assert moments[1] == pd.Timestamp("2024-05-01T08:20:30Z")
    assert pd.isna(moments[2]) and pd.isna(moments[3])


def test_a_time_without_a_zone_is_utc_even_after_one_with_an_offset():
    ftype = FIELD_TYPES["timestamp"]
    sent = ["2024-05-01T10:20:30+02:00", "2024-05-01T10:20:30", "2024-05-01 10:20:30.5"]
    moments = coerced(ftype, ftype.fast_column(sent))
    assert moments == coerced(ftype, exact(ftype, sent))
    assert moments[0] == pd.Timestamp("2024-05-01T08:20:30Z")
    assert moments[1] == pd.Timestamp("2024-05-01T10:20:30Z")  # not in the first value's offset
    assert moments[2] == pd.Timestamp("2024-05-01T10:20:30.5Z")


def test_raw_json_texts_are_kept_as_sent_both_ways():
    ftype = FIELD_TYPES["json"]
    want = ['{"b": 1,  "a": [1.50]}', None, '"x"']
    assert exact(ftype, RAW_JSON) == want
    assert coerced(ftype, ftype.fast_column(RAW_JSON)) == coerced(ftype, want)


@pytest.mark.parametrize(
    ("name", "value", "want"),
    [(name, value, want) for name, cases in DECLINED.items() for value, want in cases],
    ids=lambda v: repr(v)[:20],
)
def test_the_fast_path_declines_what_needs_the_exact_check(name, value, want):
    ftype = FIELD_TYPES[name]
    column = [value, *TAKEN[name]]
    assert ftype.fast_column(column) is None
    if want is Bad:
        with pytest.raises(Bad):
            ftype.check(value)
    else:
        assert ftype.check(value) == want and type(ftype.check(value)) is type(want)


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_the_fast_path_takes_the_types_in_fits(name):
    ftype = FIELD_TYPES[name]
    if ftype.fits is None:  # any value type: the fast path itself decides
        return
    assert {type(v) for v in TAKEN[name]} <= ftype.fits
    declined_types = {type(v) for v, _ in DECLINED[name]} - ftype.fits
    assert all(ftype.fast_column([v]) is None for v, _ in DECLINED[name] if type(v) in declined_types)


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_a_value_decoded_into_the_decoder_type_is_checked_the_same(name):
    ftype = FIELD_TYPES[name]
    for value in TAKEN[name]:
        if value is None:
            continue
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
        decoded = msgspec.json.decode(text, type=ftype.decoder_type)
        assert ftype.check(decoded) == ftype.check(value), (name, value, decoded)


@pytest.mark.parametrize("name", sorted(TAKEN))
def test_what_the_decoder_type_takes_is_in_fits(name):
    ftype = FIELD_TYPES[name]
    if ftype.fits is None:
        return
    sent = [v for values in TAKEN.values() for v in values] + [
        v for values in DECLINED.values() for v, _ in values
    ]
    decoder = msgspec.json.Decoder(ftype.decoder_type | None)
    taken = []
    for value in sent:
        try:
            taken.append(decoder.decode(json.dumps(value).encode()))
        except msgspec.DecodeError:  # refused (a ValidationError is one): the exact checks decide
            continue
    assert {type(v) for v in taken} <= ftype.fits, name
    fast = ftype.fast_column(taken, fitting=True)
    assert fast is not None and list(fast) == list(ftype.fast_column(taken))
