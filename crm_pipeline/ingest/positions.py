"""A list stream's position as a typed value, with its one codec to and from `pipeline_state.cursors`.

An export feed's position is the API's `continueFrom` token, stored as it came. A list endpoint's is a
small JSON document: the watermark (where the next incremental walk starts), what the last walk
counted, and a parent walk in progress. Its keys are the ones every earlier version stored, so a file
written by one version resumes under the next.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Walk:
    """A parent walk in progress: when it was planned (DuckDB's clock: the next watermark), whether it
    visits every parent, how many it planned and how many are done."""

    started: str
    whole: bool
    planned: int
    done: int | None = None

    def doing(self, done: int) -> Walk:
        return replace(self, done=done)


@dataclass(frozen=True)
class ListPosition:
    """Where a list stream stands between runs (see the module)."""

    watermark: str | None = None
    total_count: int | None = None  # a top-level walk: the API's totalCount
    parents: int | None = None  # a finished parent walk: the parents it planned
    walk: Walk | None = None

    @classmethod
    def decode(cls, text: str | None) -> ListPosition:
        if not text:
            return cls()
        doc = json.loads(text)
        walk = doc.get("walk")
        return cls(
            watermark=doc.get("watermark"),
            total_count=doc.get("total_count"),
            parents=doc.get("parents"),
            walk=None if walk is None else Walk(**walk),
        )

    def encode(self) -> str:
        doc: dict = {"watermark": self.watermark}
        if self.total_count is not None:
            doc["total_count"] = self.total_count
        if self.parents is not None:
            doc["parents"] = self.parents
        if self.walk is not None:
            walk = self.walk
            doc["walk"] = {"started": walk.started, "whole": walk.whole, "planned": walk.planned}
            if walk.done is not None:
                doc["walk"]["done"] = walk.done
        return json.dumps(doc)

    def walking(self, walk: Walk) -> ListPosition:
        return replace(self, walk=walk)
