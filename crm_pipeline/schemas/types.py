"""The few field types a raw table knows, and how each maps to pandas, pandera and DuckDB.

Every field of an endpoint is declared with one of these. From that one declaration come the
pandera column (validation and coercion), the DuckDB column type and the schema shown in Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.pandas as pa
from pandera.engines import pandas_engine


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


_UTC_INSTANT = pandas_engine.DateTime(
    tz="UTC", to_datetime_kwargs={"format": "ISO8601", "utc": True, "cache": False}
)


@dataclass(frozen=True)
class FieldType:
    """One kind of field: `pandas_dtype` is what pandera coerces to, `duckdb` the column type."""

    name: str
    pandas_dtype: object
    duckdb: str
    is_json: bool = False

    def column(self, *, key: bool = False, coerce: bool = True) -> pa.Column:
        """The pandera column: keys are required and never null; every other field is nullable."""
        return pa.Column(self.pandas_dtype, nullable=not key, coerce=coerce, required=key)


INT = FieldType("int", "Int64", "BIGINT")
FLOAT = FieldType("float", "Float64", "DOUBLE")
BOOL = FieldType("bool", "boolean", "BOOLEAN")
TEXT = FieldType("text", ArrowText("pyarrow"), "VARCHAR")
TIMESTAMP = FieldType("timestamp", _UTC_INSTANT, "TIMESTAMPTZ")
# Objects and lists (address, customFields, tagTypeIds, ...) are kept as JSON text, exactly as sent,
# queryable as `address.city` or `address->>'city'` in DuckDB. Fields no schema knows are kept this way too.
JSON = FieldType("json", ArrowText("pyarrow"), "JSON", is_json=True)
