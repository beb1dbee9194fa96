"""A page's records into typed values, and into one sequence of values per declared field.

An export walk hands the records over as their JSON texts. Each endpoint gets a msgspec Struct built
from its catalog fields (each field type's `decoder_type`): a record whose every declared value
already has its plain JSON type (an integer for an int, true/false for a bool, text for a text or
timestamp, anything for a json field) and that sends no other field decodes into it in C, json
fields kept as their raw JSON text. Any other record (a "42" for an int, an unknown field, a null
key, a field name in another case, an unpaired surrogate escape, ...) is parsed as plain JSON and
goes through the exact value-by-value checks, which decide the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

import msgspec
import pyarrow as pa
import pyarrow.compute as pc

from crm_pipeline.fastjson import arrow_value, parse_json
from crm_pipeline.validation.values import NULL

if TYPE_CHECKING:
    from crm_pipeline.catalog import Endpoint

# An escaped UTF-16 surrogate: an unpaired one is refused by the exact checks, and a json field's raw
# text is not decoded here, so such a record takes the exact way (a pair, as for an emoji, does too).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_RE2 = _SURROGATE_ESCAPE.pattern.decode()


class Typed(msgspec.Struct):
    """Base of the per-endpoint record Structs; fields are named f0, f1, ... (any JSON name works)."""


_DECODERS: dict[tuple[str, str], msgspec.json.Decoder] = {}


def _decoder(endpoint: Endpoint) -> msgspec.json.Decoder:
    found = _DECODERS.get((endpoint.kind, endpoint.path))
    if found is None:
        found = _DECODERS[endpoint.kind, endpoint.path] = _new_decoder(endpoint)
    return found


def _new_decoder(endpoint: Endpoint) -> msgspec.json.Decoder:
    fields = []
    for i, (name, ftype) in enumerate(endpoint.fields.items()):
        if ftype.is_json:  # a missing field reads as null, as in the exact checks
            fields.append((f"f{i}", ftype.decoder_type, NULL))
        elif name in endpoint.key:  # required, never null: else the exact way quarantines it
            fields.append((f"f{i}", ftype.decoder_type))
        else:
            fields.append((f"f{i}", ftype.decoder_type | None, None))
    rename = {f"f{i}": name for i, name in enumerate(endpoint.fields)}
    struct = msgspec.defstruct(
        f"Typed_{endpoint.table}",
        fields,
        bases=(Typed,),
        forbid_unknown_fields=True,
        rename=rename,
        gc=False,
        kw_only=True,
    )
    return msgspec.json.Decoder(struct)


def decode_records(endpoint: Endpoint, records: list, *, typed: bool = True) -> list:
    """`records` with each raw one (msgspec.Raw) decoded: a `Typed` Struct where it fits (see the
    module's docstring), else its parsed JSON value. Records already parsed pass as they are."""
    decode = _decoder(endpoint).decode
    # one search of the whole page instead of one per record (a usual page has no such escape at all)
    escapes = typed and _any_surrogate_escape(b"".join(r for r in records if type(r) is msgspec.Raw))
    out = []
    for record in records:
        if type(record) is not msgspec.Raw:
            out.append(record)
            continue
        if typed and not (escapes and _SURROGATE_ESCAPE.search(record)):
            try:
                out.append(decode(record))
                continue
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
                pass
        out.append(parse_json(bytes(record)))
    return out


def _any_surrogate_escape(text: bytes) -> bool:
    """Whether `text` holds what may be an escaped surrogate: searched by Arrow's regular expressions,
    many times faster than Python's on a page's megabytes."""
    whole = arrow_value(text, pa.large_binary())
    return pc.match_substring_regex(whole, _SURROGATE_ESCAPE_RE2)[0].as_py()


def raw_columns(endpoint: Endpoint, objects: list, dicts: list[int]) -> list:
    """The values of each declared field across the records (None where missing), one sequence per field.

    A record is a typed Struct or, at `dicts`, a parsed dict: one C call per record (an attribute or
    item getter), then a transpose."""
    names = list(endpoint.fields)
    if not objects:
        return [[] for _ in names]
    if not dicts:  # a column at a time: faster than a tuple per record, then a transpose
        return [list(map(attrgetter(f"f{i}"), objects)) for i in range(len(names))]
    by_attribute = msgspec.structs.astuple  # a Struct's fields are in order
    by_key = _row_getter(itemgetter, names)
    if len(dicts) == len(objects):
        try:  # the usual case of parsed records, every field sent
            return list(zip(*map(by_key, objects), strict=True))
        except KeyError:
            pass
    rows = list(map(by_attribute, (r for r in objects if type(r) is not dict)))
    for i in dicts:  # in order, so each lands at its own place
        record = objects[i]
        rows.insert(i, tuple(map(record.get, names)))
    return list(zip(*rows, strict=True))


def _row_getter(getter: Callable, names: list[str]) -> Callable[[object], tuple]:
    """`getter(*names)`, always returning a tuple (even for one name)."""
    get = getter(*names)
    return get if len(names) > 1 else lambda record: (get(record),)
