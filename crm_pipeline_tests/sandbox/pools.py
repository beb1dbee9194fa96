"""Messy but deterministic pools of values for fake records (names, phones, addresses, ...).

Every pool holds ready-made JSON fragments (already `json.dumps`-ed), so that a record is built by
string formatting only; that keeps generation at a few microseconds per record.
"""

from __future__ import annotations

import json
import random

from .words import CITY, COMPANY, COUNTRY, FIRST, LAST, SENTENCE, SOURCES, STATE, STREET, UNIT, ZIP, messy

POOL_SIZE = 1024  # a power of two: pick with `pool[bits & MASK]`
MASK = POOL_SIZE - 1


def dump(value) -> str:
    """Compact JSON text of a value, non-ASCII kept as is (as the real API sends it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def person(rng: random.Random) -> str:
    return messy(rng, f"{rng.choice(FIRST)} {rng.choice(LAST)}")


def name(rng: random.Random) -> str:
    """A person's or a company's name."""
    return person(rng) if rng.random() < 0.7 else messy(rng, rng.choice(COMPANY))


def phone(rng: random.Random) -> str:
    n = f"{rng.randrange(200, 999)}{rng.randrange(2000000, 9999999)}"
    forms = [
        n,
        f"({n[:3]}) {n[3:6]}-{n[6:]}",
        f"+1 {n[:3]} {n[3:6]} {n[6:]}",
        f"{n[:3]}.{n[3:6]}.{n[6:]} x{rng.randrange(1, 99)}",
        "",
    ]
    return rng.choice(forms)


def email(rng: random.Random) -> str:
    user = rng.choice(["jose", "zoë", "a+b", "UPPER", "o'brien", "first.last"])
    return messy(rng, f"{user}{rng.randrange(1000)}@{rng.choice(['example.com', 'EXAMPLE.org', 'ex.co'])}")


def text(rng: random.Random) -> str:
    return messy(rng, rng.choice(SENTENCE))


def address(rng: random.Random, with_geo: bool) -> str:
    """An address object as JSON text; a documented-required part now and then null."""
    a = {
        "street": messy(rng, f"{rng.randrange(1, 99999)} {rng.choice(STREET)}"),
        "unit": rng.choice(UNIT) if rng.random() < 0.3 else None,
        "city": messy(rng, rng.choice(CITY)),
        "state": rng.choice(STATE),
        "zip": rng.choice(ZIP),
        "country": rng.choice(COUNTRY),
    }
    if rng.random() < 0.01:
        a[rng.choice(["street", "city", "zip"])] = None  # documented required, arrives null
    if with_geo:
        geo = rng.random() < 0.7
        a["latitude"] = round(rng.uniform(25, 49), rng.randrange(1, 8)) if geo else None
        a["longitude"] = round(rng.uniform(-124, -67), rng.randrange(1, 8)) if geo else None
    return dump(a)


def custom_fields(rng: random.Random) -> str:
    n = rng.choice([0, 0, 0, 1, 2, 3])
    return dump(
        [
            {
                "typeId": rng.randrange(1, 5_000_000_000),
                "name": rng.choice(["Gate code", "Referral", "Dog?", "Notes", None, ""]),
                "value": rng.choice([text(rng), None, "", "0", "true", "00123"]),
            }
            for _ in range(n)
        ]
    )


def tags(rng: random.Random) -> str:
    return dump(sorted(rng.sample(range(2_200_000_000, 2_200_000_050), rng.choice([0, 0, 1, 2, 4]))))


def external(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.5:
        return "null"
    if roll < 0.7:
        return dump([])
    key = rng.choice(["crmId", "legacy id", "ключ"])
    return dump([{"key": key, "value": rng.choice([str(rng.randrange(10**9)), "", "n/a 🤷"])}])


PREFERENCE_KEYS = (
    "jobRemindersEnabled",
    "marketingUpdatesEnabled",
    "invoiceStatementNotification",
    "invoiceNotification",
    "statementNotification",
)


def preferences(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return "null"
    return dump({k: rng.random() < 0.5 for k in PREFERENCE_KEYS})


def images(rng: random.Random) -> str:
    return dump(
        [f"https://img.example.com/{rng.randrange(10**8)}.jpg" for _ in range(rng.choice([0, 0, 1, 3]))]
    )


class Pools:
    """Pre-encoded JSON fragments, built once per sandbox from its seed (one generator, in this order)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed * 7919 + 17)

        def pool(make, p_null: float | None = None) -> list[str]:
            """POOL_SIZE values of make(rng) as JSON text; with p_null, "null" that often instead."""
            if p_null is None:
                return [make(rng) for _ in range(POOL_SIZE)]
            return ["null" if rng.random() < p_null else dump(make(rng)) for _ in range(POOL_SIZE)]

        self.name = pool(lambda r: dump(name(r)))
        self.person = pool(lambda r: dump(person(r)))
        self.phone = pool(lambda r: dump(phone(r)))
        self.email = pool(lambda r: dump(email(r)))
        self.memo = pool(text, 0.6)
        self.summary = pool(text, 0.2)
        self.text = pool(lambda r: dump(text(r)))
        self.source = pool(lambda r: dump(r.choice(SOURCES)))
        self.address = pool(lambda r: address(r, True))
        self.booking_address = pool(lambda r: "null" if r.random() < 0.2 else address(r, False))
        self.custom_fields = pool(custom_fields)
        self.tags = pool(tags)
        self.external = pool(external)
        self.preferences = pool(preferences)
        self.street = pool(lambda r: f"{r.randrange(1, 9999)} {r.choice(STREET)}", 0.3)
        self.city = pool(lambda r: r.choice(CITY), 0.3)
        self.state = pool(lambda r: r.choice(STATE), 0.3)
        self.zip = pool(lambda r: r.choice(ZIP), 0.3)
        self.url = pool(lambda r: f"https://example.com/lead?id={r.randrange(10**6)}&q=a%20b", 0.5)
        self.images = pool(images)
