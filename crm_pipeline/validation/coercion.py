"""The endpoint's pandera schema over the checked frame: coerced and validated lazily (every failure at
once), the rows that fail set aside with their reasons."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import pandera.pandas as pa

from crm_pipeline.validation.values import shown

if TYPE_CHECKING:
    from crm_pipeline.catalog import Endpoint


@functools.cache
def warm_up() -> None:
    """Have pandera import its pandas backends (and hypothesis, when installed), which it does on its
    first validation: call this when the pipeline loads, so that a run's first page does not wait the
    half second. Only the first call does anything."""
    pa.DataFrameSchema({}).validate(pd.DataFrame())


def coerced(
    endpoint: Endpoint, frame: pd.DataFrame, parsed: Callable[[int], dict], *, reasons: dict[int, list[str]]
) -> pd.DataFrame:
    """`frame` coerced by the pandera schema, less the rows that fail it (their reasons added to
    `reasons`; `parsed(i)` is record i as sent, to show a value the frame no longer holds)."""
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
        blamed[i].append(f"{row.column}: {row.check} (got {shown(got)})")
    if whole:
        _blame_rows_alone(schema, frame, whole, blamed=blamed)
    for i, why in blamed.items():
        reasons[i].extend(why)
    return schema.validate(frame.drop(index=list(blamed)), lazy=True)


def _blame_rows_alone(
    schema: pa.DataFrameSchema, frame: pd.DataFrame, whole: list[str], *, blamed: dict[int, list[str]]
) -> None:
    """For failures not tied to a row: find the rows to blame one by one, rather than refusing the
    whole page."""
    for i in frame.index.difference(list(blamed)):
        alone = _failures(schema, frame.loc[[i]])
        if alone:
            blamed[int(i)].extend(alone)
    rest = frame.drop(index=list(blamed))
    if not rest.empty and _failures(schema, rest):  # together they still fail: refuse them all
        for i in rest.index:
            blamed[int(i)].extend(whole)


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
            f"{r.column}: {r.check} (got {shown(r.failure_case)})"
            for r in err.failure_cases.itertuples(index=False)
        ]
