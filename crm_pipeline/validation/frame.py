"""The page as a frame of checked values: declared fields, then the undeclared ones as JSON text.

Each declared value is checked against its field type on its own (so that one odd value never fails
a whole column, and so the whole page): with `fast`, a column whose every value fits goes through
its type's whole-column fast path; a column with misfits has only those checked one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from crm_pipeline.fastjson import dumps_all
from crm_pipeline.validation.columns import as_raw
from crm_pipeline.validation.records import raw_columns
from crm_pipeline.validation.values import Bad, check_json, shown

if TYPE_CHECKING:
    from collections.abc import Callable

    from crm_pipeline.catalog import Endpoint
    from crm_pipeline.schemas.types import FieldType


def build_frame(
    endpoint: Endpoint,
    objects: list,
    extra: dict[str, list[str]],
    *,
    reasons: dict[int, list[str]],
    fast: bool = True,
) -> pd.DataFrame:
    """The page as a frame of checked values; `reasons` gets the misfits. `extra`: the undeclared
    columns, each with the spellings the records use for it (see crm_pipeline.validation.names)."""
    parsed = [i for i, record in enumerate(objects) if type(record) is dict]
    mixed = 0 < len(parsed) < len(objects)  # typed and parsed records (see as_raw)
    columns: dict[str, object] = {}
    raws = zip(endpoint.fields.items(), raw_columns(endpoint, objects, parsed), strict=True)
    for (column, ftype), raw in raws:
        values = None
        if fast:
            fitting = ftype.fits is not None and _types_at(raw, parsed) <= ftype.fits
            values = ftype.fast_column(as_raw(raw, parsed) if ftype.is_json and mixed else raw, fitting)
        if values is None:
            blame = _Blame(column, [column], objects, reasons)
            values = _checked(ftype, raw, fast, blame=blame)
        columns[column] = _objects(values) if isinstance(values, (list, tuple)) else values
    for column, spellings in extra.items():
        raw = _extra_values(objects, column, spellings)
        # not in the schema: pandera leaves it as it is, object, as the checks below make it
        values = dumps_all(raw) if fast else None
        if values is None:
            values = _checked(None, raw, False, blame=_Blame(column, spellings, objects, reasons))
        columns[column] = _objects(values) if isinstance(values, (list, tuple)) else values
    return pd.DataFrame(columns, index=pd.RangeIndex(len(objects)), copy=False)


def _types_at(raw: list, rows: list[int]) -> set[type]:
    """The types of the values at `rows`, the parsed records: a typed record's values have the types its
    field type's decoder gives, which are ones its fast path takes (crm_pipeline.validation.records)."""
    return set(map(type, map(raw.__getitem__, rows)))


def _extra_values(objects: list, column: str, spellings: list[str]) -> list:
    if len(spellings) == 1:
        return [record.get(column) if type(record) is dict else None for record in objects]
    # one column for names differing only in case across records (DuckDB cannot tell them apart)
    return [
        next((record[s] for s in spellings if s in record), None) if type(record) is dict else None
        for record in objects
    ]


def _objects(values: list) -> np.ndarray:
    """`values` as a 1-d object array (never split into more dimensions)."""
    column = np.empty(len(values), dtype=object)
    column[:] = values
    return column


@dataclass
class _Blame:
    """Where a refused value's reason goes: the row's list in `reasons`, under the name the record used."""

    column: str
    spellings: list[str]
    objects: list
    reasons: dict[int, list[str]]

    def __call__(self, i: int, why: Bad, value: object) -> None:
        record = self.objects[i]
        name = next((s for s in self.spellings if type(record) is dict and s in record), self.column)
        self.reasons[i].append(f"{name}: {why} (got {shown(value)})")


def _checked(ftype: FieldType | None, raw: list, fast: bool, *, blame: _Blame) -> object:
    """The column's values, each checked by its field type's exact check (`ftype` None: an undeclared
    field, checked as JSON); a refused one becomes None and is blamed. With `fast`, only the values of
    a type the column's fast path does not take are checked one by one; the fast path then takes the
    column, with the checked values in their place."""
    check: Callable[[object], object] = check_json if ftype is None else ftype.check

    def each(indexes) -> dict[int, object]:
        done = {}
        for i in indexes:
            try:
                done[i] = check(raw[i])
            except Bad as why:
                blame(i, why, raw[i])
                done[i] = None
        return done

    done: dict[int, object] = {}
    if fast and ftype is not None and ftype.fits is not None:
        done = each([i for i, value in enumerate(raw) if type(value) not in ftype.fits])
        patched = list(raw)
        for i, value in done.items():
            patched[i] = value
        values = ftype.fast_column(patched)
        if values is not None:
            return values
    rest = each([i for i in range(len(raw)) if i not in done])  # still a misfit: every value one by one
    return [done[i] if i in done else rest[i] for i in range(len(raw))]
