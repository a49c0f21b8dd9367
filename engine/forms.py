"""Validate submitted data against a task's JSON Schema, naming every bad field."""
from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator

from . import inputs
from .errors import InvalidInput


_validators: dict[int, tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    """Validators are built once per schema object (deployed forms are never mutated)."""
    cached = _validators.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = _validators[id(schema)] = (schema, Draft202012Validator(schema))
    return cached[1]


def validate(schema: dict[str, Any] | None, data: Any) -> dict[str, Any]:
    """Return ``data`` if it satisfies ``schema`` (or, without one, the limits of data no form
    describes); otherwise raise InvalidInput with ``fields``."""
    if not isinstance(data, dict):
        raise InvalidInput("data must be a JSON object", fields={"data": "must be an object"})
    inputs.check_json(data)
    if schema is None:
        inputs.check_free_data(data)
        return data
    validator = _validator(schema)
    fields: dict[str, str] = {}
    reasons: dict[str, tuple[str, dict[str, Any]]] = {}
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            path = ".".join([*map(str, error.absolute_path), missing])
            fields.setdefault(path, "is required")
            reasons.setdefault(path, ("required", {}))
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for name in extra:
                path = ".".join([*map(str, error.absolute_path), name])
                fields.setdefault(path, "is not an allowed field")
                reasons.setdefault(path, ("not_allowed", {}))
        else:
            path = ".".join(map(str, error.absolute_path)) or "data"
            fields.setdefault(path, error.message)
            reasons.setdefault(path, _reason(error.validator, error.validator_value))
    if fields:
        summary = "; ".join(f"{k}: {v}" for k, v in fields.items())
        raise InvalidInput(f"invalid data: {summary}", fields=fields, field_reasons=reasons)
    return data


# JSON Schema keywords whose failures pages name in the user's language (others: "invalid").
_REASONS = {"maxLength": "max_length", "minLength": "min_length", "maxItems": "max_items", "minItems": "min_items",
            "minimum": "minimum", "maximum": "maximum", "enum": "enum", "const": "enum", "type": "type",
            "pattern": "pattern", "format": "format", "uniqueItems": "unique", None: "not_applicable"}


def _reason(keyword: str | None, value: Any) -> tuple[str, dict[str, Any]]:
    """A failed keyword as (reason, params): a minLength of 1 means the field must be filled."""
    if keyword == "minLength" and value == 1:
        return "required", {}
    reason = _REASONS.get(keyword, "invalid")
    return reason, ({"limit": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else {})
