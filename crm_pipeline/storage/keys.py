"""The keys of a validated page as Arrow: what a walk received, to find what the API no longer returns."""

from __future__ import annotations

import pyarrow as pa

from crm_pipeline.catalog import Endpoint
from crm_pipeline.page_types import ValidatedPage

_ARROW = {"BIGINT": pa.int64(), "VARCHAR": pa.string()}


def no_keys(endpoint: Endpoint) -> pa.Table:
    return pa.table(
        {k: pa.array([], _ARROW.get(endpoint.fields[k].duckdb, pa.string())) for k in endpoint.key}
    )


def page_keys(endpoint: Endpoint, page: ValidatedPage) -> pa.Table:
    """The keys of the page's stored rows (its rejected records have none)."""
    key = list(endpoint.key)
    if not page.rows:
        return no_keys(endpoint)
    if page.table is not None:  # its columns named by position (storage.layout.page_table)
        names = list(page.frame.columns)
        return page.table.select([names.index(k) for k in key]).rename_columns(key)
    return pa.Table.from_pandas(page.frame[key], preserve_index=False)
