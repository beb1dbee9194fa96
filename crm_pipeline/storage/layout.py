"""The Arrow layout of a validated page, as DuckDB scans it when the page is upserted (storage.upsert)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage

# The name a page's Arrow table is registered under while it is written (storage.upsert).
PAGE_VIEW = "_crm_page"


def warm_up() -> None:
    """Import what DuckDB's client imports on its first scan of an Arrow table (pyarrow.dataset and its
    file systems): call this when the pipeline loads, so that a run's first commit does not wait for it."""
    import pyarrow.dataset  # noqa: F401, PLC0415


def page_table(frame: pd.DataFrame, json_columns: Collection[str] = ()) -> pa.Table:
    """The validated frame as Arrow, which DuckDB scans without holding the GIL (no Python objects),
    its columns named by position (c0, c1, ...).

    Timestamps become microseconds here, cut toward zero, as DuckDB cuts the nanoseconds of a
    pandas frame it scans (Arrow nanoseconds it would round instead): either way the same rows.
    The `json_columns` (JSON texts the validation wrote or checked) are marked as Arrow's JSON type,
    which DuckDB stores as JSON as they are, rather than parsing each text again."""
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)  # a thread pool costs more here
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])  # any field name, even "\0"
    for i, (name, column) in enumerate(zip(frame.columns, table.columns, strict=True)):
        kind = column.type
        if pa.types.is_timestamp(kind) and kind.unit == "ns":
            us = _microseconds(column)
            table = table.set_column(i, table.field(i).with_type(us.type), us)
        elif name in json_columns:
            marked = _as_json(column)
            table = table.set_column(i, table.field(i).with_type(marked.type), marked)
    return table


def _microseconds(column: pa.ChunkedArray) -> pa.Array:
    """A nanosecond timestamp column in microseconds, cut toward zero (nulls kept)."""
    ns = column.combine_chunks()
    values = ns.cast(pa.int64()).fill_null(0).to_numpy()
    micros = np.where(values < 0, -(-values // 1000), values // 1000)
    return pa.array(
        micros, pa.timestamp("us", tz=column.type.tz), mask=ns.is_null().to_numpy(zero_copy_only=False)
    )


def _as_json(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column of JSON texts marked as Arrow's JSON type (its texts unchanged)."""
    kind = column.type
    texts = column if pa.types.is_large_string(kind) or pa.types.is_string(kind) else column.cast(pa.string())
    json_type = pa.json_(texts.type)
    return pa.chunked_array([pa.ExtensionArray.from_storage(json_type, c) for c in texts.chunks], json_type)


def json_columns(endpoint: Endpoint, page: ValidatedPage) -> set[str]:
    """The page's columns of JSON texts: the declared json fields and the fields no schema knows."""
    return {name for name, ftype in endpoint.fields.items() if ftype.is_json} | set(page.extra_fields)
