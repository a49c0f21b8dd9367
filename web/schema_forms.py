"""HTML forms from a task's JSON Schema, and submitted form fields back into JSON.

The same schema validates the data in the engine, so this module only decides widgets and
converts strings to the schema's types; every rule (required, ``if/then``, patterns) is the
engine's, and its field errors come back keyed by the same dotted names the inputs carry.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping

from jsonschema import Draft202012Validator
from werkzeug.datastructures import MultiDict

from .i18n import pick

TEXTAREA_FROM = 500  # strings allowing this many characters get a textarea
RADIO_UP_TO = 4      # enums with this many values or fewer are radio buttons, else a select


@dataclass(frozen=True)
class Field:
    name: str           # dotted path: the input's name and the key of its error
    label: str
    widget: str         # text textarea number date select radio checkbox yesno checkboxes lines group
    type: str | None    # the JSON type the value is converted to
    required: bool
    options: tuple[tuple[str, str], ...] = ()
    children: tuple[Field, ...] = ()
    attrs: tuple[tuple[str, Any], ...] = ()


def _title(schema: Mapping, fallback: str) -> str:
    return pick(schema.get("x-title-zh"), schema.get("title")) or fallback


def _options(schema: Mapping) -> tuple[tuple[str, str], ...]:
    labels = schema.get("x-enum-labels", {})
    return tuple((str(v), pick(labels.get(str(v), {}).get("zh"), labels.get(str(v), {}).get("en")) or str(v))
                 for v in schema["enum"])


def _conditionally_required(schema: Mapping) -> set[str]:
    """Fields some ``if/then`` branch requires: they must be answerable (no bare checkbox)."""
    return {name for branch in schema.get("allOf", []) for name in branch.get("then", {}).get("required", [])}


def _matches(condition: Any, data: Mapping) -> bool:
    if not isinstance(condition, Mapping):
        return bool(condition)
    key = id(condition)
    if _if_validators.get(key, (None,))[0] is not condition:
        _if_validators[key] = (condition, Draft202012Validator(condition))
    return _if_validators[key][1].is_valid(data)


_if_validators: dict[int, tuple[Mapping, Draft202012Validator]] = {}


def active_branches(schema: Mapping, data: Mapping | None) -> list[Mapping]:
    """The ``then`` (or ``else``) subschemas of the schema's ``if`` conditions (its own and its
    ``allOf``'s) that hold for ``data``: what they require is required now (static/forms.js
    does the same in the browser, and also hides the fields that only inactive ones name)."""
    found = []
    for branch in (schema, *schema.get("allOf", [])):
        if isinstance(branch, Mapping) and "if" in branch:
            chosen = branch.get("then") if _matches(branch["if"], data or {}) else branch.get("else")
            if isinstance(chosen, Mapping):
                found.append(chosen)
    return found


def fields(schema: Mapping | None, prefix: str = "", data: Mapping | None = None,
           overlays: tuple[Mapping, ...] = ()) -> list[Field]:
    """The form's fields; ``required`` as it stands for the answers in ``data`` (conditions
    that hold add their requirements; ``overlays`` are those of the enclosing object's)."""
    if not schema:
        return []
    data = data if isinstance(data, Mapping) else {}
    active = [*active_branches(schema, data), *overlays]
    required = set(schema.get("required", [])) | {n for branch in active for n in branch.get("required", [])}
    answerable = required | _conditionally_required(schema)
    result = []
    for name, prop in schema.get("properties", {}).items():
        nested = tuple(sub for branch in active
                       if isinstance(sub := branch.get("properties", {}).get(name), Mapping))
        result.append(_field(prop, prefix + name, name in required, name in answerable, data.get(name), nested))
    return result


def _field(prop: Mapping, name: str, required: bool, answerable: bool, value: Any = None,
           overlays: tuple[Mapping, ...] = ()) -> Field:
    if "anyOf" in prop:  # one value or a list (grid_handle's department): the form asks for the first
        prop = {**{k: v for k, v in prop.items() if k != "anyOf"}, **prop["anyOf"][0]}
    label, type_ = _title(prop, name.rsplit(".", 1)[-1]), prop.get("type")
    if type_ == "object":
        return Field(name, label, "group", type_, required, children=tuple(fields(prop, name + ".", value, overlays)))
    if "enum" in prop:
        options = _options(prop)
        return Field(name, label, "radio" if len(options) <= RADIO_UP_TO else "select", type_, required, options)
    if type_ == "boolean":
        return Field(name, label, "yesno" if answerable else "checkbox", type_, required)
    if type_ == "array":
        items = prop.get("items", {})
        if "enum" in items:
            return Field(name, label, "checkboxes", items.get("type"), required, _options(items))
        return Field(name, label, "lines", items.get("type"), required)
    if type_ in ("integer", "number"):
        attrs = {"min": prop.get("minimum"), "max": prop.get("maximum"),
                 "step": 1 if type_ == "integer" else "any"}
        return Field(name, label, "number", type_, required, attrs=_attrs(attrs))
    if prop.get("format") == "date":
        return Field(name, label, "date", type_, required)
    widget = "textarea" if (prop.get("maxLength") or 0) >= TEXTAREA_FROM else "text"
    return Field(name, label, widget, type_, required, attrs=_attrs({"maxlength": prop.get("maxLength")}))


def as_select(form_fields: list[Field], name: str, options: list[tuple[str, str]]) -> list[Field]:
    """The fields with top-level field ``name`` offered as a select of ``options`` (value,
    text): for values the schema leaves open but the page can list, such as the grids a
    user may report for. The schema still validates whatever is sent."""
    return [replace(f, widget="select", options=tuple(options), attrs=()) if f.name == name else f
            for f in form_fields]


def _attrs(values: dict) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in values.items() if v is not None)


def stray_errors(form_fields: list[Field], errors: Mapping[str, str]) -> dict[str, str]:
    """Errors no input shows next to itself (e.g. about the data as a whole)."""
    def names(fs):
        for f in fs:
            yield f.name
            yield from names(f.children)
    placed = set(names(form_fields))
    return {name: message for name, message in errors.items() if name not in placed}


# ---------------------------------------------------------------------------------------- input

def read(schema: Mapping | None, form: MultiDict, form_fields: list[Field] | None = None) -> dict:
    """The submitted form as JSON for ``schema``: a group left blank that the answers make
    required is sent empty, so the schema names each of its missing fields at once (not the
    group, then its fields one failed submit at a time)."""
    answers = parse(form_fields if form_fields is not None else fields(schema), form)
    return parse(fields(schema, data=answers), form)


def parse(form_fields: list[Field], form: MultiDict) -> dict:
    """The submitted fields as JSON; blanks are left out so the schema reports them missing
    (a required group left blank is sent as an empty object, see ``read``)."""
    data = {}
    for f in form_fields:
        value = _value(f, form)
        if value is not None:
            data[f.name.rsplit(".", 1)[-1]] = value
    return data


def _value(f: Field, form: MultiDict):
    if f.widget == "group":
        return parse(list(f.children), form) or ({} if f.required and any(c.required for c in f.children) else None)
    if f.widget == "checkbox":
        return f.name in form
    if f.widget in ("checkboxes", "lines"):
        raw = form.getlist(f.name) if f.widget == "checkboxes" else form.get(f.name, "").splitlines()
        items = [_convert(v.strip(), f.type) for v in raw if v.strip()]
        return items or None
    raw = form.get(f.name, "").strip()
    if not raw:
        return None
    if f.widget == "yesno":
        return {"true": True, "false": False}.get(raw, raw)
    return _convert(raw, f.type)


def _convert(raw: str, type_: str | None):
    """Numbers become numbers; anything unconvertible stays a string for the schema to reject."""
    try:
        if type_ == "integer":
            return int(raw)
        if type_ == "number":
            return float(raw)
    except ValueError:
        return raw
    return raw


def initial(schema: Mapping | None, data: Mapping) -> MultiDict:
    """Form values to show first: the schema's defaults, overridden by ``data`` (nested dict)."""
    values = MultiDict()
    for name, prop in (schema or {}).get("properties", {}).items():
        value = data.get(name, prop.get("default"))
        if isinstance(value, Mapping):
            for sub_name, sub_values in initial(prop, value).lists():
                values.setlist(f"{name}.{sub_name}", sub_values)
        elif isinstance(value, list):
            values.setlist(name, [str(v) for v in value])
        elif isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif value is not None:
            values[name] = str(value)
    return values
