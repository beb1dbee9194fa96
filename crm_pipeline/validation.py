"""Turn one page of API records into a validated pandas frame, setting aside what fails.

Each declared value is first checked on its own against its field type (so that one odd value
never fails a whole column, and so the whole page), then the endpoint's pandera schema coerces
and validates the frame (lazy: every failure at once). A record that fails is not dropped: it is
returned with its reasons, for the quarantine table. Fields the schema does not know are kept, as
JSON text, in columns of their own.

What is stored as sent, converted, or quarantined (per field type):
- int: JSON integers in the 64-bit range, whole floats (``3.0``) and integer text (``"42"``); a
  fraction, a boolean, other text or an out-of-range number is quarantined.
- float: finite numbers and numeric text; anything else (a boolean, ``"lots"``, an overflow) is quarantined.
- bool: ``true``/``false`` (and ``0``/``1``); anything else is quarantined.
- timestamp: ISO 8601 text (no zone means UTC, an empty text NULL) from 1677 to 2262 (pandas'
  nanosecond range); anything else is quarantined.
- text: text as is; a number, boolean, object or list as its JSON text (an enum sent as ``2`` is
  ``"2"``).
- json: the value's JSON text.
- Text DuckDB cannot hold (an unpaired UTF-16 surrogate, which a JSON escape can carry) is quarantined.
- null is NULL in every non-key field; a null or missing key is quarantined.
A field name DuckDB cannot tell from another (same name but for case, the pipeline's own columns,
the empty name) quarantines the record, as no column could hold it.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter

import msgspec
import numpy as np
import orjson
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_lib
import pyarrow.compute as pc

from crm_pipeline.catalog import Endpoint
from crm_pipeline.fastjson import dumps_all, parse_json
from crm_pipeline.page_types import PIPELINE_COLUMNS, Rejected, ValidatedPage
from crm_pipeline.typed_records import INT64_MAX, INT64_MIN, NULL, Typed, decode_records, json_text

# pandera imports its pandas backends (and hypothesis, when installed) on its first validation: done
# here, when the pipeline loads, rather than inside a run's first page (half a second).
pa.DataFrameSchema({}).validate(pd.DataFrame())

_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_SHOWN_CHARS = 80


def to_json(value: object) -> str | None:
    """Compact JSON text of a value as received, non-ASCII kept as is; None stays None (SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _utf8(text: str) -> bool:
    """False when `text` holds an unpaired UTF-16 surrogate (JSON may escape one; UTF-8 and DuckDB cannot hold it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown_surrogates(value: object) -> object:
    """`value` with every unpaired surrogate in its texts and keys written out as the text ``\\udXXX``."""
    if isinstance(value, str):
        return value if _utf8(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_shown_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_shown_surrogates(k): _shown_surrogates(v) for k, v in value.items()}
    return value


def quarantine_json(record: object) -> str | None:
    """The JSON text kept in the quarantine: the record as received (an unpaired surrogate, which DuckDB
    cannot store, written out as ``\\udXXX`` text)."""
    text = to_json(record)
    return text if text is None or _utf8(text) else to_json(_shown_surrogates(record))


class _Bad(ValueError):
    """A value its field type cannot hold; the message says why."""


def _int(v: object) -> int | None:
    if v is None or (type(v) is int and INT64_MIN <= v <= INT64_MAX):
        return v
    if isinstance(v, bool):
        raise _Bad("a boolean where an integer is expected")
    if isinstance(v, float):
        if not v.is_integer():
            raise _Bad("not a whole number")
        n = int(v)
    elif isinstance(v, int):
        n = v
    elif isinstance(v, str) and _INT_TEXT.fullmatch(v):
        if len(v.strip().lstrip("+-").lstrip("0")) > 19:  # also spares int() texts of > 4300 digits
            raise _Bad("outside the 64-bit integer range")
        n = int(v)
    else:
        raise _Bad("not an integer")
    if not INT64_MIN <= n <= INT64_MAX:
        raise _Bad("outside the 64-bit integer range")
    return n


def _float(v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise _Bad("a boolean where a number is expected")
    if isinstance(v, str) and not _FLOAT_TEXT.fullmatch(v):
        raise _Bad("not a number")
    if not isinstance(v, (int, float, str)):
        raise _Bad("not a number")
    try:
        f = float(v)
    except OverflowError:
        raise _Bad("outside the range of a double") from None
    if not math.isfinite(f):
        raise _Bad("not a finite number")
    return f


def _bool(v: object) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if type(v) is int and v in (0, 1):
        return bool(v)
    raise _Bad("not true or false")


def _timestamp(v: object) -> str | None:
    if v is None or isinstance(v, str):
        return v  # parsed (or refused, row by row) by the schema's ISO 8601 coercion
    raise _Bad("not a timestamp text")


def _json(v: object) -> str | None:
    text = json_text(v) if type(v) is msgspec.Raw else to_json(v)
    if text is not None and not _utf8(text):
        raise _Bad("holds an unpaired UTF-16 surrogate, which DuckDB cannot store")
    return text


def _text(v: object) -> str | None:
    text = v if isinstance(v, str) else to_json(v)  # None stays None; 2 -> "2", {"a": 1} -> '{"a":1}'
    if text is not None and not _utf8(text):
        raise _Bad("holds an unpaired UTF-16 surrogate, which DuckDB cannot store")
    return text


_CHECKS: dict[str, Callable[[object], object]] = {
    "int": _int,
    "float": _float,
    "bool": _bool,
    "timestamp": _timestamp,
    "text": _text,
    "json": _json,
}


# Whole-column shortcuts for the usual case: the column as it goes to pandera, or None when some
# value needs a closer look (then each value goes through its check in _CHECKS). Each takes the
# same decision as the per-value checks would for every value it accepts, but in C (type sets,
# pyarrow conversions), and hands pandera a column already of its dtype, so its coercion is free.
# Timestamps in the API's usual form are parsed by Arrow; others stay text, for pandera's ISO 8601
# coercion to parse (and refuse, row by row).
_NONE = type(None)
_NULL_BYTES = pa_lib.scalar(b"null", pa_lib.large_binary())
_USUAL_INSTANT = r"^(1[7-9]|2[01])\d\d-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$"
_INT_TYPES, _FLOAT_TYPES, _BOOL_TYPES, _STR_TYPES = (
    {int, _NONE},
    {int, float, _NONE},
    {bool, _NONE},
    {str, _NONE},
)
_INT64, _FLOAT64, _BOOLEAN, _STRING = (
    pd.Int64Dtype(),
    pd.Float64Dtype(),
    pd.BooleanDtype(),
    pd.StringDtype("pyarrow"),
)


def _types(values) -> set[type]:
    return set(map(type, values))


def _fast_int(values) -> object | None:
    if not _types(values) <= _INT_TYPES:  # bool is a type of its own here: True is refused
        return None
    try:
        return _INT64.__from_arrow__(pa_lib.array(values, pa_lib.int64()))
    except OverflowError:  # outside the 64-bit range: the value's own check says so
        return None


def _fast_float(values) -> object | None:
    if not _types(values) <= _FLOAT_TYPES:
        return None
    try:  # an int beyond 2**53 is refused here (not exactly a double): float() decides it one by one
        array = pa_lib.array(values, pa_lib.float64())
    except (OverflowError, pa_lib.ArrowInvalid):
        return None
    if pc.is_finite(array).false_count:  # NaN or infinity (the standard library parses them)
        return None
    return _FLOAT64.__from_arrow__(array)


def _fast_bool(values) -> object | None:
    if not _types(values) <= _BOOL_TYPES:
        return None
    return _BOOLEAN.__from_arrow__(pa_lib.array(values, pa_lib.bool_()))


def _fast_timestamp(values) -> object | None:
    """Texts all in the API's usual form (``2024-05-01T10:20:30.1234567Z``, years 1700 to 2199) parsed
    by Arrow, which reads that form exactly as pandas does but faster; any other texts are left to
    pandera's ISO 8601 coercion (pandas), which also refuses, row by row, what is no timestamp."""
    try:
        texts = pa_lib.array(values, pa_lib.string())
    except (pa_lib.ArrowException, UnicodeEncodeError):  # not all text (or None): the checks say why
        return None
    if not pc.all(pc.match_substring_regex(texts, _USUAL_INSTANT)).as_py():
        return values
    try:
        return texts.cast(pa_lib.timestamp("ns", "UTC")).to_pandas()
    except pa_lib.ArrowInvalid:  # e.g. 30 February: pandera refuses it with its reason
        return values


def _fast_text(values) -> object | None:
    try:  # refuses anything but text (and None), and text with an unpaired surrogate
        return _STRING.__from_arrow__(pa_lib.array(values, pa_lib.string()))
    except (pa_lib.ArrowException, UnicodeEncodeError):
        return None


def _fast_json(values) -> object | None:
    """JSON text of every value (None stays None), or None if one needs the standard library: compact
    for a parsed value, as sent for a raw one (crm_pipeline.typed_records)."""
    try:
        if _types(values) == {msgspec.Raw}:  # raw texts only (see _as_raw): as they are, null as NULL
            array = _raw_texts(values)
            array = pc.if_else(
                pc.equal(array, _NULL_BYTES), pa_lib.scalar(None, pa_lib.large_binary()), array
            )
        else:  # orjson refuses a raw text, an unpaired surrogate, an int beyond 64 bits
            texts = list(map(orjson.dumps, values))
            missing = np.fromiter((v is None for v in values), dtype=bool, count=len(texts))
            array = pa_lib.array(texts, pa_lib.binary(), mask=missing)
        return _STRING.__from_arrow__(array.cast(pa_lib.large_string()))  # pandas' own layout: no copy
    except (TypeError, orjson.JSONEncodeError, pa_lib.ArrowInvalid):  # ArrowInvalid: not UTF-8
        return None


def _raw_texts(values: list[msgspec.Raw]) -> pa_lib.Array:
    """The raw JSON texts as one Arrow binary array, built from one joined buffer and the texts'
    lengths (a bytes() copy of each text costs three times as much)."""
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
    buffers = [None, pa_lib.py_buffer(offsets), pa_lib.py_buffer(b"".join(values))]
    return pa_lib.Array.from_buffers(pa_lib.large_binary(), len(values), buffers)


_FAST: dict[str, Callable[[list], object | None]] = {
    "int": _fast_int,
    "float": _fast_float,
    "bool": _fast_bool,
    "timestamp": _fast_timestamp,
    "text": _fast_text,
    "json": _fast_json,
}
# The value types each shortcut takes (json: any): a column with a few others has those checked one by
# one, then goes through its shortcut with the checked values in their place.
_FITS = {
    "int": _INT_TYPES,
    "float": _FLOAT_TYPES,
    "bool": _BOOL_TYPES,
    "timestamp": _STR_TYPES,
    "text": _STR_TYPES,
}


def _objects(values: list) -> np.ndarray:
    """`values` as a 1-d object array (never split into more dimensions)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def _name_problems(record: dict, declared: dict[str, str]) -> list[str]:
    """Why the record's field names could not all become columns (empty when they can)."""
    problems = []
    seen: dict[str, str] = {}
    for name in record:
        if not isinstance(name, str) or name == "":
            problems.append(f"field name {name!r} cannot be a column")
            continue
        if not _utf8(name):
            problems.append(f"field name {name!r} is not valid UTF-8")
            continue
        low = name.lower()
        if low in PIPELINE_COLUMNS:
            problems.append(f"field {name!r} has the name of a column the pipeline sets")
        elif low in seen:
            problems.append(
                f"fields {seen[low]!r} and {name!r} differ only in case (DuckDB column names ignore case)"
            )
        elif low in declared and declared[low] != name:
            problems.append(f"field {name!r} differs only in case from the declared field {declared[low]!r}")
        seen.setdefault(low, name)
    return problems


def _extra_names(endpoint: Endpoint, objects: list, bad_rows: set[int]) -> dict[str, list[str]]:
    """Undeclared fields of the page: column name (first spelling seen) -> every spelling of it.
    (A typed record has none: see crm_pipeline.typed_records.)"""
    declared = {n.lower() for n in endpoint.fields}
    good = [r for i, r in enumerate(objects) if type(r) is dict and i not in bad_rows]
    names = [n for n in set().union(*good) if n.lower() not in declared] if good else []
    if len({n.lower() for n in names}) == len(names):  # the usual case: no two spellings of one name
        return {n: [n] for n in sorted(names)}
    columns: dict[str, list[str]] = {}
    by_lower: dict[str, str] = {}
    for record in good:
        for name in record:
            low = name.lower()
            if low in declared:
                continue
            column = by_lower.setdefault(low, name)
            spellings = columns.setdefault(column, [])
            if name not in spellings:
                spellings.append(name)
    return dict(sorted(columns.items()))


def _raw_columns(endpoint: Endpoint, objects: list, dicts: list[int]) -> list:
    """The values of each declared field across the records (None where missing), one sequence per field.

    A record is a typed Struct (crm_pipeline.typed_records) or, at `dicts`, a parsed dict: one C call
    per record (an attribute or item getter), then a transpose."""
    names = list(endpoint.fields)
    if not objects:
        return [[] for _ in names]
    if not dicts:  # a column at a time: faster than a tuple per record, then a transpose
        return [list(map(attrgetter(f"f{i}"), objects)) for i in range(len(names))]
    by_attribute, by_key = (
        msgspec.structs.astuple,
        _row_getter(itemgetter, names),
    )  # a Struct's fields are in order
    if len(dicts) == len(objects):
        try:  # the usual case of parsed records, every field sent
            return list(zip(*map(by_key, objects)))
        except KeyError:
            pass
    rows = list(map(by_attribute, (r for r in objects if type(r) is not dict)))
    for i in dicts:  # in order, so each lands at its own place
        record = objects[i]
        rows.insert(i, tuple(map(record.get, names)))
    return list(zip(*rows))


def _row_getter(getter: Callable, names: list[str]) -> Callable[[object], tuple]:
    """`getter(*names)`, always returning a tuple (even for one name)."""
    get = getter(*names)
    return get if len(names) > 1 else lambda record: (get(record),)


def _as_raw(values, rows: list[int]) -> list:
    """A json column of typed and parsed records, with the parsed records' values (at `rows`) as raw
    JSON texts too, so that the whole column takes _fast_json's raw way (a value orjson cannot
    write is left as it is: _fast_json then refuses the column, and the checks take it)."""
    values = list(values)
    for i in rows:
        value = values[i]
        try:
            values[i] = NULL if value is None else msgspec.Raw(orjson.dumps(value))
        except (TypeError, orjson.JSONEncodeError):
            pass
    return values


def _frame(
    endpoint: Endpoint,
    objects: list,
    extra: dict[str, list[str]],
    reasons: dict[int, list[str]],
    fast: bool = True,
):
    """The page as a frame of checked values (declared fields, then extra ones as JSON); `reasons` gets the misfits.

    With `fast`, a column whose every value fits goes to pandera already typed (see _FAST); without
    it (and always for a column with a misfit), each value goes through its check in _CHECKS.
    """
    fields = [(name, [name], ftype.name) for name, ftype in endpoint.fields.items()]
    fields += [(column, spellings, "json") for column, spellings in extra.items()]
    declared = list(endpoint.fields)
    parsed = [i for i, record in enumerate(objects) if type(record) is dict]
    mixed = 0 < len(parsed) < len(objects)  # typed and parsed records (see _as_raw)
    raws = dict(
        zip(declared, _raw_columns(endpoint, objects, parsed))
    )  # extra fields: fetched as needed below
    columns: dict[str, object] = {}
    for column, spellings, kind in fields:
        if column in raws:
            raw = raws.pop(column)
        elif len(spellings) == 1:
            raw = [record.get(column) if type(record) is dict else None for record in objects]
        else:  # one column for names differing only in case across records (DuckDB cannot tell them apart)
            raw = [
                next((record[s] for s in spellings if s in record), None) if type(record) is dict else None
                for record in objects
            ]
        if not fast:
            values = None
        elif column in endpoint.fields:
            values = _FAST[kind](_as_raw(raw, parsed) if kind == "json" and mixed else raw)
        else:  # not in the schema: pandera leaves it as it is, object, as the checks below make it
            values = dumps_all(raw)
        if values is None:
            values = _checked(
                kind, raw, fast and column in endpoint.fields, _Blame(column, spellings, objects, reasons)
            )
        columns[column] = _objects(values) if isinstance(values, (list, tuple)) else values
    return pd.DataFrame(columns, index=pd.RangeIndex(len(objects)), copy=False)


@dataclass
class _Blame:
    """Where a refused value's reason goes: the row's list in `reasons`, under the name the record used."""

    column: str
    spellings: list[str]
    objects: list
    reasons: dict[int, list[str]]

    def __call__(self, i: int, why: _Bad, value: object) -> None:
        record = self.objects[i]
        name = next((s for s in self.spellings if type(record) is dict and s in record), self.column)
        self.reasons[i].append(f"{name}: {why} (got {_show(value)})")


def _checked(kind: str, raw: list, fast: bool, blame: _Blame) -> object:
    """The column's values, each checked by its field type's check in _CHECKS (a refused one becomes
    None and is blamed). With `fast`, only the values of a type the column's shortcut does not take are
    checked one by one; the shortcut then takes the column, with the checked values in their place."""
    check = _CHECKS[kind]

    def each(indexes) -> dict[int, object]:
        done = {}
        for i in indexes:
            try:
                done[i] = check(raw[i])
            except _Bad as why:
                blame(i, why, raw[i])
                done[i] = None
        return done

    done: dict[int, object] = {}
    if fast and kind in _FITS:
        fits = _FITS[kind]
        done = each([i for i, value in enumerate(raw) if type(value) not in fits])
        patched = list(raw)
        for i, value in done.items():
            patched[i] = value
        values = _FAST[kind](patched)
        if values is not None:
            return values
    rest = each([i for i in range(len(raw)) if i not in done])  # still a misfit: every value one by one
    return [done[i] if i in done else rest[i] for i in range(len(raw))]


def _coerced(
    endpoint: Endpoint, frame: pd.DataFrame, parsed: Callable[[int], dict], reasons: dict[int, list[str]]
):
    """`frame` coerced by the pandera schema, less the rows that fail it (their reasons added to `reasons`)."""
    schema = _schema_for(endpoint, frame)
    try:  # a schema that does not coerce changes nothing: no copy of the frame for it to work on
        return schema.validate(frame, lazy=True, inplace=schema is endpoint.typed_schema)
    except pa.errors.SchemaErrors as err:
        failures = err.failure_cases
    blamed: dict[int, list[str]] = defaultdict(list)
    whole: list[str] = []  # failures not tied to a row (a column or the frame)
    for row in failures.itertuples(index=False):
        if pd.isna(row.index):
            whole.append(f"{row.column}: {row.check}")
            continue
        i = int(row.index)
        got = row.failure_case
        if got is None or (not isinstance(got, (list, dict)) and pd.isna(got)):
            got = parsed(i).get(row.column) if isinstance(row.column, str) else got
        blamed[i].append(f"{row.column}: {row.check} (got {_show(got)})")
    if whole:  # find the rows to blame one by one, rather than refusing the whole page
        for i in frame.index.difference(list(blamed)):
            alone = _failures(schema, frame.loc[[i]])
            if alone:
                blamed[int(i)].extend(alone)
        rest = frame.drop(index=list(blamed))
        if not rest.empty and _failures(schema, rest):  # together they still fail: refuse them all
            for i in rest.index:
                blamed[int(i)].extend(whole)
    for i, why in blamed.items():
        reasons[i].extend(why)
    return schema.validate(frame.drop(index=list(blamed)), lazy=True)


def _schema_for(endpoint: Endpoint, frame: pd.DataFrame) -> pa.DataFrameSchema:
    """The endpoint's schema, or its twin without coercion when every declared column of `frame` has
    its dtype already (coercing would change nothing): the same checks either way."""
    dtypes = frame.dtypes
    typed = all(
        name in dtypes.index and dtypes[name] == column.dtype.type
        for name, column in endpoint.schema.columns.items()
    )
    return endpoint.typed_schema if typed else endpoint.schema


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame) -> list[str]:
    try:
        schema.validate(frame, lazy=True)
        return []
    except pa.errors.SchemaErrors as err:
        return [
            f"{r.column}: {r.check} (got {_show(r.failure_case)})"
            for r in err.failure_cases.itertuples(index=False)
        ]


def _record_id(key: object) -> str | None:
    if key is None:
        return None
    return _shown_surrogates(key if isinstance(key, str) else to_json(key))


def validate_page(endpoint: Endpoint, records: list, *, fast: bool = True) -> ValidatedPage:
    """Validate one page; rows to store come back coerced, deduplicated by key (last wins).

    `records` are parsed JSON values or raw JSON texts (msgspec.Raw, from an export walk with
    `raw_records`); `fast` types the usual ones in C (crm_pipeline.typed_records, then the _FAST
    column shortcuts). `fast=False` checks every value one by one (the reference the fast path is
    tested against).
    """
    objects, sources, rejected = [], [], []
    for source, record in zip(records, decode_records(endpoint, records, typed=fast)):
        if isinstance(record, (dict, Typed)):
            objects.append(record)
            sources.append(source)
        else:
            rejected.append(Rejected(None, quarantine_json(record), "record is not a JSON object"))

    def parsed(i: int) -> dict:  # record i as a dict, for the quarantine and the reasons
        record = objects[i]
        return record if type(record) is dict else parse_json(bytes(sources[i]))

    declared = {n.lower(): n for n in endpoint.fields}
    reasons: dict[int, list[str]] = defaultdict(list)
    dicts = [r for r in objects if type(r) is dict]  # a typed record's names are all declared ones
    if dicts and _name_problems(dict.fromkeys(set().union(*dicts)), declared):  # else no record has any
        for i, record in enumerate(objects):
            problems = _name_problems(record, declared) if type(record) is dict else None
            if problems:
                reasons[i].extend(problems)
    extra = _extra_names(endpoint, objects, set(reasons))
    frame = _frame(endpoint, objects, extra, reasons, fast)
    checked = set(reasons)  # rows already refused are validated too, so their reasons are all reported
    frame = _coerced(endpoint, frame, parsed, reasons)
    refused = [i for i in checked if i in frame.index]
    if refused:
        frame = frame.drop(index=refused)
    for i in sorted(reasons):
        raw = parsed(i)
        reason = "; ".join(dict.fromkeys(reasons[i]))
        rejected.append(Rejected(_record_id(raw.get(endpoint.key[0])), quarantine_json(raw), reason))
    repeated = frame.duplicated(subset=list(endpoint.key), keep="last")
    # Either way a fresh frame: kept as built, with its buffers shared with validation's Arrow arrays,
    # it left the loading process bigger (docs/PERFORMANCE.md).
    frame = frame[~repeated] if repeated.any() else frame.copy()
    return ValidatedPage(frame=frame, rejected=rejected, extra_fields=list(extra), received=len(records))
