"""Parse an export page's records straight into typed values, the fast way into validation.

Each endpoint gets a msgspec Struct built from its catalog fields: a record whose every declared
value already has its plain JSON type (an integer for an int, true/false for a bool, text for a
text or timestamp, anything for a json field) and that sends no other field decodes into it in C,
json fields kept as their raw JSON text. Any other record (a "42" for an int, an unknown field, a
null key, a field name in another case, an unpaired surrogate escape, ...) is parsed as plain JSON
and goes through crm_pipeline.validation's exact value-by-value checks, which decide the same way.
"""

from __future__ import annotations

import re
from typing import Annotated, Optional

import msgspec

from crm_pipeline.catalog import Endpoint
from crm_pipeline.fastjson import parse_json

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NULL = msgspec.Raw(b"null")
_INT64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
_TYPES = {"int": _INT64, "float": float, "bool": bool, "text": str, "timestamp": str}
# An escaped UTF-16 surrogate: an unpaired one is refused by the exact checks, and a json field's raw
# text is not decoded here, so such a record takes the exact way (a pair, as for an emoji, does too).
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


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
        if ftype.name == "json":
            fields.append(
                (f"f{i}", msgspec.Raw, NULL)
            )  # a missing field reads as null, as in the exact checks
        elif name in endpoint.key:
            fields.append(
                (f"f{i}", _TYPES[ftype.name])
            )  # required, never null: else the exact way quarantines it
        else:
            fields.append((f"f{i}", Optional[_TYPES[ftype.name]], None))
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
    out = []
    for record in records:
        if type(record) is not msgspec.Raw:
            out.append(record)
            continue
        if typed and not _SURROGATE_ESCAPE.search(record):
            try:
                out.append(decode(record))
                continue
            except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError):
                pass
        out.append(parse_json(bytes(record)))
    return out


def json_text(raw: msgspec.Raw) -> str | None:
    """A json field's text as sent (None for null)."""
    return None if raw == NULL else bytes(raw).decode()
