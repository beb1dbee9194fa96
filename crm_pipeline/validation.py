"""Turn one page of API records into a validated pandas frame, setting aside what fails.

Declared fields are coerced by the endpoint's pandera schema (lazy: every failure at once). A
record that fails is not dropped: it is returned with its reasons, for the quarantine table.
Fields the schema does not know are kept, as JSON text, in columns of their own.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

from crm_pipeline.catalog import Endpoint


@dataclass(frozen=True)
class Rejected:
    """A record that failed validation, exactly as received, and why."""

    record_id: str | None
    record_json: str
    reasons: str


@dataclass
class ValidatedPage:
    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    extra_fields: list[str] = field(default_factory=list)


def to_json(value: object) -> str | None:
    """Compact JSON text of a value as received; None stays None (SQL NULL)."""
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _frame(endpoint: Endpoint, records: list[dict], extra: list[str]) -> pd.DataFrame:
    columns: dict[str, list] = {}
    for name, ftype in endpoint.fields.items():
        values = [r.get(name) for r in records]
        columns[name] = [to_json(v) for v in values] if ftype.is_json else values
    for name in extra:
        columns[name] = [to_json(r.get(name)) for r in records]
    return pd.DataFrame(columns, dtype=object, index=pd.RangeIndex(len(records)))


def _reasons(failures: pd.DataFrame, n_rows: int) -> dict[int, list[str]]:
    reasons: dict[int, list[str]] = defaultdict(list)
    for row in failures.itertuples(index=False):
        text = f"{row.column}: {row.check} (got {row.failure_case!r})"
        if pd.isna(row.index):  # a failure of the whole column or frame hits every row
            for i in range(n_rows):
                reasons[i].append(text)
        else:
            reasons[int(row.index)].append(text)
    return reasons


def validate_page(endpoint: Endpoint, records: list) -> ValidatedPage:
    """Validate one page; rows to store come back coerced, deduplicated by key (last wins)."""
    objects = [r for r in records if isinstance(r, dict)]
    rejected = [Rejected(None, to_json(r), "record is not a JSON object") for r in records if not isinstance(r, dict)]
    extra = sorted(set().union(*objects) - endpoint.fields.keys()) if objects else []
    frame = _frame(endpoint, objects, extra)
    try:
        frame = endpoint.schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        reasons = _reasons(err.failure_cases, len(frame))
        for i in sorted(reasons):
            raw = objects[i]
            key = raw.get(endpoint.key[0])
            unique = list(dict.fromkeys(reasons[i]))
            rejected.append(Rejected(None if key is None else str(key), to_json(raw), "; ".join(unique)))
        frame = endpoint.schema.validate(frame.drop(index=list(reasons)), lazy=True)
    frame = frame.drop_duplicates(subset=list(endpoint.key), keep="last")
    return ValidatedPage(frame=frame, rejected=rejected, extra_fields=extra)
