"""What one page is on its way from validation to storage: the validated page, its rejected records and
the columns the pipeline adds to every raw table. Validation and storage both import this module, and
neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pandas as pd
import pyarrow as pa

# Columns the pipeline adds to every raw table, beside the fields the API sends.
TENANT_COLUMN = "tenant_id"
SYNCED_AT_COLUMN = "_synced_at"
# List tables only: set when a full walk no longer finds the record; cleared if it comes back.
DELETED_AT_COLUMN = "_deleted_at"
# A record field of one of these names could not be stored.
PIPELINE_COLUMNS = (TENANT_COLUMN, SYNCED_AT_COLUMN, DELETED_AT_COLUMN)


@dataclass(frozen=True)
class Rejected:
    """A record that failed validation, exactly as received, and why."""

    record_id: str | None
    record_json: str
    reasons: str


@dataclass
class ValidatedPage:
    frame: pd.DataFrame
    rejected: list[Rejected] = field(default_factory=list)
    extra_fields: list[str] = field(default_factory=list)
    # `frame` as Arrow, when prepared ahead (crm_pipeline.storage.layout.page_table)
    table: pa.Table | None = None
    received: int = 0  # records on the page, good or bad

    @property
    def rows(self) -> int:
        """The page's valid rows."""
        return self.table.num_rows if self.table is not None else len(self.frame)

    def laid_out(self, table: pa.Table) -> ValidatedPage:
        """The page with its rows as `table` (its frame as Arrow) only: the frame keeps its columns, not
        their values, so that a page waiting for its commit holds its data once."""
        return replace(self, frame=self.frame.iloc[:0].copy(), table=table)
