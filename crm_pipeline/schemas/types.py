"""The few field types a raw table knows, and everything each one decides.

Every field of an endpoint is declared with one of these. From that one declaration come the
pandera column (validation and coercion), the DuckDB column type, the schema shown in Dagster and
the rules a value meets on its way in: the exact check of one value, the whole-column fast path, the
value types that path takes and the type an export record is decoded into. A new field type is one
`FieldType` here (with its check in crm_pipeline.validation.values and its fast path in
crm_pipeline.validation.columns); crm_pipeline_tests/unit/test_field_types.py shows what it must do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import msgspec
import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

from crm_pipeline.validation import columns, values


@dataclass(frozen=True)
class ArrowText(pandas_engine.STRING):
    """pandera's `string[pyarrow]` dtype, whose check answers once for a column that has that dtype.

    pandera's own answers value by value then, and formats a failure report even when every value
    passes. Any other column is checked by pandera's own check."""

    def check(self, pandera_dtype, data_container=None):
        try:
            if pandas_engine.Engine.dtype(pandera_dtype).type == self.type:
                return True
        except TypeError:
            pass
        return super().check(pandera_dtype, data_container)


# A time of day with no zone after it (`2024-05-01T10:20:30`): UTC, as the API means it.
_NO_ZONE = r"[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?$"


@dataclass(frozen=True)
class UtcInstant(pandas_engine.DateTime):
    """pandera's datetime coercion (pandas' ISO 8601 parser), with a time sent without a zone read as UTC.

    pandas reads such a time in the offset of an earlier value of the same column when one has an
    offset, so each is given its `Z` first."""

    def coerce(self, data_container):
        if data_container.dtype == object or isinstance(data_container.dtype, pd.StringDtype):
            naive = data_container.str.contains(_NO_ZONE, regex=True, na=False).astype(bool)
            if naive.any():
                data_container = data_container.mask(naive, data_container[naive] + "Z")
        return super().coerce(data_container)


_UTC_INSTANT = UtcInstant(tz="UTC", to_datetime_kwargs={"format": "ISO8601", "utc": True, "cache": False})


_INT64 = Annotated[int, msgspec.Meta(ge=values.INT64_MIN, le=values.INT64_MAX)]


@dataclass(frozen=True, kw_only=True)
class FieldType:
    """One kind of field: `pandas_dtype` is what pandera coerces to, `duckdb` the column type.

    `check` takes one value as sent and returns it as it goes to pandera, or raises
    crm_pipeline.validation.values.Bad with the reason. `fast_column` takes a whole column and returns
    it as `check` would have made it (ideally already of `pandas_dtype`), or None to leave the column
    to `check`. `fits` are the value types `fast_column` takes (None: any), so a column with a few
    others has only those checked one by one. `decoder_type` is what msgspec decodes a value into
    on the way straight from an export answer's JSON (a json field is kept as its raw text)."""

    name: str
    pandas_dtype: object
    duckdb: str
    check: Callable[[object], object]
    fast_column: Callable[[list], object | None]
    fits: frozenset[type] | None
    decoder_type: object
    is_json: bool = False

    def column(self, *, key: bool = False, coerce: bool = True) -> pa.Column:
        """The pandera column: keys are required and never null; every other field is nullable."""
        return pa.Column(self.pandas_dtype, nullable=not key, coerce=coerce, required=key)


INT = FieldType(
    name="int",
    pandas_dtype="Int64",
    duckdb="BIGINT",
    check=values.check_int,
    fast_column=columns.fast_int,
    fits=columns.INT_TYPES,
    decoder_type=_INT64,
)
FLOAT = FieldType(
    name="float",
    pandas_dtype="Float64",
    duckdb="DOUBLE",
    check=values.check_float,
    fast_column=columns.fast_float,
    fits=columns.FLOAT_TYPES,
    decoder_type=float,
)
BOOL = FieldType(
    name="bool",
    pandas_dtype="boolean",
    duckdb="BOOLEAN",
    check=values.check_bool,
    fast_column=columns.fast_bool,
    fits=columns.BOOL_TYPES,
    decoder_type=bool,
)
TEXT = FieldType(
    name="text",
    pandas_dtype=ArrowText("pyarrow"),
    duckdb="VARCHAR",
    check=values.check_text,
    fast_column=columns.fast_text,
    fits=columns.STR_TYPES,
    decoder_type=str,
)
TIMESTAMP = FieldType(
    name="timestamp",
    pandas_dtype=_UTC_INSTANT,
    duckdb="TIMESTAMPTZ",
    check=values.check_timestamp,
    fast_column=columns.fast_timestamp,
    fits=columns.STR_TYPES,
    decoder_type=str,
)
# Objects and lists (address, customFields, tagTypeIds, ...) are kept as JSON text, exactly as sent,
# queryable as `address.city` or `address->>'city'` in DuckDB. Fields no schema knows are kept this way too.
JSON = FieldType(
    name="json",
    pandas_dtype=ArrowText("pyarrow"),
    duckdb="JSON",
    check=values.check_json,
    fast_column=columns.fast_json,
    fits=None,
    decoder_type=msgspec.Raw,
    is_json=True,
)
