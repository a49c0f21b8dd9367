"""Widgets chosen from a JSON Schema, and form strings converted back to the schema's types."""
from __future__ import annotations

import json
import os

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from gridloop.engine.runtime import WORKFLOWS_DIR
from gridloop.web import schema_forms


def form(name: str) -> dict:
    with open(os.path.join(WORKFLOWS_DIR, "forms", name), encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(autouse=True)
def english():
    app = Flask(__name__)
    app.secret_key = "x"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        yield


def by_name(fields):
    return {f.name: f for f in fields}


def test_widgets_labels_and_required_marks():
    report = by_name(schema_forms.fields(form("report.json")))
    assert (report["title"].widget, report["title"].label, report["title"].required) == ("text", "Title", True)
    assert report["description"].widget == "textarea" and not report["description"].required
    assert report["category"].widget == "select" and ("gas_leak", "Gas leak") in report["category"].options
    assert report["urgency"].widget == "radio"  # up to four choices
    assert report["source"].widget == "select" and len(report["source"].options) == 5  # open311 made it five
    group = report["location"]
    assert group.widget == "group" and [c.name for c in group.children] == ["location.address", "location.lat", "location.lon"]
    assert dict(group.children[1].attrs) == {"min": -90, "max": 90, "step": "any"}
    feedback = by_name(schema_forms.fields(form("feedback.json")))
    assert feedback["contacted"].widget == "yesno"  # required
    assert feedback["resolved"].widget == "yesno"  # required when contacted (if/then)
    inspect = by_name(schema_forms.fields(form("inspect.json")))
    assert inspect["items_checked"].widget == "checkboxes" and len(inspect["items_checked"].options) == 7
    assert by_name(schema_forms.fields(form("service_order.json")))["needed_by"].widget == "date"


def test_labels_follow_the_language():
    app = Flask(__name__)
    app.secret_key = "x"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        outcome = by_name(schema_forms.fields(form("grid_handle.json")))["outcome"]
    assert outcome.label == "处置结论" and ("whistle", "吹哨(派部门报到)") in outcome.options


def test_parse_converts_types_and_leaves_blanks_out():
    fields = schema_forms.fields(form("report.json"))
    data = schema_forms.parse(fields, MultiDict({"title": " Drain ", "description": "", "category": "garbage",
                                                 "reporter.name": "", "location.lat": "41.5", "location.lon": "east"}))
    assert data == {"title": "Drain", "category": "garbage", "location": {"lat": 41.5, "lon": "east"}}
    feedback = schema_forms.fields(form("feedback.json"))
    assert schema_forms.parse(feedback, MultiDict({"contacted": "false"})) == {"contacted": False}
    assert schema_forms.parse(feedback, MultiDict()) == {}
    inspect = schema_forms.fields(form("inspect.json"))
    parsed = schema_forms.parse(inspect, MultiDict([("items_checked", "wiring"), ("items_checked", "lifts")]))
    assert parsed["items_checked"] == ["wiring", "lifts"]
    order = schema_forms.fields(form("service_order.json"))
    assert schema_forms.parse(order, MultiDict({"volunteers_needed": "3"}))["volunteers_needed"] == 3
    assert schema_forms.parse(order, MultiDict({"volunteers_needed": "3.5"}))["volunteers_needed"] == "3.5"


def test_optional_boolean_is_a_checkbox_that_means_false_when_unticked():
    schema = {"type": "object", "properties": {"urgent": {"type": "boolean"}}}
    fields = schema_forms.fields(schema)
    assert fields[0].widget == "checkbox"
    assert schema_forms.parse(fields, MultiDict()) == {"urgent": False}
    assert schema_forms.parse(fields, MultiDict({"urgent": "true"})) == {"urgent": True}


def test_initial_values_and_stray_errors():
    values = schema_forms.initial(form("report.json"), {"grid": "g1", "location": {"lat": 41.5}, "reporter": None})
    assert values.to_dict() == {"urgency": "normal", "grid": "g1", "location.lat": "41.5"}
    assert schema_forms.initial(form("feedback.json"), {"contacted": True})["contacted"] == "true"
    fields = schema_forms.fields(form("report.json"))
    assert schema_forms.stray_errors(fields, {"reporter.phone": "bad", "data": "must be an object"}) == {
        "data": "must be an object"}
