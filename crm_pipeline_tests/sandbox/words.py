"""Messy words for fake records: names, companies, addresses, sentences, and `messy`, which decorates
text the way people type it (padding, emoji, case, empty, very long)."""

from __future__ import annotations

import random

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
TAG_NAMES = [
    "Google LSA",
    "Angi",
    "Yelp",
    "Thumbtack",
    "web-form",
    "Facebook Ads",
    "Nextdoor 🏠",
    'Partner "A"',
    "Réservation en ligne",
    "",
    "  Phone ",
    "Chat\nbot",
]
FIELD_NAMES = [
    "Gate code",
    "Referral",
    "Dog?",
    "Notes",
    "Alarm code",
    "Préférence",
    "Filter size",
    "HOA ✓",
    "Tenant's name",
    "",
    "  Access\ninstructions",
    "Warranty #",
]
DATA_TYPES = ["Text", "Dropdown", "Numeric", "Date", "Checkbox", None, "text"]
TITLES = [
    "Owner",
    "Property Manager",
    "Tenant",
    "Office Manager",
    "Accounts Payable",
    "Señora",
    "",
    "  CEO ",
    None,
]


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
