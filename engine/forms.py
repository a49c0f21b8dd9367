"""Validate submitted data against a task's JSON Schema, naming every bad field."""
from __future__ import annotations

from functools import lru_cache
import json
from typing import Any

from jsonschema import Draft202012Validator

from .errors import InvalidInput


@lru_cache(maxsize=256)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


def validate(schema: dict | None, data: Any) -> dict:
    """Return ``data`` if it satisfies ``schema``; otherwise raise InvalidInput with ``fields``."""
    if not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object", fields={"data": "must be an object"})
    if schema is None:
        return data
    validator = _validator(json.dumps(schema, sort_keys=True))
    fields: dict[str, str] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            path = ".".join([*map(str, error.absolute_path), missing])
            fields.setdefault(path, "is required")
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for name in extra:
                fields.setdefault(".".join([*map(str, error.absolute_path), name]), "is not an allowed field")
        else:
            path = ".".join(map(str, error.absolute_path)) or "data"
            fields.setdefault(path, error.message)
    if fields:
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise InvalidInput(f"invalid data: {summary}", fields=fields)
    return data
