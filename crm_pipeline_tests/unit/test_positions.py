"""A list stream's stored position has one codec, and reads what earlier versions stored (a file written
by an earlier version resumes its walks)."""

from __future__ import annotations

import json

import pytest

from crm_pipeline.catalog import ENDPOINTS
from crm_pipeline.ingest import STRATEGIES
from crm_pipeline.ingest.positions import ListPosition, Walk

# as the versions before the codec wrote them (ingest/lists.py, fanout.py, visit.py)
STORED_BEFORE = [
    '{"watermark": null}',
    '{"watermark": "2026-01-02T03:04:05.123456+00:00"}',
    '{"watermark": "2026-01-02T03:04:05+00:00", "total_count": 1234}',
    '{"watermark": null, "total_count": null}',
    '{"watermark": "2026-01-02 03:04:05.1+00", "parents": 40}',
    '{"walk": {"started": "2026-01-02 03:04:05.1+00", "whole": true, "planned": 40}}',
    '{"watermark": "2026-01-01 00:00:00+00", "parents": 40, '
    '"walk": {"started": "2026-01-02 03:04:05.1+00", "whole": false, "planned": 12, "done": 5}}',
]


@pytest.mark.parametrize("text", STORED_BEFORE)
def test_positions_stored_before_decode_to_the_same_values(text):
    position = ListPosition.decode(text)
    doc = json.loads(text)
    assert position.watermark == doc.get("watermark")
    assert position.total_count == doc.get("total_count")
    assert position.parents == doc.get("parents")
    walk = doc.get("walk")
    assert (position.walk is None) == (walk is None)
    if walk is not None:
        assert position.walk == Walk(**walk)
    again = json.loads(position.encode())
    assert _set(again) == _set(doc)


def _set(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if v is not None}


def test_no_position_is_a_first_run():
    assert ListPosition.decode(None) == ListPosition.decode("") == ListPosition()


def test_every_endpoint_names_a_known_strategy():
    assert {ep.strategy for ep in ENDPOINTS} == set(STRATEGIES)
