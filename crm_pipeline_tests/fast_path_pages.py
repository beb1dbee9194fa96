"""Pages for the fast-path tests: a clean page of customers, and a page as an export walk hands it over."""

from __future__ import annotations

import json

import msgspec

from crm_pipeline.catalog import endpoint

CUSTOMERS = endpoint("export/customers")
NULL = "<SQL NULL, not JSON null>"


def as_sent(page: list, ascii_only: bool) -> list[msgspec.Raw]:
    """The page's records as JSON texts, as an export walk hands them over (`raw_records`); non-ASCII
    text written as is, or escaped (always escaped where it holds an unpaired surrogate)."""
    texts = []
    for record in page:
        text = json.dumps(record, ensure_ascii=ascii_only, separators=(",", ":"))
        try:
            texts.append(msgspec.Raw(text.encode()))
        except UnicodeEncodeError:
            texts.append(msgspec.Raw(json.dumps(record, separators=(",", ":")).encode()))
    return texts


def customers(n: int) -> list[dict]:
    return [
        {
            "id": i,
            "active": i % 2 == 0,
            "name": f"Customer {i} Zoë",
            "type": "Residential",
            "address": {"city": "Zürich", "zip": None},
            "customFields": [],
            "balance": i / 4,
            "taxExempt": False,
            "tagTypeIds": [i],
            "doNotMail": None,
            "doNotService": False,
            "nationalAccount": False,
            "createdOn": "2024-01-02T03:04:05.1234567Z",
            "createdById": 2**40 + i,
            "modifiedOn": "2024-01-02T03:04:05Z",
            "mergedToId": None,
            "paymentTermId": None,
            "creditLimit": None,
            "creditLimitBalance": 0,
            "externalData": None,
        }
        for i in range(1, n + 1)
    ]
