"""What one run of one stream did: the figures every sync adds up, page by page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from crm_pipeline.page_types import ValidatedPage


@dataclass
class ApiUsage:
    """What the stream's requests met, counted on its client while the stream ran: how many, how many
    answered 429, the seconds spent waiting on the tenant's budget or a 429, and the requests/s the
    budget had settled at when the stream ended (None: no rate limit)."""

    requests: int = 0
    requests_429: int = 0
    throttled_seconds: float = 0.0
    settled_rate: float | None = None

    @classmethod
    def between(cls, before: dict, after: dict, *, rate: float | None) -> ApiUsage:
        """The usage from two snapshots of a client's ``stats`` and its ``rate`` at the end."""
        throttles = after["by_status"].get(429, 0) - before["by_status"].get(429, 0)
        waited = after["throttled_seconds"] - before["throttled_seconds"]
        return cls(after["requests"] - before["requests"], throttles, round(waited, 3), rate)


@dataclass
class SyncResult:
    """What one run of one stream did; becomes the materialization's metadata."""

    stream: str
    pages: int = 0
    records_received: int = 0
    rows_upserted: int = 0
    quarantined: int = 0
    position: str | None = None
    has_more: bool = True
    started_from: str | None = None
    seconds: float = 0.0
    new_fields: set[str] = field(default_factory=set)
    deleted: int = 0  # list endpoints: rows a whole walk no longer found, stamped _deleted_at
    total_count: int | None = None  # list endpoints: the API's totalCount on the walk's first page
    api: ApiUsage = field(default_factory=ApiUsage)
    whole_walk: bool | None = None  # list endpoints: the run walked everything (and marked deletions)
    parents_planned: int | None = None  # parent-scoped endpoints: parents of the walk, and done so far
    parents_done: int | None = None
    parents_done_before: int | None = None  # done when this run began (a resumed walk)
    parents_not_found: int = 0  # parents that answered 404 (gone since stored)
    rotation: dict | None = (
        None  # the rotation through unchanged parents: how far it is (see ingest.rotation)
    )

    @property
    def requests(self) -> int:
        return self.api.requests

    @property
    def records_per_second(self) -> float:
        return self.records_received / self.seconds if self.seconds else 0.0

    def add_page(self, page: ValidatedPage, upserted: int, quarantined: int) -> None:
        """Count one committed page (or batch of parents)."""
        self.pages += 1
        self.records_received += page.received
        self.rows_upserted += upserted
        self.quarantined += quarantined
        self.new_fields.update(page.extra_fields)


ProgressCallback = Callable[[SyncResult], None]
