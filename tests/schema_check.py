"""`assert_valid(schema_name, body)`: check a JSON body against OpenAI's published Videos schemas.

Loads `components.schemas` from the vendored spec (`tests/spec/openai-videos.openapi.yaml`)
and resolves `$ref`s with `referencing`. The subset spec has no error envelope, so
`ErrorResponse` is added here exactly as OpenAI's full spec defines it.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_PATH = Path(__file__).resolve().parent / "spec" / "openai-videos.openapi.yaml"
SPEC_URI = "urn:openai-videos"

# From OpenAI's openapi.yaml (components.schemas.ErrorResponse / Error).
EXTRA_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "properties": {
            "code": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "message": {"type": "string"},
            "param": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "type": {"type": "string"},
        },
        "required": ["type", "message", "param", "code"],
    },
    "ErrorResponse": {
        "type": "object",
        "properties": {"error": {"$ref": "#/components/schemas/Error"}},
        "required": ["error"],
    },
}


@functools.cache
def _registry() -> tuple[Registry, dict[str, Any]]:
    spec = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    schemas = spec["components"]["schemas"]
    for name, schema in EXTRA_SCHEMAS.items():
        schemas.setdefault(name, schema)
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return Registry().with_resource(SPEC_URI, resource), schemas


def schema_names() -> list[str]:
    return sorted(_registry()[1])


def assert_valid(schema_name: str, body: Any) -> None:
    """Raise AssertionError listing every violation of `components.schemas[schema_name]`."""
    registry, schemas = _registry()
    if schema_name not in schemas:
        raise KeyError(f"No schema {schema_name!r}; known: {', '.join(sorted(schemas))}")
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/{schema_name}"},
        registry=registry,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in errors)
        raise AssertionError(f"{schema_name} violation(s): {details}\nbody: {body!r}")
