"""`ListStore`: a store that only list endpoints serve (notes, contacts, tags, ...).

Built in full on first use, fast: like the export stores, a store first draws a few thousand
record templates (JSON text with %-placeholders for id, parent, timestamps), and a record is one
template filled in. Everything derives from (seed, store, index), so a store is the same for a seed.
Records keep a modification sequence (seq); modifiedOn of a seq is this store's clock, which only
moves forward. Reading interface as `list_view.StoreView`.
"""

from __future__ import annotations

import json
import random
import threading

from .list_records import LIST_SPECS, PREFERENCE_TYPES, RELATIONSHIP_TYPES, guid, mutate_list_record
from .list_view import Entry
from .records import DAY, TEMPLATES, record_id
from .store import EPOCH, SPAN, _id_order
from .timestamps import TS_STYLES, format_ticks

_MARKS = {key: f"\x01{key}\x02" for key in ("id", "parent", "mod", "created", "related")}
_SLUG_STORES = {slug: store for _, slug, store in RELATIONSHIP_TYPES}


def _dump(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _lit(value) -> bytes:
    """JSON of an id, parent or timestamp (None, int, or a string that needs no escaping)."""
    return (
        b"null" if value is None else (b"%d" % value if isinstance(value, int) else b'"%s"' % value.encode())
    )


class ListStore:
    """A store served only by list endpoints; see the module docstring."""

    def __init__(self, name: str, size: int, lists) -> None:
        self.name, self.size, self.spec, self._lists = name, size, LIST_SPECS[name], lists
        self._reg = lists.registry
        self._lock = threading.RLock()
        self._rows: dict = {}  # id -> body bytes, in seq order
        self._ready = False
        self._entries: dict = {}  # id -> Entry, in seq order
        self._children: dict = {}
        self._initial_ids: list = []
        self._gone: dict = {}  # id -> (Entry, body) of deleted records, for restore()
        self._templates: list[tuple[bytes, str | None]] = []  # (template, typeSlug of a relationship)
        self.last_seq = self.version = 0
        self._next = size
        self._step = max(1, SPAN // max(size, 1)) | 1
        self._rng = random.Random(f"{self._reg.seed}:{name}:changes")

    def now(self, seq: int) -> int:
        """Modification ticks of a seq of this store (increases with seq)."""
        return EPOCH + seq * self._step

    def _make_templates(self) -> None:
        rng = random.Random(f"{self._reg.seed}:{self.name}:templates")
        for i in range(min(TEMPLATES, 1 << max(self.size - 1, 1).bit_length())):
            record = self.spec.make(
                self._reg.pools, rng, _MARKS["id"], _MARKS["parent"], _MARKS["mod"], _MARKS["created"]
            )
            if self.name == "contact_preference_types":  # one type per name
                record["name"], record["dataType"] = PREFERENCE_TYPES[i % len(PREFERENCE_TYPES)]
            slug = record.get("typeSlug") if isinstance(record, dict) else None
            if slug is not None:
                record["relatedEntityId"] = _MARKS["related"]
            text = _dump(record).replace(b"%", b"%%")
            for key in _MARKS:
                text = text.replace(b'"\\u0001' + key.encode() + b'\\u0002"', b"%(" + key.encode() + b")s")
            self._templates.append((text, slug))

    def _make(self, rng: random.Random, index: int, parent, seq: int, young: bool) -> tuple:
        kind, mod, r = self.spec.ids, self.now(seq), rng.getrandbits(64)
        created = mod - (r >> 24) % (DAY if young else 400 * DAY) - (0 if young else DAY // 3)
        rid = (
            self.spec.base + 7 * index + (index * index * 31 + 3) % 7
            if kind == "int"
            else guid(rng)
            if kind == "guid"
            else parent
            if kind == "parent"
            else index + 1
        )
        pick = index if self.name == "contact_preference_types" else r >> 48
        template, slug = self._templates[pick & (len(self._templates) - 1)]
        values = {
            b"id": _lit(rid),
            b"parent": _lit(parent),
            b"mod": _lit(format_ticks(mod, TS_STYLES[r & 15])),
            b"created": _lit(format_ticks(created, TS_STYLES[(r >> 4) & 15])),
        }
        if slug is not None:
            store = _SLUG_STORES[slug]
            values[b"related"] = b"%d" % record_id(store, (r >> 8) % max(1, self._reg.size(store)))
        return rid, Entry(seq, mod, created, None, parent), template % values

    def _put(self, rid, entry: Entry, body: bytes) -> None:
        self._rows.pop(rid, None)
        old = self._entries.pop(rid, None)
        if old is not None:
            self._children.get(old.parent, {}).pop(rid, None)
        self._rows[rid], self._entries[rid] = body, entry
        if entry.parent is not None:
            self._children.setdefault(entry.parent, {})[rid] = None
        self.last_seq, self.version = max(self.last_seq, entry.seq), self.version + 1

    def _parents(self) -> list:
        parent = self.spec.parent
        if parent is None:
            return [None]
        if parent in self._reg.stores:
            return [record_id(parent, i) for i in range(self._reg.size(parent))]
        return self._lists.collection(parent).initial_ids()

    def _build(self) -> dict:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    parents = self._parents()
                    self._make_templates()
                    rng = random.Random(f"{self._reg.seed}:{self.name}:initial")
                    for i in range(self.size):
                        if self.spec.ids == "parent":  # one per parent: spread over distinct parents
                            parent = parents[i * len(parents) // self.size]
                        else:
                            parent = parents[rng.randrange(len(parents))] if parents else None
                        rid, entry, body = self._make(rng, i, parent, i + 1, False)
                        self._initial_ids.append(rid)
                        self._put(rid, entry, body)
                    self._ready = True
        return self._rows

    @property
    def built(self) -> bool:
        """Whether the records exist yet (they are made on first use)."""
        return self._ready

    def initial_ids(self) -> list:
        """Ids of the records made at start (they are parents of other stores' records)."""
        self._build()
        return self._initial_ids

    def entries(self) -> dict:
        """{id: Entry} of every current record, in seq order (do not modify)."""
        self._build()
        return self._entries

    def body(self, rid) -> bytes | None:
        """JSON bytes of a record as served (None when there is no such record)."""
        return self._build().get(rid)

    def exists(self, rid) -> bool:
        """Whether the record exists."""
        return rid in self._build()

    def children(self, parent) -> list:
        """Ids of a parent's records, in seq order (a contact method has one preference per name)."""
        self._build()
        with self._lock:
            rids = sorted(self._children.get(parent, ()), key=lambda rid: self._entries[rid].seq)
            if self.name == "contact_method_preferences":
                by_name = {json.loads(self._rows[rid])["name"]: rid for rid in rids}
                rids = [rid for rid in rids if rid in set(by_name.values())]
            return rids

    def records(self) -> list:
        """Every record as served (fresh objects), sorted by id."""
        with self._lock:
            rows = json.loads(b"[" + b",".join(self._build().values()) + b"]")
        return sorted(rows, key=_id_order) if rows and isinstance(rows[0], dict) else rows

    # -- writing -----------------------------------------------------------------------------
    def touch(self, rid) -> None:
        """New seq and modifiedOn for a record (values unchanged); its parent is touched too."""
        with self._lock:
            body = self._build().get(rid)
            if body is None:
                return
            entry, record, seq = self._entries[rid], json.loads(body), self.last_seq + 1
            if isinstance(record, dict) and "modifiedOn" in record:
                record["modifiedOn"] = format_ticks(self.now(seq), 0)
            self._put(rid, entry._replace(seq=seq, mod=self.now(seq)), _dump(record))
            self._lists.touch(self.spec.parent, entry.parent)

    def change(self, n: int) -> list:
        """Give n random records a new version (and touch their parents); returns their ids."""
        with self._lock:
            rows = self._build()
            picked = self._rng.sample(list(rows), min(n, len(rows)))
            for rid in picked:
                entry, seq = self._entries[rid], self.last_seq + 1
                record = mutate_list_record(
                    self._reg.pools,
                    self._rng,
                    json.loads(rows[rid]),
                    format_ticks(self.now(seq), TS_STYLES[self._rng.getrandbits(4)]),
                )
                self._put(rid, entry._replace(seq=seq, mod=self.now(seq)), _dump(record))
                self._lists.touch(self.spec.parent, entry.parent)
            return picked

    def add(self, n: int, touch_parent: bool = True) -> list:
        """Create n records under existing parents (touched, unless not `touch_parent`: a note added
        without its customer's modifiedOn moving); returns their ids."""
        with self._lock:
            rows, ids = self._build(), []
            parents = list(self._lists.collection(self.spec.parent).entries()) if self.spec.parent else [None]
            if self.spec.ids == "parent":
                parents = [p for p in parents if p not in rows]
            for _ in range(n):
                if not parents:
                    break
                k = self._rng.randrange(len(parents))
                parent = parents.pop(k) if self.spec.ids == "parent" else parents[k]
                index, self._next = self._next, self._next + 1
                rng = random.Random(f"{self._reg.seed}:{self.name}:new:{index}")
                rid, entry, body = self._make(rng, index, parent, self.last_seq + 1, True)
                self._put(rid, entry, body)
                if touch_parent:
                    self._lists.touch(self.spec.parent, parent)
                ids.append(rid)
            return ids

    def restore(self, ids) -> list:
        """Serve deleted records again, each as the newest version (its parent touched); returns the ids."""
        with self._lock:
            self._build()
            back = [rid for rid in ids if rid in self._gone]
            for rid in back:
                entry, body = self._gone.pop(rid)
                seq = self.last_seq + 1
                self._put(rid, entry._replace(seq=seq, mod=self.now(seq)), body)
                self._lists.touch(self.spec.parent, entry.parent)
            return back

    def put(self, record: dict, parent=None) -> None:
        """Insert or replace a raw record as is (by its "id"; a new one goes under `parent`), as the newest
        version: it is served by every filter of the latest changes, whatever its own fields say."""
        with self._lock:
            self._build()
            seq = self.last_seq + 1
            old = self._entries.get(record["id"])
            parent = old.parent if old is not None and parent is None else parent
            self._put(
                record["id"],
                Entry(seq, self.now(seq), old.created if old else self.now(seq), None, parent),
                _dump(record),
            )
            self._lists.touch(self.spec.parent, parent)

    def delete(self, n: int) -> list:
        """Remove n random records (their parents are touched); returns their ids."""
        with self._lock:
            rows = self._build()
            gone = self._rng.sample(list(rows), min(n, len(rows)))
            for rid in gone:
                body = rows.pop(rid)
                entry = self._entries.pop(rid)
                self._gone[rid] = (entry, body)
                self._children.get(entry.parent, {}).pop(rid, None)
                self.version += 1
                self._lists.touch(self.spec.parent, entry.parent)
            return gone
