"""Compare what a raw table holds with what the sandbox serves, field by field."""

from __future__ import annotations

import json

import pandas as pd

from crm_pipeline.catalog import Endpoint


def _expected(ftype_name: str | None, value):
    if value is None:
        return None
    if ftype_name == "timestamp":
        return (
            pd.Timestamp(value).tz_localize("UTC")
            if pd.Timestamp(value).tzinfo is None
            else pd.Timestamp(value)
        )
    if ftype_name in ("json", None):
        return value
    if ftype_name == "text":
        return str(value)
    if ftype_name == "float":
        return float(value)
    return value


def _stored(ftype_name: str | None, value):
    if value is None:
        return None
    if ftype_name == "timestamp":
        return pd.Timestamp(value)
    if ftype_name in ("json", None):
        return json.loads(value)
    return value


def _same(ftype_name, expected, stored) -> bool:
    if ftype_name == "timestamp" and expected is not None and stored is not None:
        return abs((expected - stored).total_seconds()) < 1e-6  # DuckDB keeps microseconds of the 7 digits
    return expected == stored


def differences(
    conn, endpoint: Endpoint, tenant_id: str, records: list[dict], *, live_only: bool = False
) -> list[str]:
    """Every mismatch between `records` (as served) and the stored rows (with `live_only`, those not stamped
    `_deleted_at`); empty when the table is exact."""
    live = " AND _deleted_at IS NULL" if live_only else ""
    cur = conn.execute(f"SELECT * FROM {endpoint.qualified_table} WHERE tenant_id = ?{live}", [tenant_id])
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, row, strict=False)) for row in cur.fetchall()]
    stored = {tuple(row[k] for k in endpoint.key): row for row in rows}
    problems = []
    expected_keys = {tuple(r[k] for k in endpoint.key) for r in records}
    if len(stored) != len(expected_keys):
        problems.append(f"{endpoint.qualified_table}: {len(stored)} rows stored, {len(expected_keys)} served")
    for record in records:
        key = tuple(record[k] for k in endpoint.key)
        row = stored.get(key)
        if row is None:
            problems.append(f"{endpoint.qualified_table}: key {key} missing")
            continue
        for name, value in record.items():
            ftype = endpoint.fields.get(name)
            kind = ftype.name if ftype else None
            want, got = _expected(kind, value), _stored(kind, row.get(name))
            if not _same(kind, want, got):
                problems.append(
                    f"{endpoint.qualified_table} {key} {name}: sent {value!r}, stored {row.get(name)!r}"
                )
    return problems


def served(sandbox, endpoint: Endpoint) -> list[dict]:
    """What the sandbox serves for an endpoint, as rows: children carry their parent's ids."""
    if endpoint.parent is None:
        return sandbox.records(endpoint.path)
    columns = {param: child for param, (_, child) in endpoint.parent.params.items()}
    return [
        {**record, **{columns[p]: v for p, v in params.items()}}
        for params, record in sandbox.child_records(endpoint.path)
    ]
