"""Print the field declarations of a CRM v2 GET endpoint from the OpenAPI description.

Usage: python scripts/print_fields.py ../shared/api-docs/crm-v2.openapi.json customers/{id}/notes
Used to write crm_pipeline/schemas/*.py; review the output (enums become TEXT, objects JSON).
"""

import json
import sys


def field_type(prop: dict, components: dict) -> str:
    ref = prop.get("$ref") or next((p.get("$ref") for p in prop.get("oneOf", prop.get("allOf", [])) if "$ref" in p), None)
    if ref:
        target = components[ref.split("/")[-1]]
        return "TEXT" if "enum" in target else "JSON"
    kind = prop.get("type")
    kinds = kind if isinstance(kind, list) else [kind]
    if "array" in kinds or "object" in kinds:
        return "JSON"
    if "integer" in kinds:
        return "INT"
    if "number" in kinds:
        return "FLOAT"
    if "boolean" in kinds:
        return "BOOL"
    if prop.get("format") == "date-time":
        return "TIMESTAMP"
    return "TEXT"


def main(spec_path: str, path: str) -> None:
    spec = json.load(open(spec_path))
    components = spec["components"]["schemas"]
    schema = spec["paths"][f"/tenant/{{tenant}}/{path}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    name = schema.get("$ref", "").split("/")[-1] or schema.get("items", {}).get("$ref", "").split("/")[-1]
    body = components[name]
    if "data" in body.get("properties", {}):
        body = components[body["properties"]["data"]["items"]["$ref"].split("/")[-1]]
    for field, prop in body.get("properties", {}).items():
        print(f'    "{field}": {field_type(prop, components)},')


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
