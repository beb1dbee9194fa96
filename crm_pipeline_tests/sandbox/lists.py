"""The list endpoints of CRM v2 (`GET …/customers`, `…/customers/{id}/notes`, …) and `Lists`, the
registry of what they read: list views of the export stores and the list-only stores.

`ENDPOINTS` describes every path: its store, answer kind (paged / plain array / bare value), the
filters its OpenAPI parameters list, whether it honours `ids`, `sort` and `active` (test_sandbox_lists
holds these against the OpenAPI description), and its parent store. The fields a path serves are
those of its OpenAPI list schema (`spec_fields.json`): a record of an export store is served without the
fields its export schema has and the list schema lacks (`drop`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property

from crm_pipeline.schemas.declared import spec_fields

from .list_records import LIST_SPECS
from .list_store import ListStore
from .list_view import StoreView
from .store import FEEDS, Registry, _id_order


@dataclass(frozen=True)
class Endpoint:
    """One list endpoint (path under /crm/v2/tenant/{tenant}/)."""

    path: str
    store: str
    kind: str = "paged"  # "paged", "array" (plain JSON array), "value" (bare JSON value)
    filters: str = "mc"  # m: modifiedOnOrAfter/modifiedBefore, c: createdOnOrAfter/createdBefore
    ids: bool = False
    sort: bool = False
    active: bool = False
    parent: str | None = None

    @property
    def pattern(self) -> re.Pattern:
        """Route regex of the path ({id} etc. become named groups)."""
        return re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.path))

    @property
    def params(self) -> tuple[str, ...]:
        """Names of the path parameters, e.g. ("contactId", "contactMethodId")."""
        return tuple(re.findall(r"\{(\w+)\}", self.path))

    @cached_property
    def drop(self) -> tuple[str, ...]:
        """Fields of the export record that this path's list schema lacks (none for a list-only store)."""
        feed = _FEED_OF_STORE.get(self.store)
        if feed is None:
            return ()
        return tuple(name for name in spec_fields()[feed] if name not in spec_fields()[self.path])


_FEED_OF_STORE = {store: feed for feed, store in FEEDS.items()}


ENDPOINTS: dict[str, Endpoint] = {
    e.path: e
    for e in [
        Endpoint("booking-provider-tags", "booking_provider_tags", ids=True),
        Endpoint("bookings", "bookings", ids=True),
        Endpoint("contacts", "contacts"),
        Endpoint("contacts/contact-methods", "contact_methods"),
        Endpoint("contacts/preferences", "contact_preference_types", kind="array", filters=""),
        Endpoint("customers", "customers", ids=True, sort=True, active=True),
        Endpoint("customers/contacts", "customer_contacts"),
        Endpoint("customers/custom-fields", "customer_custom_fields"),
        Endpoint("leads", "leads", ids=True, sort=True),
        Endpoint("locations", "locations", ids=True, sort=True, active=True),
        Endpoint("locations/contacts", "location_contacts"),
        Endpoint("locations/custom-fields", "location_custom_fields"),
        Endpoint("customers/{id}/notes", "customer_notes", parent="customers"),
        Endpoint("locations/{id}/notes", "location_notes", parent="locations"),
        Endpoint("leads/{id}/notes", "lead_notes", parent="leads"),
        Endpoint("bookings/{id}/contacts", "booking_contacts", filters="", parent="bookings"),
        Endpoint(
            "contacts/{contactId}/relationships", "contact_relationships", filters="c", parent="contacts"
        ),
        Endpoint(
            "locations/{id}/preferredtechnician",
            "preferred_technicians",
            kind="value",
            filters="",
            parent="locations",
        ),
        Endpoint(
            "contacts/{contactId}/contact-methods/{contactMethodId}/preferences",
            "contact_method_preferences",
            kind="array",
            filters="",
            parent="contact_methods",
        ),
        Endpoint("customers/{id}/contacts", "customer_contacts", filters="", parent="customers"),
        Endpoint("locations/{id}/contacts", "location_contacts", filters="", parent="locations"),
        Endpoint("contacts/{contactId}/contact-methods", "contact_methods", parent="contacts"),
    ]
}
TOP_LEVEL = tuple(p for p in ENDPOINTS if "{" not in p)
PARENT_SCOPED = tuple(p for p in ENDPOINTS if "{" in p)
_VIEW_PARENT_KEYS = {"customer_contacts": "customerId", "location_contacts": "locationId"}


def project(ep: Endpoint, body: bytes) -> bytes:
    """A stored record as this endpoint serves it (fields the list schema lacks removed)."""
    if not ep.drop:
        return body
    record = json.loads(body)
    if isinstance(record, dict):
        for key in ep.drop:
            record.pop(key, None)
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode()


class Lists:
    """Every collection the list endpoints read, by store name, built lazily."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._views = {
            name: StoreView(store, _VIEW_PARENT_KEYS.get(name)) for name, store in registry.stores.items()
        }
        self.stores = {name: ListStore(name, registry.size(name), self) for name in LIST_SPECS}
        self.cache: dict = {}  # endpoint path -> (key, ids): the last filtered id list (a walk reuses it)

    def collection(self, name: str):
        """The StoreView or ListStore of a store name."""
        return self._views.get(name) or self.stores[name]

    def store_name(self, path_or_store: str) -> str:
        """Store name of a list path ("customers/{id}/notes"), export feed path or store name."""
        key = path_or_store.strip("/")
        if key in ENDPOINTS:
            return ENDPOINTS[key].store
        name = FEEDS.get(key, key)
        if name in self._views or name in self.stores:
            return name
        raise KeyError(f"unknown path/store {path_or_store!r}; known: {sorted(ENDPOINTS) + sorted(FEEDS)}")

    def touch(self, store: str | None, rid) -> None:
        """Move a parent record's modifiedOn to now (no-op without parent)."""
        if store is None or rid is None:
            return
        if store in self.registry.stores:
            self.registry.stores[store].touch(rid)
        else:
            self.stores[store].touch(rid)

    # -- writing (the export stores change through Store, deletions through the view) ------------
    def change(self, path_or_store: str, n: int) -> list:
        """New versions of n records; parents of list-only records are touched."""
        name = self.store_name(path_or_store)
        return self.registry.stores[name].change(n) if name in self._views else self.stores[name].change(n)

    def add(self, path_or_store: str, n: int, touch_parent: bool = True) -> list:
        """n new records; new children get an existing parent, which is touched (if `touch_parent`)."""
        name = self.store_name(path_or_store)
        if name in self._views:
            return self.registry.stores[name].add(n)
        return self.stores[name].add(n, touch_parent)

    def delete(self, path_or_store: str, n: int) -> list:
        """Remove n records from the list endpoints (the export feeds keep theirs)."""
        return self.collection(self.store_name(path_or_store)).delete(n)

    def put(self, path_or_store: str, record: dict, parent=None) -> None:
        """Insert or replace a raw record as is (see Store.put and ListStore.put)."""
        name = self.store_name(path_or_store)
        if name in self._views:
            self.registry.stores[name].put(record)
        else:
            self.stores[name].put(record, parent)

    def restore(self, path_or_store: str, ids) -> list:
        """Serve deleted records again (see StoreView.restore, ListStore.restore)."""
        return self.collection(self.store_name(path_or_store)).restore(ids)

    # -- reading as served ---------------------------------------------------------------------
    def records(self, path: str) -> list[dict]:
        """Every record a top-level list endpoint serves (active=Any, no filters), sorted by id."""
        ep = ENDPOINTS[path.strip("/")]
        coll = self.collection(ep.store)
        bodies = [coll.body(rid) for rid in list(coll.entries())]
        rows = json.loads(b"[" + b",".join(project(ep, body) for body in bodies if body is not None) + b"]")
        rows.sort(key=_id_order)
        return rows

    def parents(self, path: str) -> list[dict]:
        """Path parameters of every parent a parent-scoped endpoint accepts, sorted by id."""
        ep = ENDPOINTS[path.strip("/")]
        coll = self.collection(ep.parent)
        ids = sorted(coll.entries(), key=lambda rid: _id_order({"id": rid}))
        if ep.params == ("contactId", "contactMethodId"):
            entries = coll.entries()
            return [{"contactId": entries[rid].parent, "contactMethodId": rid} for rid in ids]
        return [{ep.params[0]: rid} for rid in ids]

    def children(self, ep: Endpoint, params: dict) -> list | None:
        """Ids of a parent's records for this endpoint; None when the parent does not exist."""
        parent_coll = self.collection(ep.parent)
        rid = params[ep.params[-1]]
        if not parent_coll.exists(rid):
            return None
        if (
            ep.params == ("contactId", "contactMethodId")
            and parent_coll.entries()[rid].parent != params["contactId"]
        ):
            return None
        return self.collection(ep.store).children(rid)

    def child_records(self, path: str) -> list[tuple[dict, object]]:
        """(params, record) of every record of every parent, records as served (a preferred
        technician as {"technicianId": value}), parents sorted by id, records in served order."""
        ep = ENDPOINTS[path.strip("/")]
        coll, out = self.collection(ep.store), []
        for params in self.parents(path):
            ids = self.children(ep, params) or []
            if ep.kind == "value":
                out.append((params, {"technicianId": json.loads(coll.body(ids[0])) if ids else None}))
            else:
                out += [(params, json.loads(project(ep, coll.body(rid)))) for rid in ids]
        return out
