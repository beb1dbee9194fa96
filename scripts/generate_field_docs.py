"""Generate crm_pipeline/schemas/spec_fields.json: each CRM v2 GET response's fields, type and description.

Usage: python scripts/generate_field_docs.py [spec] [output]
(defaults: ../shared/api-docs/crm-v2.openapi.json, crm_pipeline/schemas/spec_fields.json).
crm_pipeline_tests/integration/test_column_docs.py checks that the committed output is what this script makes
of the spec. The file maps each path to its fields, one path per line: `{"<path>": {"<field>":
["<type name in crm_pipeline.schemas.types>", "<description, '' if none>"], ...}, ...}`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "api-docs" / "crm-v2.openapi.json"
DEFAULT_OUTPUT = ROOT / "crm_pipeline" / "schemas" / "spec_fields.json"
_PREFIX = "/tenant/{tenant}/"


def _ref_name(prop: dict) -> str | None:
    ref = prop.get("$ref") or next(
        (p.get("$ref") for p in prop.get("oneOf", prop.get("allOf", [])) if "$ref" in p), None
    )
    return ref.split("/")[-1] if ref else None


def field_type(prop: dict, components: dict) -> str:
    """The field type name: enums are TEXT (the API sometimes sends them as integers), objects and lists
    JSON."""
    name = _ref_name(prop)
    if name:
        return "TEXT" if "enum" in components[name] else "JSON"
    kinds = prop.get("type") if isinstance(prop.get("type"), list) else [prop.get("type")]
    if "array" in kinds or "object" in kinds:
        return "JSON"
    for kind, ftype in (("integer", "INT"), ("number", "FLOAT"), ("boolean", "BOOL")):
        if kind in kinds:
            return ftype
    return "TIMESTAMP" if prop.get("format") == "date-time" else "TEXT"


def record_schema(response_schema: dict, components: dict) -> dict:
    """The schema of one record of a response: a page's `data` items, an array's items, or the object
    itself."""
    name = _ref_name(response_schema) or _ref_name(response_schema.get("items", {}))
    body = components.get(name, {}) if name else {}
    if "data" in body.get("properties", {}):
        body = components[_ref_name(body["properties"]["data"]["items"])]
    return body


def spec_fields(spec: dict) -> dict[str, dict[str, tuple[str, str]]]:
    components = spec["components"]["schemas"]
    result = {}
    for path, operations in spec["paths"].items():
        try:
            schema = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        except KeyError:
            continue
        if path.endswith("}"):
            continue  # one record by id: the collection's path has the same fields
        props = record_schema(schema, components).get("properties", {})
        result[path.removeprefix(_PREFIX)] = {
            field: (field_type(prop, components), " ".join((prop.get("description") or "").split()))
            for field, prop in props.items()
        }
    return dict(sorted(result.items()))


def render(spec: dict) -> str:
    """The JSON text of `spec_fields(spec)`: one path per line, so a change in the spec is a readable diff."""
    lines = [
        f"{json.dumps(path)}: {json.dumps(fields, ensure_ascii=False)}"
        for path, fields in spec_fields(spec).items()
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(spec_path: str = str(DEFAULT_SPEC), output: str = str(DEFAULT_OUTPUT)) -> None:
    Path(output).write_text(render(json.loads(Path(spec_path).read_text())), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
