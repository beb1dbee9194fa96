"""What every kind of stream shares: the options of a run, and the strategy a driver runs.

A strategy is one kind of stream (crm_pipeline.ingest.driver.STRATEGIES names them; the catalog gives
each endpoint its own): it owns its requests, the shape of their answers, its position and what it
reports. The driver leaves it nothing else to do: it reads the stored position, runs the strategy, and
adds the timing and the API usage to its report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from crm_pipeline.ingest.job import StreamJob
from crm_pipeline.ingest.result import ProgressCallback, SyncResult
from crm_pipeline.ingest.walk_options import FanOutOptions
from crm_pipeline.storage.stream import StreamStorage

PAGE_SIZE = 5000


@dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """How a run reads its stream; each strategy takes the options of its kind and ignores the others."""

    full: bool = False  # lists: walk everything (every parent), and stamp what the API no longer returns
    page_size: int = PAGE_SIZE  # paged lists: records per request
    fan_out: FanOutOptions | None = None  # parent walks: threads, time budget, rotation
    start: str | None = None  # export feeds: where a first run starts (the API's `from`)
    include_recent_changes: bool = False  # export feeds: the API's includeRecentChanges


class Strategy(ABC):
    """One kind of stream, run once for one endpoint (see the module)."""

    name: ClassVar[str]  # what the catalog calls it (Endpoint.strategy)
    summary: ClassVar[str]  # how it reads, for an asset's description
    counts_total: ClassVar[bool] = False  # a walk reports the API's totalCount (it can be reconciled)
    in_slices: ClassVar[bool] = False  # a run may stop with more to do, which the next run continues

    def __init__(self, job: StreamJob, options: SyncOptions) -> None:
        self.job, self.options = job, options
        self.client, self.store, self.endpoint = job.client, job.store, job.endpoint
        self.tenant_id, self.run_id = job.tenant_id, job.run_id
        self.storage = StreamStorage(job.store, job.endpoint, job.tenant_id, job.run_id, history=job.history)

    @classmethod
    def describe(cls, endpoint) -> str:
        """How `endpoint` is read, in a phrase for its asset's description."""
        return cls.summary

    @abstractmethod
    def run(self, stored: str | None, on_page: ProgressCallback | None) -> SyncResult:
        """Read the stream on from `stored` (its position as stored; None: never run), committing each
        page with the position that follows it, and report what was done."""
