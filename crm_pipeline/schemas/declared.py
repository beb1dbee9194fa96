"""Field declarations and descriptions of an endpoint, from the generated `spec_fields.json` (the OpenAPI
description's fields of each GET response, written by `scripts/generate_field_docs.py`).

The few fields the description leaves undescribed get theirs here, once; a field the API does not
describe at all (the bare value of `preferredtechnician`) is declared here.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from crm_pipeline.schemas import types
from crm_pipeline.schemas.types import FieldType

SPEC_FIELDS_FILE = Path(__file__).with_name("spec_fields.json")

# Descriptions for fields the OpenAPI description leaves empty (same meaning on every endpoint that has them).
UNDESCRIBED = {
    "active": "False when the record has been deactivated (soft-deleted) in ServiceTitan.",
    "customerId": "ID of the customer this record belongs to.",
    "locationId": "ID of the location this record belongs to.",
}
# Fields the pipeline names itself, for values the API sends without a field name (as in spec_fields.json:
# path -> field -> [type name, description]). The catalog's `value_field` names the column of such a value.
NAMED_FIELDS = {
    "locations/{id}/preferredtechnician": {
        "technicianId": [
            "INT",
            "ID of the location's preferred technician: the endpoint's bare answer (NULL when none).",
        ]
    }
}


@cache
def spec_fields() -> dict[str, dict[str, list[str]]]:
    """path -> field -> [field type name in `crm_pipeline.schemas.types`, description ("" when none)]."""
    return json.loads(SPEC_FIELDS_FILE.read_text(encoding="utf-8"))


def _declared(path: str) -> dict[str, list[str]]:
    spec = spec_fields()
    if path not in spec and path not in NAMED_FIELDS:
        raise KeyError(path)
    return {**spec.get(path, {}), **NAMED_FIELDS.get(path, {})}


def fields_of(path: str) -> dict[str, FieldType]:
    """The declared fields of the GET response at `path` (e.g. `export/customers`), `id` first, then the
    spec's order; each typed as the spec says (enums TEXT, objects and lists JSON)."""
    declared = _declared(path)
    names = sorted(declared, key=lambda name: name != "id")
    return {name: getattr(types, declared[name][0]) for name in names}


def descriptions_of(path: str) -> dict[str, str]:
    """Each field's description: the spec's (or the pipeline's, for a field it names), else the shared one
    for an undescribed field (absent if neither)."""
    declared = _declared(path) if path in spec_fields() or path in NAMED_FIELDS else {}
    described = {name: text or UNDESCRIBED.get(name, "") for name, (_, text) in declared.items()}
    return {name: text for name, text in described.items() if text}
