"""JSON in and out at C speed (orjson), with the standard library's exact behaviour as the fallback.

orjson refuses what the standard library accepts (NaN, integers beyond 64 bits, unpaired surrogate
escapes); those rare inputs go through `json` so that nothing is parsed or written differently.
"""

from __future__ import annotations

import json

import orjson


def parse_json(body: bytes | str):
    """Parse a JSON body; raises ValueError when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def dumps_all(values: list) -> list[str | None] | None:
    """Compact JSON text of every value (None stays None), or None if one needs the standard library."""
    dumps = orjson.dumps
    try:
        return [None if v is None else dumps(v).decode() for v in values]
    except (TypeError, orjson.JSONEncodeError):
        return None
