"""Messy but deterministic building blocks for fake records: text pools and timestamp formats.

Every pool holds ready-made JSON fragments (already `json.dumps`-ed), so that a record is built by
string formatting only; that keeps generation at a few microseconds per record.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

POOL_SIZE = 1024  # a power of two: pick with `pool[bits & MASK]`
MASK = POOL_SIZE - 1
TICKS_PER_SECOND = 10_000_000  # .NET ticks (100 ns): 7 fractional digits


def dump(value) -> str:
    """Compact JSON text of a value, non-ASCII kept as is (as the real API sends it)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


FIRST = [
    "John",
    "Mary",
    "James",
    "Linda",
    "Robert",
    "Sarah",
    "Michael",
    "Karen",
    "David",
    "Chris",
    "José",
    "Zoë",
    "Björk",
    "李",
    "Øyvind",
    "Siobhán",
    "Nguyễn",
    "Ana María",
    "O'Brien",
    "Jean-Luc",
    "Mohammed",
    "Ólafur",
    "Renée",
    "Łukasz",
    "Дмитрий",
    "Aiyana",
]
LAST = [
    "Smith",
    "Williams",
    "Brown",
    "Jones",
    "Miller",
    "Davis",
    "Wilson",
    "Taylor",
    "García",
    "Müller",
    "O'Connor",
    "D'Angelo",
    "Nakamura",
    "Van der Berg",
    "Øster",
    "Kowalski",
    "Brontë",
    "Johnson",
    "Ng",
    "Fernández-López",
    "MacDonald",
    "Иванов",
    "Lee",
]
COMPANY = [
    'Smith & Sons "HVAC"',
    "Back\\slash Plumbing",
    "Line\nBreak LLC",
    "ACME, Inc.",
    "🔥 Fire Pros",
    "Café Olé Ltd.",
    "Tab\tSeparated Co",
    "Zero\u200bWidth Corp",
    "ÅÄÖ AB",
    "שלום Services",
    "Mom's <b>Best</b> Roofing",
    "100% Cool Air",
    "C:\\Temp\\Heating",
]
STREET = [
    "Main St",
    "Elm Street",
    "Rue de l'Église",
    "Königsallee",
    "Avenida São João",
    "1st Ave.",
    "Old Mill Rd #4",
    "P.O. Box 12",
    "Calle 5 de Mayo",
    "Baker\nStreet",
]
CITY = [
    "Boston",
    "Los Angeles",
    "São Paulo",
    "Zürich",
    "Montréal",
    "New York",
    "St. John's",
    "Coeur d'Alene",
    "Ōsaka",
    "Winston-Salem",
    "boston",
    "BOSTON",
]
STATE = ["MA", "CA", "NY", "TX", "ON", "QC", "ma", "Massachusetts", "", "WA"]
ZIP = ["02134", "90210", "10001", "00501", "94105-1234", "K1A 0B6", "1234", "", " 02134", "07030"]
COUNTRY = ["USA", "US", "United States", "CA", "Canada", "", "usa"]
UNIT = ["Apt 1", "#2B", "Suite 100", "Unit ½", "", "  ", "Ste. 5\n(rear)"]
EMOJI = ["🙂", "🔥", "👩‍🔧", "🏠", "❄️", "🇺🇸"]
SENTENCE = [
    "Call before coming",
    "Dog in yard 🐕",
    'Said "ASAP"',
    "Gate code: 1234#",
    "Ne pas déranger",
    "Leaky faucet\nand noisy AC",
    "Back\\door",
    "Spanish only — habla español",
    "<script>alert(1)</script>",
    "Customer's 2nd request",
    "Ünïcödé tëxt",
    "😡😡😡",
]
SOURCES = ["Google", "Website", "Phone", "Angi", "Yelp", "Facebook", "", "import", "web-form"]


def messy(rng: random.Random, text: str) -> str:
    """Decorate text the way people type it: spaces, emoji, case, empty (about 1 in 4 changed)."""
    roll = rng.random()
    if roll < 0.06:
        return "  " + text
    if roll < 0.12:
        return text + " "
    if roll < 0.16:
        return text + " " + rng.choice(EMOJI)
    if roll < 0.19:
        return text.upper()
    if roll < 0.21:
        return ""
    if roll < 0.23:
        return text + "\r\n"
    if roll < 0.25:
        return text * 12  # long value
    return text


class Pools:
    """Pre-encoded JSON fragments, built once per sandbox from its seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed * 7919 + 17)

        def pool(fn):
            return [fn() for _ in range(POOL_SIZE)]

        def person():
            return messy(rng, f"{rng.choice(FIRST)} {rng.choice(LAST)}")

        def name():
            return person() if rng.random() < 0.7 else messy(rng, rng.choice(COMPANY))

        def phone():
            n = f"{rng.randrange(200, 999)}{rng.randrange(2000000, 9999999)}"
            forms = [
                n,
                f"({n[:3]}) {n[3:6]}-{n[6:]}",
                f"+1 {n[:3]} {n[3:6]} {n[6:]}",
                f"{n[:3]}.{n[3:6]}.{n[6:]} x{rng.randrange(1, 99)}",
                "",
            ]
            return rng.choice(forms)

        def email():
            user = rng.choice(["jose", "zoë", "a+b", "UPPER", "o'brien", "first.last"])
            return messy(
                rng, f"{user}{rng.randrange(1000)}@{rng.choice(['example.com', 'EXAMPLE.org', 'ex.co'])}"
            )

        def text():
            return messy(rng, rng.choice(SENTENCE))

        def address(with_geo: bool):
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

        def custom_fields():
            n = rng.choice([0, 0, 0, 1, 2, 3])
            return dump(
                [
                    {
                        "typeId": rng.randrange(1, 5_000_000_000),
                        "name": rng.choice(["Gate code", "Referral", "Dog?", "Notes", None, ""]),
                        "value": rng.choice([text(), None, "", "0", "true", "00123"]),
                    }
                    for _ in range(n)
                ]
            )

        def tags():
            return dump(sorted(rng.sample(range(2_200_000_000, 2_200_000_050), rng.choice([0, 0, 1, 2, 4]))))

        def external():
            roll = rng.random()
            if roll < 0.5:
                return "null"
            return dump(
                []
                if roll < 0.7
                else [
                    {
                        "key": rng.choice(["crmId", "legacy id", "ключ"]),
                        "value": rng.choice([str(rng.randrange(10**9)), "", "n/a 🤷"]),
                    }
                ]
            )

        def preferences():
            if rng.random() < 0.4:
                return "null"
            keys = (
                "jobRemindersEnabled",
                "marketingUpdatesEnabled",
                "invoiceStatementNotification",
                "invoiceNotification",
                "statementNotification",
            )
            return dump({k: rng.random() < 0.5 for k in keys})

        def nullable(fn, p_null):
            return lambda: "null" if rng.random() < p_null else dump(fn())

        self.name = pool(lambda: dump(name()))
        self.person = pool(lambda: dump(person()))
        self.phone = pool(lambda: dump(phone()))
        self.email = pool(lambda: dump(email()))
        self.memo = pool(nullable(text, 0.6))
        self.summary = pool(nullable(text, 0.2))
        self.text = pool(lambda: dump(text()))
        self.source = pool(lambda: dump(rng.choice(SOURCES)))
        self.address = pool(lambda: address(True))
        self.booking_address = pool(lambda: "null" if rng.random() < 0.2 else address(False))
        self.custom_fields = pool(custom_fields)
        self.tags = pool(tags)
        self.external = pool(external)
        self.preferences = pool(preferences)
        self.street = pool(nullable(lambda: f"{rng.randrange(1, 9999)} {rng.choice(STREET)}", 0.3))
        self.city = pool(nullable(lambda: rng.choice(CITY), 0.3))
        self.state = pool(nullable(lambda: rng.choice(STATE), 0.3))
        self.zip = pool(nullable(lambda: rng.choice(ZIP), 0.3))
        self.url = pool(nullable(lambda: f"https://example.com/lead?id={rng.randrange(10**6)}&q=a%20b", 0.5))
        self.images = pool(
            lambda: dump(
                [
                    f"https://img.example.com/{rng.randrange(10**8)}.jpg"
                    for _ in range(rng.choice([0, 0, 1, 3]))
                ]
            )
        )


_DAYS: dict[int, str] = {}


def format_ticks(ticks: int, style: int) -> str:
    """Format ticks since the epoch. style 0: 7 digits + Z, 1: trailing zeros trimmed + Z,
    2: no fraction + Z, 3: 3 digits + Z, 4: 7 digits without zone, 5: no fraction, no zone."""
    sec, frac = divmod(ticks, TICKS_PER_SECOND)
    day, sec = divmod(sec, 86400)
    head = _DAYS.get(day)
    if head is None:
        head = _DAYS[day] = datetime.fromtimestamp(day * 86400, UTC).strftime("%Y-%m-%d")
    hms = (head, sec // 3600, sec // 60 % 60, sec % 60)
    if style == 0:
        return "%sT%02d:%02d:%02d.%07dZ" % (*hms, frac)
    if style == 1:
        digits = ("%07d" % frac).rstrip("0")
        return "%sT%02d:%02d:%02d.%sZ" % (*hms, digits) if digits else "%sT%02d:%02d:%02dZ" % hms
    if style == 2:
        return "%sT%02d:%02d:%02dZ" % hms
    if style == 3:
        return "%sT%02d:%02d:%02d.%03dZ" % (*hms, frac // 10000)
    if style == 4:
        return "%sT%02d:%02d:%02d.%07d" % (*hms, frac)
    return "%sT%02d:%02d:%02d" % hms


TS_STYLES = (0, 0, 0, 0, 0, 1, 1, 2, 2, 3, 0, 0, 1, 0, 2, 0)  # mostly 7 digits; 16 entries: pick with 4 bits


def parse_instant(text: str) -> int | None:
    """Ticks since the epoch for `2024-01-01` or an ISO date-time (zone optional, UTC assumed)."""
    text = text.strip()
    try:
        if len(text) == 10:
            dt = datetime.strptime(text, "%Y-%m-%d")
        else:
            main, _, frac = text.replace("z", "Z").removesuffix("Z").partition(".")
            zone = ""
            for sign in "+-":
                if sign in frac:
                    frac, _, rest = frac.partition(sign)
                    zone = sign + rest
            dt = datetime.fromisoformat(main + zone)
            if frac and not frac.isdigit():
                return None
            dt = dt.replace(microsecond=0)
            extra = int((frac + "0000000")[:7]) if frac else 0
            return _ticks(dt) + extra
    except ValueError:
        return None
    return _ticks(dt)


def _ticks(dt: datetime) -> int:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * TICKS_PER_SECOND
