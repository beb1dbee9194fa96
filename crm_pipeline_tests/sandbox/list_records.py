"""Record makers of the stores that only the list endpoints serve (notes, contacts, tags, ...).

Each maker returns the record as served (a dict in the field order of the OpenAPI list schema) for
(pools, rng, id, parent id, modifiedOn text, createdOn text); `mutate_list_record` makes its next
version. Values are as messy as those of the export feeds: unicode, emoji, quotes, newlines,
padded or empty strings, nulls, enums now and then as integers.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .pools import Pools
from .words import COMPANY, DATA_TYPES, EMOJI, FIELD_NAMES, FIRST, LAST, SENTENCE, TAG_NAMES, TITLES, messy

CONTACT_TYPES = ("Phone", "Email", "Fax", "MobilePhone")
PREFERENCE_TYPES = [
    ("jobReminders", "Boolean"),
    ("marketingUpdates", "Boolean"),
    ("invoiceNotification", "Boolean"),
    ("statementNotification", "Boolean"),
    ("preferredLanguage", "String"),
    ("appointmentWindow", "String"),
]
RELATIONSHIP_TYPES = [
    ("Customer", "customer", "customers"),
    ("Location", "location", "locations"),
    ("Booking", "booking", "bookings"),
    ("Billing Contact", "billing-contact", "customers"),
]


def _pick(rng: random.Random, pool: list[str]):
    return json.loads(pool[rng.getrandbits(10)])


def guid(rng: random.Random) -> str:
    """A deterministic random GUID (lower case), as the contacts API uses."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _enum(rng: random.Random, names) -> str | int:
    i = rng.randrange(len(names))
    return i if rng.random() < 0.01 else names[i]


def _user(rng: random.Random) -> int:
    return 2_200_000_000 + rng.randrange(5000)


def note_text(rng: random.Random) -> str:
    """Free text of a note: one to four messy lines, sometimes empty or padded."""
    lines = [messy(rng, rng.choice(SENTENCE)) for _ in range(rng.choice((1, 1, 2, 3, 4)))]
    text = rng.choice(("\n", "\r\n", "\n\n")).join(lines)
    roll = rng.random()
    return (
        ""
        if roll < 0.03
        else (f"  {text}\t" if roll < 0.08 else text + (" " + rng.choice(EMOJI) if roll < 0.12 else ""))
    )


def booking_provider_tag(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A booking provider tag (`booking-provider-tags`)."""
    return {
        "id": rid,
        "tagName": messy(rng, rng.choice(TAG_NAMES)),
        "description": None if rng.random() < 0.4 else messy(rng, rng.choice(SENTENCE)),
        "type": _enum(rng, ("V1Api", "V2Api")),
        "createdOn": created,
        "modifiedOn": mod,
        "active": rng.random() < 0.85,
    }


def custom_field_type(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A customer or location custom field type (`…/custom-fields`)."""
    kind = rng.choice(DATA_TYPES)
    options = (
        [messy(rng, o) for o in rng.sample(["Yes", "No", "Maybe 🤷", "N/A", "Ünknown", ""], 3)]
        if kind == "Dropdown"
        else rng.choice((None, None, []))
    )
    return {
        "id": rid,
        "name": None if rng.random() < 0.03 else messy(rng, rng.choice(FIELD_NAMES)),
        "dataType": kind,
        "dataTypeOptions": options,
        "createdOn": created,
        "modifiedOn": mod,
    }


def contact(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A contact (`contacts`): GUID id."""
    ref = rng.random()
    return {
        "id": rid,
        "referenceId": None if ref < 0.5 else ("" if ref < 0.55 else f"REF-{rng.randrange(10**7)}"),
        "name": None if rng.random() < 0.03 else _pick(rng, p.person),
        "title": rng.choice(TITLES),
        "isArchived": rng.random() < 0.1,
        "createdOn": created,
        "createdBy": _user(rng),
        "modifiedOn": mod,
        "modifiedBy": _user(rng),
    }


def contact_method(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A contact method of a contact (GUID id)."""
    kind = _enum(rng, CONTACT_TYPES)
    value = _pick(rng, p.email if kind == "Email" else p.phone)
    return {
        "id": rid,
        "contactId": parent,
        "referenceId": None if rng.random() < 0.6 else f"cm-{rng.randrange(10**6)}",
        "type": kind,
        "value": value,
        "memo": _pick(rng, p.memo),
        "createdOn": created,
        "createdBy": _user(rng),
        "modifiedOn": mod,
        "modifiedBy": _user(rng),
    }


def preference_type(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A contact preference type (`contacts/preferences`)."""
    name, kind = PREFERENCE_TYPES[rng.randrange(len(PREFERENCE_TYPES))]
    return {
        "id": rid,
        "name": name,
        "description": None if rng.random() < 0.3 else messy(rng, rng.choice(SENTENCE)),
        "dataType": kind,
    }


def relationship(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A relationship of a contact to a customer, location or booking."""
    name, slug, _ = RELATIONSHIP_TYPES[rng.randrange(len(RELATIONSHIP_TYPES))]
    return {
        "id": rid,
        "relatedEntityId": 0,
        "typeName": messy(rng, name),
        "typeSlug": slug,
        "createdOn": created,
        "createdBy": _user(rng),
    }


def method_preference(p: Pools, rng, rid, parent, mod, created) -> dict:
    """One preference of a contact method: {name, dataType, value}."""
    name, kind = PREFERENCE_TYPES[rng.randrange(len(PREFERENCE_TYPES))]
    if kind == "Boolean":
        value = rng.choice(("true", "false", "True", None, ""))
    else:
        value = rng.choice(("en", "es-MX", "Morning ☀️", "  afternoon", None, "", "Any\ntime"))
    return {"name": name, "dataType": kind, "value": value}


def note(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A note of a customer, location or lead."""
    return {
        "id": rid,
        "text": note_text(rng),
        "isPinned": rng.random() < 0.1,
        "createdById": _user(rng),
        "createdOn": created,
        "modifiedOn": mod,
    }


def booking_contact(p: Pools, rng, rid, parent, mod, created) -> dict:
    """A contact of a booking."""
    kind = _enum(rng, CONTACT_TYPES)
    return {
        "id": rid,
        "type": kind,
        "value": _pick(rng, p.email if kind == "Email" else p.phone),
        "memo": _pick(rng, p.memo),
        "modifiedOn": mod,
    }


def technician(p: Pools, rng, rid, parent, mod, created) -> int | None:
    """The preferred technician of a location: an id or None."""
    return None if rng.random() < 0.05 else 2_900_000_000 + rng.randrange(400)


Maker = Callable[..., object]


@dataclass(frozen=True)
class ListSpec:
    """How a list-only store is made: maker, parent store, kind of ids, id base, default size."""

    make: Maker
    parent: str | None = None  # parent store (export store or list-only store)
    ids: str = "int"  # "int", "guid", "parent" (one record per parent, keyed by it), "seq" (internal)
    base: int = 0
    size: Callable[[dict], int] = lambda s: s["customers"]


LIST_SPECS: dict[str, ListSpec] = {
    "booking_provider_tags": ListSpec(
        booking_provider_tag, None, "int", 2_510_000_000, lambda s: min(40, 4 + s["customers"] // 25)
    ),
    "customer_custom_fields": ListSpec(
        custom_field_type, None, "int", 3_100_000_000, lambda s: min(30, 3 + s["customers"] // 40)
    ),
    "location_custom_fields": ListSpec(
        custom_field_type, None, "int", 3_200_000_000, lambda s: min(30, 2 + s["customers"] // 50)
    ),
    "contacts": ListSpec(contact, None, "guid"),
    "contact_methods": ListSpec(contact_method, "contacts", "guid", 0, lambda s: 2 * s["contacts"]),
    "contact_preference_types": ListSpec(preference_type, None, "guid", 0, lambda s: len(PREFERENCE_TYPES)),
    "contact_relationships": ListSpec(relationship, "contacts", "guid", 0, lambda s: s["contacts"]),
    "contact_method_preferences": ListSpec(
        method_preference, "contact_methods", "seq", 0, lambda s: s["contact_methods"]
    ),
    "customer_notes": ListSpec(note, "customers", "int", 11_000_000_000),
    "location_notes": ListSpec(note, "locations", "int", 12_000_000_000, lambda s: s["locations"]),
    "lead_notes": ListSpec(note, "leads", "int", 13_000_000_000, lambda s: s["leads"]),
    "booking_contacts": ListSpec(booking_contact, "bookings", "int", 95_000_000_000, lambda s: s["bookings"]),
    "preferred_technicians": ListSpec(technician, "locations", "parent", 0, lambda s: s["locations"] // 2),
}


def default_list_sizes(sizes: dict[str, int]) -> dict[str, int]:
    """Fill in the sizes of the list-only stores (in place) from those already set."""
    for name, spec in LIST_SPECS.items():
        sizes.setdefault(name, spec.size(sizes))
    if sizes["preferred_technicians"] > sizes["locations"]:
        raise ValueError("preferred_technicians cannot exceed locations (one per location)")
    return sizes


def mutate_list_record(p: Pools, rng: random.Random, record, mod: str):
    """Next version of a list-only record: a few changed values and, where it has one, a new modifiedOn."""
    if not isinstance(record, dict):  # a preferred technician: a bare id or null
        return technician(p, rng, None, None, mod, mod)
    if "modifiedOn" in record:
        record["modifiedOn"] = mod
    for key, make in (
        ("text", lambda: note_text(rng)),
        ("memo", lambda: _pick(rng, p.memo)),
        (
            "name",
            lambda: (
                messy(rng, rng.choice(FIELD_NAMES))
                if "dataTypeOptions" in record
                else messy(rng, f"{rng.choice(FIRST)} {rng.choice(LAST)}")
            ),
        ),
        ("tagName", lambda: messy(rng, rng.choice(TAG_NAMES + COMPANY))),
        (
            "value",
            lambda: rng.choice(("true", "false", None, "")) if "dataType" in record else _pick(rng, p.phone),
        ),
        ("title", lambda: rng.choice(TITLES)),
        ("typeName", lambda: messy(rng, str(record["typeName"]).strip())),
    ):
        if key in record and rng.random() < 0.6 and not (key == "name" and "description" in record):
            record[key] = make()
    for key in ("isPinned", "isArchived", "active"):
        if key in record and rng.random() < 0.5:
            record[key] = not record[key]
    if "modifiedBy" in record:
        record["modifiedBy"] = _user(rng)
    return record
