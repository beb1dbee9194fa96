"""pandera schemas of the raw tables, built from each endpoint's declared fields."""

from __future__ import annotations

from collections.abc import Mapping

import pandera.pandas as pa

from crm_pipeline.schemas.types import FieldType


def build_schema(
    name: str, fields: Mapping[str, FieldType], key: tuple[str, ...], *, coerce: bool = True
) -> pa.DataFrameSchema:
    """A lazy-validatable schema: keys required and non-null, other fields nullable, unknown columns kept.

    `coerce=False` gives the same checks without coercion, for frames whose columns have their dtypes
    already (the fast path's): coercing them would change nothing and costs much of the validation."""
    columns = {field: ftype.column(key=field in key, coerce=coerce) for field, ftype in fields.items()}
    return pa.DataFrameSchema(columns, name=name, strict=False, coerce=coerce)
