"""Top-level list endpoints, two kinds of stream: a watermark list and a whole list.

- A watermark list (the endpoint takes `modifiedOnOrAfter`) fetches what changed since the watermark
  minus an overlap, so that nothing modified during a walk is skipped. The watermark is the newest
  `modifiedOn` the last complete walk stored (the API's own clock: client clock skew does not matter),
  never later than the moment that walk started (a record dated in the future cannot stall the stream).
  Its pages are committed one by one; a first run, or a `full` one, walks it whole.
- A whole list (no `modifiedOnOrAfter`: a small endpoint) is walked whole on every run and committed in
  one transaction.
A whole walk stamps `_deleted_at` on rows the API no longer returns (cleared if they come back). Each
page is committed with the stream's position in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pyarrow as pa

from crm_pipeline.ingest.answers import pages
from crm_pipeline.ingest.positions import ListPosition
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.strategy import Strategy
from crm_pipeline.storage import EVERY_ROW, StreamPosition
from crm_pipeline.storage.keys import no_keys, page_keys
from crm_pipeline.validation import ValidatedPage, validate_page

DEFAULT_OVERLAP = timedelta(minutes=10)


class _TopList(Strategy):
    """A top-level list: its pages walked (again, if keys went missing) and committed (see the module)."""

    atomic: ClassVar[bool]  # every page committed at the end, in one transaction
    counts_total = True

    def _plan(self, position: ListPosition) -> tuple[bool, dict]:
        """Whether this run walks everything, and the query of its requests."""
        raise NotImplementedError

    def run(self, stored: str | None, on_page: ProgressCallback | None) -> SyncResult:
        position = ListPosition.decode(stored)
        result = SyncResult(stream=self.endpoint.path, started_from=position.watermark)
        self.seen: list[pa.Table] = []  # the keys received: a whole walk marks the others deleted
        whole, params = self._plan(position)
        result.whole_walk, walk_started = whole, datetime.now(UTC)
        newest = datetime.fromisoformat(position.watermark) if position.watermark else None
        held: list[ValidatedPage] = []
        for _attempt in range(3):  # records modified mid-walk shift pages: walk again if keys went missing
            for page in pages(self.client, self.endpoint, self.endpoint.path, params, self.options.page_size):
                result.total_count = page.total_count if page.page == 1 else result.total_count
                validated = validate_page(self.endpoint, page.data)
                self._see(validated)
                newest = _newest(validated, newest)
                if self.atomic:
                    held.append(validated)
                    continue
                self._commit(
                    [validated], result, StreamPosition(ListPosition(position.watermark).encode(), True)
                )
                if on_page:
                    on_page(result)
            if result.total_count is None or self._seen_count() >= result.total_count:
                break
        mark = min(newest, walk_started).isoformat() if newest else None
        result.position = ListPosition(mark, total_count=result.total_count).encode()
        self._commit(held, result, StreamPosition(result.position, False), mark_deletions=whole)
        result.has_more = False
        return result

    def _see(self, page: ValidatedPage) -> None:
        if not page.frame.empty:
            self.seen.append(page_keys(self.endpoint, page))

    def _seen_table(self) -> pa.Table:
        return (
            pa.concat_tables(self.seen, promote_options="permissive") if self.seen else no_keys(self.endpoint)
        )

    def _seen_count(self) -> int:
        seen = self._seen_table()
        return seen.group_by(list(seen.column_names)).aggregate([]).num_rows if seen.num_rows else 0

    def _commit(
        self,
        pages: list[ValidatedPage],
        result: SyncResult,
        position: StreamPosition,
        *,
        mark_deletions: bool = False,
    ) -> None:
        """Write `pages` and the position in one transaction; with `mark_deletions`, stamp the rows not
        seen."""
        parts = {"seen": self._seen_table(), "deletions": EVERY_ROW} if mark_deletions else {}
        done = self.storage.commit(self.storage.batch(position, pages, **parts))
        for page, (upserted, quarantined) in zip(pages, done.per_page, strict=True):
            result.add_page(page, upserted, quarantined)
        result.deleted = done.deleted if mark_deletions else result.deleted


class WatermarkList(_TopList):
    """An endpoint that takes `modifiedOnOrAfter`: what changed since the watermark, page by page."""

    name = "watermark_list"
    summary = "incremental from a modifiedOnOrAfter watermark (with overlap)"
    atomic = False

    def _plan(self, position: ListPosition) -> tuple[bool, dict]:
        params = dict(self.endpoint.query)
        whole = self.options.full or position.watermark is None
        if not whole:
            since = datetime.fromisoformat(position.watermark) - DEFAULT_OVERLAP
            params["modifiedOnOrAfter"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        return whole, params


class WholeList(_TopList):
    """A small endpoint without `modifiedOnOrAfter`: walked whole, replaced in one transaction."""

    name = "whole_list"
    summary = "small: walked whole on every run, in one transaction"
    atomic = True

    def _plan(self, position: ListPosition) -> tuple[bool, dict]:
        return True, dict(self.endpoint.query)


def _newest(page: ValidatedPage, newest: datetime | None) -> datetime | None:
    """The later of `newest` and the page's newest modifiedOn."""
    if "modifiedOn" not in page.frame or page.frame["modifiedOn"].isna().all():
        return newest
    latest = page.frame["modifiedOn"].max().floor("us").to_pydatetime()  # DuckDB keeps microseconds
    return latest if newest is None else max(newest, latest)
