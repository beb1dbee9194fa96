"""Whole-column fast paths for the usual case, one per field type (crm_pipeline.schemas.types).

A fast path takes a column's values (and `fitting`: whether the caller knows every value's type is one
the path takes, its `*_TYPES`) and returns the column as it goes to pandera, or None when some
value needs a closer look (then each value goes through its type's exact check, in
crm_pipeline.validation.values). Each takes the same decision as the exact check would for every
value it accepts, but in C (type sets, pyarrow conversions), and hands pandera a column already of
its dtype, so its coercion is free. Timestamps in the API's usual form are parsed by Arrow; others
stay text, for pandera's ISO 8601 coercion to parse (and refuse, row by row).

The `*_TYPES` sets are the value types each fast path takes (a field type's `fits`): a column with a
few others has those checked one by one, then goes through its fast path with the checked values in
their place.
"""

from __future__ import annotations

import msgspec
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm_pipeline.validation.values import NULL

_NONE = type(None)
INT_TYPES = frozenset({int, _NONE})  # bool is a type of its own here: True is refused
FLOAT_TYPES = frozenset({int, float, _NONE})
BOOL_TYPES = frozenset({bool, _NONE})
STR_TYPES = frozenset({str, _NONE})
_NULL_BYTES = pa.scalar(b"null", pa.large_binary())
_USUAL_INSTANT = r"^(1[7-9]|2[01])\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"
_UTC = pd.DatetimeTZDtype("ns", "UTC")
_INT64, _FLOAT64, _BOOLEAN, _STRING = (
    pd.Int64Dtype(),
    pd.Float64Dtype(),
    pd.BooleanDtype(),
    pd.StringDtype("pyarrow"),
)


def _types(values) -> set[type]:
    return set(map(type, values))


def fast_int(values, fitting: bool = False) -> object | None:
    if not fitting and not _types(values) <= INT_TYPES:
        return None
    try:
        return _INT64.__from_arrow__(pa.array(values, pa.int64()))
    except OverflowError:  # outside the 64-bit range: the value's own check says so
        return None


def fast_float(values, fitting: bool = False) -> object | None:
    if not fitting and not _types(values) <= FLOAT_TYPES:
        return None
    try:  # an int beyond 2**53 is refused here (not exactly a double): float() decides it one by one
        array = pa.array(values, pa.float64())
    except (OverflowError, pa.ArrowInvalid):
        return None
    if pc.is_finite(array).false_count:  # NaN or infinity (the standard library parses them)
        return None
    return _FLOAT64.__from_arrow__(array)


def fast_bool(values, fitting: bool = False) -> object | None:
    if not fitting and not _types(values) <= BOOL_TYPES:
        return None
    return _BOOLEAN.__from_arrow__(pa.array(values, pa.bool_()))


def fast_timestamp(values, fitting: bool = False) -> object | None:
    """Texts all in the API's usual form (``2024-05-01T10:20:30.1234567Z``, years 1700 to 2199) parsed
    by Arrow, which reads that form exactly as pandas does but faster; any other texts are left to
    pandera's ISO 8601 coercion (pandas), which also refuses, row by row, what is no timestamp."""
    try:
        texts = pa.array(values, pa.string())
    except (pa.ArrowException, UnicodeEncodeError):  # not all text (or None): the checks say why
        return None
    if not pc.all(pc.match_substring_regex(texts, _USUAL_INSTANT)).as_py():
        return values
    try:
        return _UTC.__from_arrow__(texts.cast(pa.timestamp("ns", "UTC")))
    except pa.ArrowInvalid:  # e.g. 30 February: pandera refuses it with its reason
        return values


def fast_text(values, fitting: bool = False) -> object | None:
    try:  # refuses anything but text (and None), and text with an unpaired surrogate
        return _STRING.__from_arrow__(pa.array(values, pa.string()))
    except (pa.ArrowException, UnicodeEncodeError):
        return None


def fast_json(values, fitting: bool = False) -> object | None:
    """JSON text of every value (None stays None), or None if one needs the standard library: compact
    for a parsed value, as sent for a raw one (crm_pipeline.validation.records)."""
    try:
        if _types(values) == {msgspec.Raw}:  # raw texts only (see as_raw): as they are, null as NULL
            array = _raw_texts(values)
            array = pc.if_else(pc.equal(array, _NULL_BYTES), pa.scalar(None, pa.large_binary()), array)
        else:  # orjson refuses a raw text, an unpaired surrogate, an int beyond 64 bits
            texts = list(map(orjson.dumps, values))
            missing = np.fromiter((v is None for v in values), dtype=bool, count=len(texts))
            array = pa.array(texts, pa.binary(), mask=missing)
        return _STRING.__from_arrow__(array.cast(pa.large_string()))  # pandas' own layout: no copy
    except (TypeError, orjson.JSONEncodeError, pa.ArrowInvalid):  # ArrowInvalid: not UTF-8
        return None


def _raw_texts(values: list[msgspec.Raw]) -> pa.Array:
    """The raw JSON texts as one Arrow binary array, built from one joined buffer and the texts'
    lengths (a bytes() copy of each text costs three times as much)."""
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
    return pa.Array.from_buffers(pa.large_binary(), len(values), buffers)


def as_raw(values, rows: list[int]) -> list:
    """A json column of typed and parsed records, with the parsed records' values (at `rows`) as raw
    JSON texts too, so that the whole column takes fast_json's raw way (a value orjson cannot
    write is left as it is: fast_json then refuses the column, and the checks take it)."""
    values = list(values)
    for i in rows:
        value = values[i]
        try:
            values[i] = NULL if value is None else msgspec.Raw(orjson.dumps(value))
        except (TypeError, orjson.JSONEncodeError):
            pass
    return values
