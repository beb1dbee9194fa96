"""Progress lines of a raw asset: the real rate; for a parent walk, parents done of planned and an ETA."""

from __future__ import annotations

import time

from crm_pipeline.catalog import endpoint
from crm_pipeline.defs.servicetitan.progress import Progress
from crm_pipeline.ingest import SyncResult


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, line: str) -> None:
        self.lines.append(line)


def test_a_resumed_walk_shows_its_own_pace_parents_of_planned_and_an_eta():
    log = Lines()
    progress = Progress(log, endpoint("raw_list.locations_notes"), "1001")
    result = SyncResult(
        stream="locations/{id}/notes", parents_planned=1000, parents_done=400, parents_done_before=400
    )
    time.sleep(0.5)
    result.pages, result.records_received, result.parents_done = 1, 100, 450  # 50 parents in 0.5 s this run
    progress.page(result)
    line = log.lines[-1]
    assert "locations/{id}/notes [1001]" in line and "parents 450 of 1,000" in line
    records_per_second = float(line.split("records (")[1].split("/s")[0].replace(",", ""))
    parents_per_second = float(line.split("of 1,000 (")[1].split("/s")[0])
    eta = float(line.split("ETA ")[1].split(" s")[0].replace(",", ""))
    # not 0/s, not the resumed 400
    assert 100 <= records_per_second <= 200 and 50 <= parents_per_second <= 100
    assert 550 / 100 <= eta <= 550 / 50


def test_an_export_feed_shows_records_and_their_rate_and_no_parents():
    log = Lines()
    progress = Progress(log, endpoint("export/customers"), "1001")
    result = SyncResult(stream="export/customers", pages=1, records_received=5000)
    time.sleep(0.2)
    progress.page(result)
    progress.done(result, rows=5000)
    assert "parents" not in log.lines[0] and "/s)" in log.lines[0] and "(0/s)" not in log.lines[0]
    assert "done, 1 pages, 5000 records" in log.lines[-1] and "5000 in the table" in log.lines[-1]
