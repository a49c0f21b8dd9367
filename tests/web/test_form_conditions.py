"""Forms driven by their own JSON Schema if/then/else: a property a branch names applies only
while that branch holds (static/forms.js hides the rest), what a holding branch requires is
marked required as soon as it applies, and every missing field is reported at once; the server
validates the same schema with jsonschema, with or without the script."""
from __future__ import annotations

import json
import os
import re

import pytest
from jsonschema import Draft202012Validator

from gridloop.web import schema_forms

from .conftest import GRID1

FORMS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "workflows", "forms")
EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def page(app):
    """A request's context: field labels are picked in its language."""
    with app.test_request_context(headers=EN):
        yield


def _form(name: str) -> dict:
    with open(os.path.join(FORMS, name), encoding="utf-8") as f:
        return json.load(f)


@pytest.mark.parametrize("form, data, missing", [
    ("accept.json", {"outcome": "reject"}, {"reject_reason"}),
    ("accept.json", {"outcome": "accept"}, set()),
    ("grid_handle.json", {"outcome": "whistle"}, {"department"}),
    ("grid_handle.json", {"outcome": "resolved", "department": "housing"}, {"resolution"}),  # pre-filled: allowed
    ("verify.json", {"outcome": "failed"}, {"note"}),
    ("verify.json", {"outcome": "passed", "note": "Looks fine"}, set()),
    ("feedback.json", {"contacted": True}, {"resolved", "satisfaction"}),
    ("feedback.json", {"contacted": False}, set()),
    ("consult.json", {"outcome": "hand_down"}, {"hand_down_to"}),
])
def test_the_schemas_require_by_their_conditions(page, form, data, missing):
    schema = _form(form)
    errors = {e.message.split("'")[1] for e in Draft202012Validator(schema).iter_errors(data) if e.validator == "required"}
    assert errors == missing
    required_now = {f.name for f in schema_forms.fields(schema, data=data) if f.required}
    assert missing <= required_now


def test_a_branch_names_the_fields_that_apply_only_with_it(page):
    schema = _form("grid_handle.json")
    def named(data):
        return {n for branch in schema_forms.active_branches(schema, data)
                for n in [*branch.get("required", []), *branch.get("properties", {})]}
    assert named({"outcome": "whistle"}) == {"department", "co_departments"}
    assert named({"outcome": "resolved"}) == {"resolution"}
    assert named({}) == set()  # nothing chosen yet: only the always-applying fields (outcome, note) show
    report = _form("report.json")  # the reporter applies to every source, her phone is required for some
    hotline = schema_forms.fields(report, data={"source": "hotline"})
    reporter = next(f for f in hotline if f.name == "reporter")
    assert reporter.required and [c.name for c in reporter.children if c.required] == ["reporter.phone"]
    assert not next(f for f in schema_forms.fields(report, data={"source": "patrol"}) if f.name == "reporter").required


def test_the_task_page_embeds_its_schema_and_marks_the_conditional_asterisks(api, as_user):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    grid1 = as_user("grid1")
    page = grid1.get(f"/tasks/{task_id}", headers=ZH).get_data(True)
    assert '<div class="form-schema" hidden data-required="此项必填" data-schema="' in page
    assert "/static/forms.js" in page and "&#34;if&#34;:" in page.split('class="form-schema"')[1].split("</div>")[0]
    department = page.split('data-field="department"')[1].split("</div>")[0]
    assert 'class="req" title="必填" hidden>' in department  # not required until "whistle" is chosen
    refused = grid1.post(f"/tasks/{task_id}", {"outcome": "whistle"}, status=400, headers=ZH).get_data(True)
    department = refused.split('data-field="department"')[1].split("</div>")[0]
    assert 'class="req" title="必填">' in department and 'id="department-error">此项必填<' in department


def test_every_missing_field_of_a_hotline_report_is_named_at_once(as_user):
    acceptor = as_user("acceptor1")
    acceptor.get("/report")
    form = {"title": "", "category": "garbage", "source": "hotline", "grid": GRID1,
            "location.address": "和平区民主社区3号楼"}
    zh = acceptor.post("/report", form, status=400, headers=ZH).get_data(True)
    errors = dict(re.findall(r'id="([\w.]+)-error">([^<]+)<', zh))
    assert errors == {"title": "此项必填", "reporter.phone": "此项必填"}
    reporter = zh.split('data-field="reporter"')[1].split("</fieldset>")[0]
    assert re.search(r'联系电话 <abbr class="req" title="必填">', reporter)  # phone marked once it applies
    en = acceptor.post("/report", {**form, "title": "Rubbish", "reporter.name": "Zhang"}, status=400,
                       headers=EN).get_data(True)
    assert dict(re.findall(r'id="([\w.]+)-error">([^<]+)<', en)) == {"reporter.phone": "This field is required"}


def test_the_api_validates_the_same_conditions(api):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    refused = api.post(f"/tasks/{task_id}/complete", "grid1", json={"data": {"outcome": "whistle"}}, status=400)
    assert refused["error"]["fields"] == {"department": "is required"}
    api.post(f"/tasks/{task_id}/complete", "grid1",
             json={"data": {"outcome": "resolved", "resolution": "Done", "department": "housing"}})
