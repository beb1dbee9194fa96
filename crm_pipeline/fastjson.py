"""JSON in and out at C speed (msgspec in, orjson out), with the standard library's exact behaviour as
the fallback.

Parsing: msgspec keeps integers of any size exact (orjson would turn those beyond 64 bits into
floats); it refuses NaN, numbers beyond a double and unpaired surrogate escapes, which the
standard library accepts: those rare inputs go through `json`. Writing: orjson refuses integers
beyond 64 bits and unpaired surrogates; those values go through `json`. Nothing is parsed or
written differently from the standard library.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import msgspec
import orjson
import pyarrow as pa

_decode = msgspec.json.Decoder().decode


def parse_json(body: bytes | str):
    """Parse a JSON body; raises ValueError when it is not JSON."""
    try:
        return _decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return json.loads(body)


def dumps_all(values: list) -> list[str | None] | None:
    """Compact JSON text of every value (None stays None), or None if one needs the standard library."""
    dumps = orjson.dumps
    try:
        return [None if v is None else dumps(v).decode() for v in values]
    except (TypeError, orjson.JSONEncodeError):
        return None


class _ExportEnvelope(msgspec.Struct, forbid_unknown_fields=True):
    """An export answer as the API documents it; its records are kept as sent (unparsed spans)."""

    data: list[msgspec.Raw] | None = None
    hasMore: Any = None  # noqa: N815 (the API's own names)
    continueFrom: Any = None  # noqa: N815


_ENVELOPE = msgspec.json.Decoder(_ExportEnvelope)


def arrow_value(data: bytes, kind: pa.DataType) -> pa.Array:
    """`data` as an Arrow array of one value of `kind` (large_string or large_binary), in place: no copy."""
    offsets = pa.py_buffer(struct.pack("<2q", 0, len(data)))
    return pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(data)])


def _utf8(body: bytes) -> bool:
    """Whether `body` is valid UTF-8 (checked by Arrow in place: no copy, no str built)."""
    text = arrow_value(body, pa.large_string())
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def parse_export_body(body: bytes) -> dict:
    """An export answer with each record left as its raw JSON text (a `msgspec.Raw`), parsed later and
    typed at once (crm_pipeline.validation.records). Anything unusual (other capitalisations of the
    envelope, extra fields, text that is not UTF-8) is parsed fully by `parse_json`, as any other answer."""
    if not _utf8(body):  # the envelope's decoder does not look into the raw records
        return parse_json(body)
    try:
        page = _ENVELOPE.decode(body)
    except msgspec.DecodeError:
        return parse_json(body)
    return {"data": page.data, "hasMore": page.hasMore, "continueFrom": page.continueFrom}
