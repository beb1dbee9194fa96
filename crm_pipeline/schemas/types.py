"""The few field types a raw table knows, and how each maps to pandas, pandera and DuckDB.

Every field of an endpoint is declared with one of these. From that one declaration come the
pandera column (validation and coercion), the DuckDB column type and the schema shown in Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa
from pandera.engines import pandas_engine

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

    def column(self, *, key: bool = False) -> pa.Column:
        """The pandera column: keys are required and never null; every other field is nullable."""
        return pa.Column(self.pandas_dtype, nullable=not key, coerce=True, required=key)


INT = FieldType("int", "Int64", "BIGINT")
FLOAT = FieldType("float", "Float64", "DOUBLE")
BOOL = FieldType("bool", "boolean", "BOOLEAN")
TEXT = FieldType("text", pd.StringDtype("pyarrow"), "VARCHAR")
TIMESTAMP = FieldType("timestamp", _UTC_INSTANT, "TIMESTAMPTZ")
# Objects and lists (address, customFields, tagTypeIds, ...) are kept as JSON text, exactly as sent,
# queryable as `address.city` or `address->>'city'` in DuckDB. Fields no schema knows are kept this way too.
JSON = FieldType("json", pd.StringDtype("pyarrow"), "JSON", is_json=True)
