"""`StoreView`: the list endpoints' view of an export store (customers, locations, leads, ...).

It offers the reading interface every list collection has (`ListStore` too):

- `entries()`: {id: Entry} of every current record, in modification (seq) order;
- `body(id)`: JSON bytes of a record as stored; `children(parent)`: ids of a parent's records;
- `exists(id)`, `delete(n)`; `version`: changes whenever anything does (for caches).
"""

from __future__ import annotations

import json
import random
import threading
from typing import NamedTuple

from .store import Store
from .timestamps import parse_instant


class Entry(NamedTuple):
    """Index data of one record: seq, modifiedOn/createdOn ticks (None if absent), active, parent."""

    seq: int
    mod: int | None
    created: int | None
    active: bool | None
    parent: object


def _ticks(value) -> int | None:
    return parse_instant(value) if isinstance(value, str) else None


class StoreView:
    """The list side of an export store: an index kept up to date incrementally from the store's
    modification log, plus records deleted from the list endpoints (the export feed keeps them)."""

    def __init__(self, store: Store, parent_key: str | None = None) -> None:
        self.store, self.parent_key = store, parent_key
        self._lock = threading.RLock()
        self._index: dict = {}
        self._children: dict = {}
        self._built = 0
        self._deleted: set = set()
        self._rng = random.Random(f"{store._reg.seed}:{store.name}:deletes")

    @property
    def version(self) -> tuple:
        """Changes whenever the store or the deletions do."""
        return self.store.last_seq, len(self._deleted)

    def entries(self) -> dict:
        """{id: Entry} of the records the list endpoints serve, in seq order (do not modify)."""
        with self._lock:
            if self._built != self.store.last_seq:
                items, _ = self.store.page(self._built, max(1, self.store.last_seq - self._built))
                for seq, body in items:
                    self._add(seq, json.loads(body))
                self._built = self.store.last_seq
            return self._index

    def _add(self, seq: int, rec: dict) -> None:
        rid = rec.get("id")
        old = self._index.pop(rid, None)
        if old is not None:
            self._children.get(old.parent, {}).pop(rid, None)
        if rid in self._deleted:
            return
        parent = rec.get(self.parent_key) if self.parent_key else None
        self._index[rid] = Entry(
            seq,
            _ticks(rec.get("modifiedOn")),
            _ticks(rec.get("createdOn")),
            rec.get("active") is True,
            parent,
        )
        if parent is not None:
            self._children.setdefault(parent, {})[rid] = None

    def body(self, rid) -> bytes:
        """JSON bytes of a record (the export version, before projection)."""
        return self.store.get(rid)

    def exists(self, rid) -> bool:
        """Whether the list endpoints serve this record."""
        return rid in self.entries()

    def children(self, parent) -> list:
        """Ids of the records of a parent, in seq order."""
        index = self.entries()
        with self._lock:
            return sorted(self._children.get(parent, ()), key=lambda rid: index[rid].seq)

    def restore(self, ids) -> list:
        """Serve deleted records again, each as a new version (its modifiedOn now); returns the ids
        restored."""
        with self._lock:
            back = [rid for rid in ids if rid in self._deleted]
            self._deleted.difference_update(back)
        for rid in back:
            self.store.touch(rid)
        return back

    def delete(self, n: int) -> list:
        """Remove n random records from the list endpoints; returns their ids."""
        with self._lock:
            ids = list(self.entries())
            gone = self._rng.sample(ids, min(n, len(ids)))
            for rid in gone:
                self._deleted.add(rid)
                entry = self._index.pop(rid)
                self._children.get(entry.parent, {}).pop(rid, None)
            return gone
