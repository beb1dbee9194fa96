"""The export feed, a kind of stream: one feed copied into DuckDB page by page, resuming from its stored
cursor."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.stage import prepared
from crm_pipeline.ingest.strategy import Strategy
from crm_pipeline.servicetitan.paging import ExportPage
from crm_pipeline.storage import StreamPosition
from crm_pipeline.storage.layout import json_columns, page_table
from crm_pipeline.validation import ValidatedPage, validate_page


class ExportFeed(Strategy):
    """An export feed, followed from its stored `continueFrom` token (or `start` on a first run) to
    `hasMore=false`.

    Each page is validated and committed with its `continueFrom` in one transaction, so the run can die
    at any moment and the next one resumes where the last commit left off. The position is the token as
    the API sent it. The store is leased for each commit only: the file is free for others while the
    feed waits on the API."""

    name = "export_feed"
    summary = "followed from its stored continueFrom cursor"

    def run(self, stored: str | None, on_page: ProgressCallback | None) -> SyncResult:
        endpoint, options = self.endpoint, self.options
        result = SyncResult(
            stream=endpoint.path, started_from=stored if stored is not None else options.start
        )

        def walk(stop):
            return self.client.export_pages(
                endpoint.path,
                start=result.started_from,
                include_recent_changes=options.include_recent_changes,
                raw_records=True,
                stop=stop,
            )

        pages = prepared(walk, partial(prepare_page, endpoint), size=held_bytes)
        with gc_frozen():
            try:
                for page in pages:
                    self._commit(page, result)
                    del page  # committed: nothing of it is needed while the next one is awaited
                    if on_page is not None:
                        on_page(result)
            finally:
                pages.close()
        return result

    def _commit(self, page: ExportPage, result: SyncResult) -> None:
        """Commit a prepared page with its `continueFrom`: plain inserts until a page meets a stored key,
        and a checkpoint per row group (storage.stream)."""
        validated: ValidatedPage = page.data
        done = self.storage.commit_page(validated, StreamPosition(page.continue_from, page.has_more))
        upserted, quarantined = done.per_page[0]
        result.add_page(validated, upserted, quarantined)
        result.position, result.has_more = page.continue_from, page.has_more


def held_bytes(page: ExportPage) -> int:
    """What a prepared page holds while it waits for its commit: its Arrow table and its rejected records
    (a feed whose every record is refused must not run ahead unbounded either)."""
    validated: ValidatedPage = page.data
    rejected = sum(len(r.record_json) + len(r.reasons) for r in validated.rejected)
    return (validated.table.nbytes if validated.table is not None else 0) + rejected


@contextmanager
def gc_frozen() -> Iterator[None]:
    """Spare Python's garbage collections the objects that exist before the block while it runs (a
    Dagster process holds hundreds of thousands, which the older generations' collections would walk
    again and again, on the GIL that validation needs); they are collectable again after it."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def prepare_page(endpoint: Endpoint, page: ExportPage) -> ExportPage:
    """Validate a page and lay it out as Arrow for DuckDB (both off the committing thread)."""
    validated = validate_page(endpoint, page.data, fresh=False)  # its frame goes once laid out
    if not validated.frame.empty:
        validated = validated.laid_out(page_table(validated.frame, json_columns(endpoint, validated)))
    return ExportPage(
        data=validated,
        continue_from=page.continue_from,
        has_more=page.has_more,
        requested_from=page.requested_from,
    )
