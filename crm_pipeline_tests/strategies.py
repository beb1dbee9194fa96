"""Hypothesis strategies for pages of records, shared by the property and fast-path tests.

`pages()`: pages as messy as records get (values of the wrong JSON type, huge numbers, timestamps
outside any range, lone UTF-16 surrogates, unknown fields with awkward names, missing or junk keys,
repeated keys, entries that are not objects). `clean_pages()`: pages of records sending every declared
field with a fitting value, now and then one change (a misfit, a field left out, a new field).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from crm_pipeline.catalog import EXPORT_FEEDS, endpoint
from crm_pipeline.page_types import PIPELINE_COLUMNS

ENDPOINTS = [*EXPORT_FEEDS, endpoint("contacts")]  # the six feeds, and a list endpoint keyed by GUID text
INT64 = (-(2**63), 2**63 - 1)
MISSING = object()

SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
TEXT = st.one_of(
    st.text(max_size=10),
    st.sampled_from(["", " ", "  padded ", "line\nbreak", "😀", "a\x00b", 'quo"te', "Zoë", "שלום"]),
    st.builds(
        lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATES, st.text(max_size=3)
    ),  # JSON "\ud800"
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def timestamps(draw) -> str:
    """ISO 8601 text as the API sends it: 0 to 7 fractional digits, Z, an offset or no zone; some
    years outside what pandas (1677-2262) can hold."""
    moment = draw(st.datetimes(min_value=datetime(1600, 1, 1), max_value=datetime(2300, 12, 31)))
    digits = draw(st.integers(0, 7))
    fraction = (
        "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    zone = draw(st.sampled_from(["Z", "", "+00:00", "-08:00", "+05:30"]))
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}{fraction}{zone}"


TYPED = {  # values a field of each type may receive: mostly fitting, some not
    "int": st.one_of(
        st.integers(*INT64),
        st.integers(min_value=2**63, max_value=2**80),
        st.integers(*INT64).map(str),
        st.integers(-1000, 1000).map(float),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
    ),
    "float": st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(-(2**60), 2**60),
        st.integers(min_value=10**310, max_value=10**320),
        st.sampled_from(["12.5", "-3", "1e3", "lots", ""]),
    ),
    "bool": st.one_of(st.booleans(), st.sampled_from([0, 1, 2, "true", "yes"])),
    "timestamp": st.one_of(
        timestamps(), st.sampled_from(["", "not a date", "2024-13-45T00:00:00Z"]), st.integers()
    ),
    "text": st.one_of(TEXT, st.integers(0, 5), st.booleans()),  # an enum sent as a number
    "json": JSON_VALUES,
}
EXTRA_NAMES = st.one_of(
    st.text(min_size=1, max_size=6),
    st.sampled_from(
        [
            "newField",
            "NewField",
            "loyaltyTier",
            'quo"te',
            "with space",
            "Ω",
            "",
            "ID",
            "Name",
            "modifiedon",
            "a\ud800",
            *PIPELINE_COLUMNS,
            "TENANT_ID",
        ]
    ),
)


def key_values(ep):
    if ep.fields[ep.key[0]].name == "int":
        good = st.integers(1, 12)  # a small range: keys repeat within a page
        junk = st.one_of(
            st.just(None),
            st.just(MISSING),
            st.integers(min_value=2**63, max_value=2**70),
            st.booleans(),
            st.sampled_from(["abc", "", "7", " 8 ", "9.5"]),
            st.floats(0, 20),
        )
    else:
        good = st.sampled_from([str(uuid.UUID(int=i)) for i in range(1, 12)] + ["x", "Zoë"])
        junk = st.one_of(st.just(None), st.just(MISSING), st.integers(0, 5), TEXT)
    return st.one_of(good, good, good, junk)


@st.composite
def records(draw, ep) -> object:
    if draw(st.integers(0, 30)) == 0:  # now and then an entry that is not an object at all
        return draw(JSON_VALUES.filter(lambda v: not isinstance(v, dict)))
    record = {}
    key = draw(key_values(ep))
    if key is not MISSING:
        record[ep.key[0]] = key
    others = [name for name in ep.fields if name not in ep.key]
    for name in draw(st.lists(st.sampled_from(others), max_size=6, unique=True)):
        kind = ep.fields[name].name
        record[name] = draw(st.one_of(TYPED[kind], TYPED[kind], TYPED[kind], JSON_VALUES))
    for name, value in draw(st.dictionaries(EXTRA_NAMES, JSON_VALUES, max_size=2)).items():
        record.setdefault(name, value)
    return record


@st.composite
def pages(draw):
    ep = draw(st.sampled_from(ENDPOINTS))
    return ep, draw(st.lists(records(ep), min_size=1, max_size=8))


FITTING = {  # values that fit their field (the usual page)
    "int": st.one_of(st.none(), st.integers(*INT64)),
    "float": st.one_of(
        st.none(), st.floats(allow_nan=False, allow_infinity=False), st.integers(-(2**53), 2**53)
    ),
    "bool": st.one_of(st.none(), st.booleans()),
    "timestamp": st.one_of(st.none(), timestamps()),
    "text": st.one_of(st.none(), st.text(max_size=8)),
    "json": JSON_VALUES,
}


@st.composite
def clean_pages(draw):
    """A page of records sending every declared field with a fitting value; now and then one value of
    any kind (TYPED: mostly misfits) in one record, or a field left out, or a new field."""
    ep = draw(st.sampled_from(ENDPOINTS))
    size = draw(st.integers(1, 40))
    key = ep.key[0]
    keys = (
        st.integers(1, 60)
        if ep.fields[key].name == "int"
        else st.sampled_from([str(uuid.UUID(int=i)) for i in range(1, 60)])
    )
    page = []
    for _ in range(size):
        record = {name: draw(FITTING[ftype.name]) for name, ftype in ep.fields.items() if name != key}
        record[key] = draw(keys)
        page.append(record)
    for _ in range(draw(st.integers(0, 2))):
        record = page[draw(st.integers(0, size - 1))]
        name = draw(st.sampled_from(list(ep.fields)))
        change = draw(st.sampled_from(["misfit", "missing", "extra"]))
        if change == "misfit":
            record[name] = draw(TYPED[ep.fields[name].name])
        elif change == "missing":
            record.pop(name, None)
        else:
            record[draw(st.sampled_from(["loyaltyTier", "LoyaltyTier", "legacyId"]))] = draw(JSON_VALUES)
    return ep, page


# settings of the fast-path tests (the property test sets its own)
HYPOTHESIS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
