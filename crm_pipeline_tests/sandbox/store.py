"""Record stores with a modification sequence: the shared state behind every sandbox endpoint.

Each store keeps a monotonically increasing sequence number (seq). The record created as number
`index` starts with seq index+1 and is built lazily, in chunks, from the seed (so a store of
millions costs nothing until read). `change`, `add` and `put` give a record a new seq; the export
feeds page over seqs, future list endpoints can read `current()`/`get()`.
"""

from __future__ import annotations

import json
import random
import threading
from bisect import bisect_right
from collections import OrderedDict
from datetime import UTC, datetime

from .list_records import LIST_SPECS, default_list_sizes
from .pools import Pools
from .records import ID_BASES, SPECS, make_templates, mutate, record_id, renderer
from .timestamps import TICKS_PER_SECOND, format_ticks

CHUNK = 1024
MAX_CHUNKS = 1024  # cached chunks per store (~1M records); older ones are rebuilt on demand
EPOCH = int(datetime(2019, 1, 1, tzinfo=UTC).timestamp()) * TICKS_PER_SECOND
SPAN = int(datetime(2024, 6, 30, tzinfo=UTC).timestamp()) * TICKS_PER_SECOND - EPOCH

# Export feed path (under /crm/v2/tenant/{tenant}/) -> store name.
FEEDS = {
    "export/customers": "customers",
    "export/customers/contacts": "customer_contacts",
    "export/locations": "locations",
    "export/locations/contacts": "location_contacts",
    "export/leads": "leads",
    "export/bookings": "bookings",
}


def default_sizes(sizes: dict[str, int] | None) -> dict[str, int]:
    """Fill in store sizes: 200 customers, ~1.5 locations and ~2 contacts each, ~0.5 leads/bookings;
    then the list-only stores (notes, contacts, ...; see `list_records.LIST_SPECS`)."""
    sizes = dict(sizes or {})
    unknown = set(sizes) - set(SPECS) - set(LIST_SPECS)
    if unknown:
        raise ValueError(f"unknown store(s) {sorted(unknown)}; known: {sorted(SPECS) + sorted(LIST_SPECS)}")
    c = sizes.setdefault("customers", 200)
    loc = sizes.setdefault("locations", (3 * c + 1) // 2)
    sizes.setdefault("customer_contacts", 2 * c)
    sizes.setdefault("location_contacts", 2 * loc)
    sizes.setdefault("leads", c // 2)
    sizes.setdefault("bookings", c // 2)
    return default_list_sizes(sizes)


def _id_order(record: dict) -> tuple:
    rid = record.get("id")
    return (0, rid, "") if isinstance(rid, int) else (1, 0, str(rid))


class Store:
    """One collection of records (e.g. customers) and its modification log."""

    def __init__(self, name: str, size: int, registry: Registry) -> None:
        self.name, self.size, self._reg = name, size, registry
        self._render_fn = None
        self._lock = threading.RLock()
        self._chunks: OrderedDict[int, list[bytes]] = OrderedDict()
        self._current: dict = {}  # id -> (seq, bytes) of records no longer at their initial version
        self._log_seqs: list[int] = []  # seqs above `size`, ascending, with the id they were given to
        self._log_ids: list = []
        self.last_seq = size
        self._next_index = size
        self._rng = random.Random(f"{registry.seed}:{name}:changes")

    def _render(self, rng: random.Random, index: int, seq: int) -> bytes:
        if self._render_fn is None:
            templates = make_templates(self._reg.pools, self._reg.seed, self.name, self.size)
            self._render_fn = renderer(self._reg, templates, self.name)
        return self._render_fn(rng, index, seq)

    # -- reading -----------------------------------------------------------------------------
    def _initial(self, index: int) -> bytes:
        c = index // CHUNK
        chunk = self._chunks.get(c)
        if chunk is None:
            rng = random.Random(f"{self._reg.seed}:{self.name}:{c}")
            stop = min(self.size, (c + 1) * CHUNK)
            chunk = [self._render(rng, i, i + 1) for i in range(c * CHUNK, stop)]
            self._chunks[c] = chunk
            if len(self._chunks) > MAX_CHUNKS:
                self._chunks.popitem(last=False)
        else:
            self._chunks.move_to_end(c)
        return chunk[index % CHUNK]

    def page(self, after: int, limit: int) -> tuple[list[tuple[int, bytes]], bool]:
        """Current versions of records whose seq > after, in seq order, at most `limit`;
        and whether more follow."""
        with self._lock:
            found: list[tuple[int, object]] = []  # (seq, index or id)
            current, name = self._current, self.name
            s = max(after, 0)
            while s < self.size and len(found) <= limit:
                if record_id(name, s) not in current:
                    found.append((s + 1, s))
                s += 1
            k = bisect_right(self._log_seqs, after)
            while k < len(self._log_seqs) and len(found) <= limit:
                seq, rid = self._log_seqs[k], self._log_ids[k]
                if current[rid][0] == seq:
                    found.append((seq, rid))
                k += 1
            out = [
                (seq, self._initial(key) if seq <= self.size else current[key][1])
                for seq, key in found[:limit]
            ]
            return out, len(found) > limit

    def bodies(self) -> list[bytes]:
        """JSON bytes of the current version of every record (initial order first)."""
        with self._lock:
            out = [self._initial(i) for i in range(self.size) if record_id(self.name, i) not in self._current]
            return out + [body for _, body in self._current.values()]

    def records(self) -> list[dict]:
        """Current version of every record, parsed (fresh objects), sorted by id."""
        rows = json.loads(b"[" + b",".join(self.bodies()) + b"]")
        rows.sort(key=_id_order)
        return rows

    def get(self, rid) -> bytes | None:
        """JSON bytes of the current version of one record, or None."""
        with self._lock:
            if rid in self._current:
                return self._current[rid][1]
            if isinstance(rid, int) and not isinstance(rid, bool):
                index = (rid - ID_BASES[self.name]) // 7
                if 0 <= index < self.size and record_id(self.name, index) == rid:
                    return self._initial(index)
            return None

    def position_at(self, ticks: int) -> int:
        """Position (a seq) just before the first record modified at or after `ticks`."""
        step = self._reg.step(self.name)
        first = -(-(ticks - EPOCH) // step)  # smallest seq with time(seq) >= ticks
        return min(max(first - 1, 0), self.last_seq)

    # -- writing -----------------------------------------------------------------------------
    def _store(self, rid, body: bytes) -> int:
        self.last_seq += 1
        self._current[rid] = (self.last_seq, body)
        self._log_seqs.append(self.last_seq)
        self._log_ids.append(rid)
        return self.last_seq

    def put(self, record: dict) -> int:
        """Insert or replace a raw record as is (it needs an "id"); returns its new seq."""
        if "id" not in record:
            raise ValueError("put() needs a record with an 'id'")
        body = json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()
        with self._lock:
            return self._store(record["id"], body)

    def add(self, n: int) -> list[int]:
        """Create n new records; returns their ids."""
        ids = []
        with self._lock:
            for _ in range(n):
                index, self._next_index = self._next_index, self._next_index + 1
                rng = random.Random(f"{self._reg.seed}:{self.name}:new:{index}")
                rid = record_id(self.name, index)
                self._store(rid, self._render(rng, index, self.last_seq + 1))
                ids.append(rid)
        return ids

    def touch(self, rid) -> int | None:
        """Give a record a new version that differs only by modifiedOn (= this store's now);
        returns its new seq, or None when there is no such record."""
        with self._lock:
            body = self.get(rid)
            if body is None:
                return None
            record = json.loads(body)
            if isinstance(record, dict):
                record["modifiedOn"] = format_ticks(self._reg.ticks(self.name, self.last_seq + 1), 0)
            return self._store(rid, json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())

    def change(self, n: int) -> list[int]:
        """Give n distinct existing records a new version; returns their ids."""
        ids: list[int] = []
        with self._lock:
            candidates = self._next_index
            seen: set[int] = set()
            while len(ids) < min(n, candidates):
                index = self._rng.randrange(candidates)
                rid = record_id(self.name, index)
                body = self.get(rid)
                if index in seen or body is None:
                    seen.add(index)
                    if len(seen) >= candidates:
                        break
                    continue
                seen.add(index)
                other = record_id(self.name, self._rng.randrange(candidates)) if candidates > 1 else None
                record = mutate(
                    self._reg,
                    self.name,
                    json.loads(body),
                    self._rng,
                    self.last_seq + 1,
                    other if other != rid else None,
                )
                self._store(rid, json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
                ids.append(rid)
        return ids


class Registry:
    """All stores of one sandbox, plus what record makers need (pools, sizes, clock)."""

    def __init__(self, seed: int, sizes: dict[str, int] | None = None) -> None:
        self.seed = seed
        self.pools = Pools(seed)
        self.sizes = default_sizes(sizes)
        self._steps = {name: max(1, SPAN // max(n, 1)) | 1 for name, n in self.sizes.items()}
        self.stores = {name: Store(name, self.sizes[name], self) for name in SPECS}

    def size(self, store: str) -> int:
        """Initial number of records of a store."""
        return self.sizes[store]

    def step(self, store: str) -> int:
        """Ticks between two consecutive seqs of a store."""
        return self._steps[store]

    def ticks(self, store: str, seq: int) -> int:
        """Modification time (ticks since the epoch) of a store's seq: increases with seq."""
        return EPOCH + seq * self._steps[store]

    def store(self, feed_or_name: str) -> Store:
        """A store by export feed path ("export/customers") or store name ("customers")."""
        name = FEEDS.get(feed_or_name.strip("/"), feed_or_name)
        try:
            return self.stores[name]
        except KeyError:
            raise KeyError(f"unknown feed/store {feed_or_name!r}; known: {sorted(FEEDS)}") from None
