"""Field declarations and descriptions of an endpoint, from the generated `spec_fields` (the OpenAPI description).

The few fields the description leaves undescribed get theirs here, once; a field the API does not
describe at all (the bare value of `preferredtechnician`) is declared here.
"""

from __future__ import annotations

from crm_pipeline.schemas import types
from crm_pipeline.schemas.spec_fields import SPEC_FIELDS
from crm_pipeline.schemas.types import FieldType

# Descriptions for fields the OpenAPI description leaves empty (same meaning on every endpoint that has them).
UNDESCRIBED = {
    "active": "False when the record has been deactivated (soft-deleted) in ServiceTitan.",
    "customerId": "ID of the customer this record belongs to.",
    "locationId": "ID of the location this record belongs to.",
}
# Columns the pipeline names itself, for values the API sends without a field name (`Endpoint.value_field`).
NAMED_COLUMN_DOCS = {
    "technicianId": "ID of the location's preferred technician: the endpoint's bare answer (NULL when none)."
}


def fields_of(path: str) -> dict[str, FieldType]:
    """The declared fields of the GET response at `path` (e.g. `export/customers`), `id` first, then the
    spec's order; each typed as the spec says (enums TEXT, objects and lists JSON)."""
    spec = SPEC_FIELDS[path]
    names = sorted(spec, key=lambda name: name != "id")
    return {name: getattr(types, spec[name][0]) for name in names}


def descriptions_of(path: str) -> dict[str, str]:
    """Each field's description: the spec's, else the shared one for an undescribed field (absent if neither)."""
    described = {
        name: text or UNDESCRIBED.get(name, "") for name, (_, text) in SPEC_FIELDS.get(path, {}).items()
    }
    return {name: text for name, text in described.items() if text}
