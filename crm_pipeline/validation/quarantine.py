"""What the quarantine keeps of a refused record: its JSON text as received, and its id as text."""

from __future__ import annotations

from crm_pipeline.validation.values import to_json, utf8


def _shown_surrogates(value: object) -> object:
    """`value` with every unpaired surrogate in its texts and keys written out as the text ``\\udXXX``."""
    if isinstance(value, str):
        return value if utf8(value) else value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, list):
        return [_shown_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_shown_surrogates(k): _shown_surrogates(v) for k, v in value.items()}
    return value


def quarantine_json(record: object) -> str | None:
    """The JSON text kept in the quarantine: the record as received (an unpaired surrogate, which DuckDB
    cannot store, written out as ``\\udXXX`` text)."""
    text = to_json(record)
    return text if text is None or utf8(text) else to_json(_shown_surrogates(record))


def record_id(key: object) -> str | None:
    """A refused record's key as the quarantine's `record_id` text (None when it has none)."""
    if key is None:
        return None
    return _shown_surrogates(key if isinstance(key, str) else to_json(key))
