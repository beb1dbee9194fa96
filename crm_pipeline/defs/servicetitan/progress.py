"""Progress lines of a raw asset's sync: records and their rate; for a fan-out, parents done and an ETA."""

import time

from crm_pipeline.catalog import Endpoint
from crm_pipeline.ingest import SyncResult

PROGRESS_EVERY_SECONDS = 2.0  # a progress line at most this often; the last line gives the totals


class Progress:
    """Logs one endpoint's progress (each line is an event in Dagster's storage: a few per second at most)."""

    def __init__(self, log, endpoint: Endpoint, tenant_id: str) -> None:
        self.log, self.name = log, f"{endpoint.path} [{tenant_id}]"
        self.began = self.logged_at = time.monotonic()

    def page(self, result: SyncResult) -> None:
        now = time.monotonic()
        if result.pages > 1 and now - self.logged_at < PROGRESS_EVERY_SECONDS:
            return
        self.logged_at = now
        self.log.info(f"{self.name}: page {result.pages}, {self._figures(result, now - self.began)}")

    def done(self, result: SyncResult, rows: int) -> None:
        figures = self._figures(result, time.monotonic() - self.began)
        self.log.info(
            f"{self.name}: done, {result.pages} pages, {figures}, "
            f"{result.rows_upserted} rows upserted, {rows} in the table"
            + (", more to do: the next run continues" if result.has_more and result.parents_planned else "")
        )

    def _figures(self, result: SyncResult, seconds: float) -> str:
        rate = result.records_received / seconds if seconds > 0 else 0.0
        text = f"{result.records_received} records ({rate:,.0f}/s), {result.quarantined} quarantined"
        if result.parents_planned is None:
            return text
        done, planned = result.parents_done or 0, result.parents_planned
        this_run = done - (result.parents_done_before or 0)  # a resumed walk: this run's own pace
        per_second = this_run / seconds if seconds > 0 else 0.0
        eta = f", ETA {(planned - done) / per_second:,.0f} s" if per_second > 0 and done < planned else ""
        return f"{text}, parents {done:,} of {planned:,} ({per_second:,.1f}/s){eta}"
