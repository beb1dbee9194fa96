"""The exact check of one value against its field type: the value as it goes to pandera, or `Bad`.

Each field type (crm_pipeline.schemas.types) names its check here. These checks are the reference:
the whole-column fast paths (crm_pipeline.validation.columns) take the same decision for every value
they accept. This module imports neither the catalog nor the schemas.
"""

from __future__ import annotations

import json
import math
import re

import msgspec

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
NULL = msgspec.Raw(b"null")  # a json field's raw text when it is null or missing
_INT_TEXT = re.compile(r"\s*[+-]?\d+\s*")
_FLOAT_TEXT = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")
_SHOWN_CHARS = 80


class Bad(ValueError):
    """A value its field type cannot hold; the message says why."""


def to_json(value: object) -> str | None:
    """Compact JSON text of a value as received, non-ASCII kept as is; None stays None (SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_text(raw: msgspec.Raw) -> str | None:
    """A json field's text as sent (None for null)."""
    return None if raw == NULL else bytes(raw).decode()


def utf8(text: str) -> bool:
    """False when `text` holds an unpaired UTF-16 surrogate (JSON may escape one; UTF-8 and DuckDB cannot
    hold it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown(value: object) -> str:
    """The value as a reason shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 1] + "…"


def check_int(v: object) -> int | None:
    if v is None or (type(v) is int and INT64_MIN <= v <= INT64_MAX):
        return v
    if isinstance(v, bool):
        raise Bad("a boolean where an integer is expected")
    if isinstance(v, float):
        if not v.is_integer():
            raise Bad("not a whole number")
        n = int(v)
    elif isinstance(v, int):
        n = v
    elif isinstance(v, str) and _INT_TEXT.fullmatch(v):
        if len(v.strip().lstrip("+-").lstrip("0")) > 19:  # also spares int() texts of > 4300 digits
            raise Bad("outside the 64-bit integer range")
        n = int(v)
    else:
        raise Bad("not an integer")
    if not INT64_MIN <= n <= INT64_MAX:
        raise Bad("outside the 64-bit integer range")
    return n


def check_float(v: object) -> float | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise Bad("a boolean where a number is expected")
    if isinstance(v, str) and not _FLOAT_TEXT.fullmatch(v):
        raise Bad("not a number")
    if not isinstance(v, (int, float, str)):
        raise Bad("not a number")
    try:
        f = float(v)
    except OverflowError:
        raise Bad("outside the range of a double") from None
    if not math.isfinite(f):
        raise Bad("not a finite number")
    return f


def check_bool(v: object) -> bool | None:
    if v is None or isinstance(v, bool):
        return v
    if type(v) is int and v in (0, 1):
        return bool(v)
    raise Bad("not true or false")


def check_timestamp(v: object) -> str | None:
    if v is None or isinstance(v, str):
        return v  # parsed (or refused, row by row) by the schema's ISO 8601 coercion
    raise Bad("not a timestamp text")


def check_json(v: object) -> str | None:
    text = json_text(v) if type(v) is msgspec.Raw else to_json(v)
    if text is not None and not utf8(text):
        raise Bad("holds an unpaired UTF-16 surrogate, which DuckDB cannot store")
    return text


def check_text(v: object) -> str | None:
    text = v if isinstance(v, str) else to_json(v)  # None stays None; 2 -> "2", {"a": 1} -> '{"a":1}'
    if text is not None and not utf8(text):
        raise Bad("holds an unpaired UTF-16 surrogate, which DuckDB cannot store")
    return text
