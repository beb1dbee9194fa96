"""Record generators of the six export feeds (fields and order as in the OpenAPI export schemas,
`spec_fields.json`).

For speed, each store first draws a few thousand messy record *templates* (JSON text with
%-placeholders for id, parents, active/merged and timestamps); a record is then one template
filled by `render`, a few microseconds. Everything derives from (seed, store, index, seq), so a
chunk of records can be rebuilt identically at any time. `mutate` makes a record's next version.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Protocol

from crm_pipeline.schemas.declared import spec_fields

from .pools import MASK, Pools
from .timestamps import TICKS_PER_SECOND, TS_STYLES, format_ticks

DAY = 86400 * TICKS_PER_SECOND
TEMPLATES = 2048  # per store, a power of two
# Ids start above 2**31; contacts get 11 digits. id(i) = base + 7*i + jitter(i): unique, ascending.
ID_BASES = {
    "customers": 4_100_000_000,
    "locations": 5_200_000_000,
    "customer_contacts": 61_000_000_000,
    "location_contacts": 72_000_000_000,
    "leads": 8_300_000_000,
    "bookings": 94_000_000_000,
}
# Placeholders filled per record (see `render`); \x01 and \x02 never occur in JSON text.
ID, ACTIVE, MERGED, MOD, CREATED, PARENT, PARENT2, LATER = (
    f"\x01{k}\x02" for k in ("id", "active", "merged", "mod", "created", "parent", "parent2", "later")
)


def record_id(store: str, index: int) -> int:
    """Id of the record created as number `index` of a store."""
    return ID_BASES[store] + 7 * index + (index * index * 31 + 3) % 7


class Context(Protocol):
    """What generators need to know about the whole sandbox."""

    pools: Pools

    def size(self, store: str) -> int: ...
    def ticks(self, store: str, seq: int) -> int: ...


Maker = Callable[[Pools, random.Random], str]


def _b(rng: random.Random, p: float = 0.5) -> str:
    return "true" if rng.random() < p else "false"


def _req(rng: random.Random, value: str) -> str:
    """A documented-required value that now and then arrives null."""
    return "null" if rng.random() < 0.005 else value


def _enum(rng: random.Random, *names: str) -> str:
    """An enum by name, now and then by number (as the notes warn)."""
    i = rng.randrange(len(names))
    return str(i) if rng.random() < 0.01 else '"' + names[i] + '"'


def _opt(rng: random.Random, base: int, p_null: float = 0.5) -> str:
    return "null" if rng.random() < p_null else str(base + rng.randrange(10_000_000))


def _pick(rng: random.Random, pool: list[str]) -> str:
    return pool[rng.getrandbits(10) & MASK]


def _extra(rng: random.Random) -> str:
    """Now and then a field no document lists."""
    roll = rng.random()
    return (
        f',"legacyId":"L-{rng.randrange(10**5)}"'
        if roll < 0.01
        else (',"importBatch":null' if roll < 0.015 else "")
    )


def customer(p: Pools, rng: random.Random) -> str:
    credit = "null" if rng.random() < 0.8 else f"{rng.randrange(100000)}.00"
    return (
        f'{{"id":{ID},"active":{ACTIVE},"name":{_req(rng, _pick(rng, p.name))},'
        f'"type":{_enum(rng, "Residential", "Commercial")},"address":{_pick(rng, p.address)},'
        f'"customFields":{_pick(rng, p.custom_fields)},'
        f'"balance":{rng.randrange(-20000, 200000)}.{rng.randrange(100):02d},'
        f'"taxExempt":{_b(rng, 0.1)},"tagTypeIds":{_pick(rng, p.tags)},"doNotMail":{_b(rng, 0.2)},'
        f'"doNotService":{_b(rng, 0.03)},"nationalAccount":{_b(rng, 0.05)},"createdOn":{CREATED},'
        f'"createdById":{_req(rng, str(2_200_000_000 + rng.randrange(5000)))},"modifiedOn":{MOD},'
        f'"mergedToId":{MERGED},"paymentTermId":{_opt(rng, 2_600_000_000, 0.7)},'
        f'"creditLimit":{credit},"creditLimitBalance":{credit},'
        f'"externalData":{_pick(rng, p.external)}{_extra(rng)}}}'
    )


def location(p: Pools, rng: random.Random) -> str:
    return (
        f'{{"taxZoneId":{_opt(rng, 2_700_000_000)},"id":{ID},"customerId":{PARENT},"active":{ACTIVE},'
        f'"name":{_req(rng, _pick(rng, p.name))},"address":{_pick(rng, p.address)},'
        f'"customFields":{_pick(rng, p.custom_fields)},"createdOn":{CREATED},'
        f'"createdById":{_req(rng, str(2_200_000_000 + rng.randrange(5000)))},"modifiedOn":{MOD},'
        f'"mergedToId":{MERGED},"zoneId":{_opt(rng, 2_800_000_000)},"taxExempt":{_b(rng, 0.1)},'
        f'"tagTypeIds":{_pick(rng, p.tags)},"externalData":{_pick(rng, p.external)}{_extra(rng)}}}'
    )


def _contact_parts(p: Pools, rng: random.Random) -> dict[str, str]:
    kind = rng.choice(("Phone", "Email", "Fax", "MobilePhone"))
    phone = _pick(rng, p.phone)
    number = '""' if kind == "Email" else phone
    settings = "null" if rng.random() < 0.1 else f'{{"phoneNumber":{number},"doNotText":{_b(rng, 0.2)}}}'
    type_json = (
        str(("Phone", "Email", "Fax", "MobilePhone").index(kind)) if rng.random() < 0.01 else f'"{kind}"'
    )
    value = _req(rng, _pick(rng, p.email) if kind == "Email" else phone)
    return {
        "type": type_json,
        "value": value,
        "settings": settings,
        "memo": _pick(rng, p.memo),
        "prefs": _pick(rng, p.preferences),
        "extra": _extra(rng),
    }


def _contact_maker(feed: str, parent_field: str) -> Maker:
    """The template maker of a contacts feed: its fields in the order of the feed's OpenAPI schema."""

    def make(p: Pools, rng: random.Random) -> str:
        x = _contact_parts(p, rng)
        values = {
            "id": ID,
            "type": x["type"],
            "value": x["value"],
            "memo": x["memo"],
            "phoneSettings": x["settings"],
            "modifiedOn": MOD,
            "createdOn": CREATED,
            "preferences": x["prefs"],
            parent_field: PARENT,
            "active": ACTIVE,
        }
        return "{" + ",".join(f'"{name}":{values[name]}' for name in spec_fields()[feed]) + x["extra"] + "}"

    return make


def lead(p: Pools, rng: random.Random) -> str:
    known = rng.random() < 0.75
    return (
        f'{{"summary":{_pick(rng, p.summary)},"callReasonId":{_opt(rng, 3_000_000_000)},'
        f'"callId":{_opt(rng, 9_000_000_000)},"bookingId":{_opt(rng, 94_000_000_000, 0.8)},'
        f'"manualCallId":{_opt(rng, 9_100_000_000, 0.9)},"leadUrl":{_pick(rng, p.url)},'
        f'"leadCustomerName":{_pick(rng, p.person)},"leadPhone":{_pick(rng, p.phone)},'
        f'"leadEmail":{_pick(rng, p.email)},"leadStreet":{_pick(rng, p.street)},"leadUnit":null,'
        f'"leadCity":{_pick(rng, p.city)},"leadState":{_pick(rng, p.state)},"leadZip":{_pick(rng, p.zip)},'
        f'"leadCountry":{rng.choice(("null", chr(34) + "USA" + chr(34)))},'
        f'"captureSource":{_pick(rng, p.source)},'
        f'"id":{ID},"status":{_enum(rng, "Open", "Dismissed", "Converted")},'
        f'"priority":{_enum(rng, "Low", "Normal", "High", "Urgent")},'
        f'"customerId":{PARENT if known else "null"},'
        f'"locationId":{PARENT2 if known else "null"},"businessUnitId":{_opt(rng, 2_100_000_000)},'
        f'"jobTypeId":{_opt(rng, 2_200_000_000)},'
        f'"campaignId":{_req(rng, str(2_300_000_000 + rng.randrange(500)))},'
        f'"followUpDate":{LATER if rng.random() < 0.4 else "null"},'
        f'"createdById":{2_200_000_000 + rng.randrange(5000)},'
        f'"createdOn":{CREATED},"modifiedOn":{MOD},'
        f'"tagTypeIds":{"null" if rng.random() < 0.3 else _pick(rng, p.tags)},'
        f'"dismissingReasonId":{_opt(rng, 2_400_000_000, 0.8)},"active":{ACTIVE}{_extra(rng)}}}'
    )


def booking(p: Pools, rng: random.Random) -> str:
    ctype = "null" if rng.random() < 0.2 else _enum(rng, "Residential", "Commercial")
    priority = "null" if rng.random() < 0.3 else _enum(rng, "Low", "Normal", "High", "Urgent")
    return (
        f'{{"summary":{_pick(rng, p.summary)},"id":{ID},"source":{_req(rng, _pick(rng, p.source))},'
        f'"createdOn":{CREATED},"name":{_req(rng, _pick(rng, p.name))},'
        f'"address":{_pick(rng, p.booking_address)},'
        f'"customerType":{ctype},"start":{LATER},"campaignId":{_opt(rng, 2_300_000_000)},'
        f'"businessUnitId":{_opt(rng, 2_100_000_000)},'
        f'"isFirstTimeClient":{rng.choice(("null", "true", "false"))},'
        f'"uploadedImages":{_pick(rng, p.images)},'
        f'"isSendConfirmationEmail":{rng.choice(("null", "true", "false"))},'
        f'"status":{_enum(rng, "New", "Converted", "Dismissed", "Accepted")},'
        f'"dismissingReasonId":{_opt(rng, 2_400_000_000, 0.8)},"jobId":{_opt(rng, 9_500_000_000)},'
        f'"externalId":"{rng.randrange(10**12):012d}","priority":{priority},'
        f'"jobTypeId":{_opt(rng, 2_200_000_000)},'
        f'"bookingProviderId":{2_500_000_000 + rng.randrange(50)},"modifiedOn":{MOD},'
        f'"active":{ACTIVE}{_extra(rng)}}}'
    )


# store -> (template maker, parent stores filling PARENT and PARENT2, styles of LATER)
SPECS: dict[str, tuple[Maker, tuple[str, ...], tuple[int, ...]]] = {
    "customers": (customer, (), ()),
    "customer_contacts": (_contact_maker("export/customers/contacts", "customerId"), ("customers",), ()),
    "locations": (location, ("customers",), ()),
    "location_contacts": (_contact_maker("export/locations/contacts", "locationId"), ("locations",), ()),
    "leads": (lead, ("customers", "locations"), (4, 5, 4, 0)),  # follow-up dates mostly without zone
    "bookings": (booking, (), (0, 0, 1, 4)),
}


def make_templates(pools: Pools, seed: int, store: str, size: int = TEMPLATES) -> list[bytes]:
    """The %-templates (UTF-8 bytes) of one store, deterministic for the seed: a power of two of
    them, at most TEMPLATES, no more than needed for `size` records."""
    rng = random.Random(f"{seed}:{store}:templates")
    out = []
    for _ in range(min(TEMPLATES, 1 << max(size - 1, 1).bit_length())):
        text = SPECS[store][0](pools, rng).replace("%", "%%")
        for key in ("mod", "created", "later"):  # timestamps are strings: quote them here
            text = text.replace(f"\x01{key}\x02", f'"%({key})s"')
        for key in ("id", "parent", "parent2"):
            text = text.replace(f"\x01{key}\x02", f"%({key})d")
        out.append(text.replace("\x01", "%(").replace("\x02", ")s").encode())
    return out


def renderer(c: Context, templates: list[bytes], store: str) -> Callable[[random.Random, int, int], bytes]:
    """A function (rng, index, seq) -> JSON bytes of the record created as number `index` of a
    store, at modification sequence `seq`. Hot path: constants are bound once here."""
    size, base, step = c.size(store), c.ticks(store, 0), c.ticks(store, 1) - c.ticks(store, 0)
    _, parent_stores, later = SPECS[store]
    parents = [
        (key, parent, c.size(parent))
        for key, parent in zip((b"parent", b"parent2"), parent_stores, strict=False)
    ]
    old, young, mask, fmt = 400 * DAY, DAY, len(templates) - 1, format_ticks

    def render(rng: random.Random, index: int, seq: int) -> bytes:
        r = rng.getrandbits(64)
        mod = base + seq * step
        created = mod - (r >> 24) % old - DAY // 3 if index < size else mod - (r >> 24) % young
        active, merged = (b"false" if r & 0x3E0 == 0 else b"true"), b"null"
        if (r >> 10) & 63 == 0 and index > 0:
            active, merged = b"false", b"%d" % record_id(store, (r >> 30) % index)
        values = {
            b"id": record_id(store, index),
            b"active": active,
            b"merged": merged,
            b"mod": fmt(mod, TS_STYLES[r & 15]).encode(),
            b"created": fmt(created, TS_STYLES[(r >> 4) & 15]).encode(),
        }
        for key, parent, n in parents:
            values[key] = record_id(
                parent, (index * n // size if index < size else (r >> 16) % n) if n else 0
            )
        if later:
            values[b"later"] = fmt(mod + (r >> 20) % (60 * DAY), later[(r >> 40) & 3]).encode()
        return templates[(r >> 48) & mask] % values

    return render


def mutate(
    c: Context, store: str, record: dict, rng: random.Random, seq: int, merge_into: int | None
) -> dict:
    """Next version of a record: new modifiedOn, a few changed values, maybe inactive or merged."""
    p = c.pools
    record["modifiedOn"] = format_ticks(c.ticks(store, seq), TS_STYLES[rng.getrandbits(4)])
    for key, pool in (("name", p.name), ("memo", p.memo), ("summary", p.summary), ("value", p.phone)):
        if key in record and rng.random() < 0.5:
            record[key] = json.loads(pool[rng.getrandbits(10)])
    if "doNotMail" in record:
        record["doNotMail"] = not record["doNotMail"]
    if "status" in record:
        record["status"] = rng.choice(("Dismissed", "Converted"))
    roll = rng.random()
    if roll < 0.1 and merge_into is not None and "mergedToId" in record:
        record["active"], record["mergedToId"] = False, merge_into
    elif roll < 0.25:
        record["active"] = False
    elif roll < 0.4:
        record["active"] = True
        if "mergedToId" in record:
            record["mergedToId"] = None
    return record
