"""Field names: which ones cannot become columns, and the page's undeclared ones.

A field name DuckDB cannot tell from another (same name but for case, the pipeline's own columns,
the empty name, a name holding a NUL character) quarantines its record, as no column could hold it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_pipeline.page_types import PIPELINE_COLUMNS
from crm_pipeline.validation.values import utf8

if TYPE_CHECKING:
    from crm_pipeline.catalog import Endpoint


def name_problems(record: dict, declared: dict[str, str]) -> list[str]:
    """Why the record's field names could not all become columns (empty when they can).
    `declared`: the endpoint's field names by their lower case."""
    problems = []
    seen: dict[str, str] = {}
    for name in record:
        if not isinstance(name, str) or name == "" or "\x00" in name:  # DuckDB's parser stops at a NUL
            problems.append(f"field name {name!r} cannot be a column")
            continue
        if not utf8(name):
            problems.append(f"field name {name!r} is not valid UTF-8")
            continue
        low = name.lower()
        if low in PIPELINE_COLUMNS:
            problems.append(f"field {name!r} has the name of a column the pipeline sets")
        elif low in seen:
            problems.append(
                f"fields {seen[low]!r} and {name!r} differ only in case (DuckDB column names ignore case)"
            )
        elif low in declared and declared[low] != name:
            problems.append(f"field {name!r} differs only in case from the declared field {declared[low]!r}")
        seen.setdefault(low, name)
    return problems


def extra_names(endpoint: Endpoint, objects: list, bad_rows: set[int]) -> dict[str, list[str]]:
    """Undeclared fields of the page: column name (first spelling seen) -> every spelling of it.
    (A typed record has none: see crm_pipeline.validation.records.)"""
    declared = {n.lower() for n in endpoint.fields}
    good = [r for i, r in enumerate(objects) if type(r) is dict and i not in bad_rows]
    names = [n for n in set().union(*good) if n.lower() not in declared] if good else []
    if len({n.lower() for n in names}) == len(names):  # the usual case: no two spellings of one name
        return {n: [n] for n in sorted(names)}
    columns: dict[str, list[str]] = {}
    by_lower: dict[str, str] = {}
    for record in good:
        for name in record:
            low = name.lower()
            if low in declared:
                continue
            column = by_lower.setdefault(low, name)
            spellings = columns.setdefault(column, [])
            if name not in spellings:
                spellings.append(name)
    return dict(sorted(columns.items()))
