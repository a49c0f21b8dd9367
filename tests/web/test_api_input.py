"""Malformed input is a 400 naming the field (or a 413), never a 500, and the same answer on
SQLite and PostgreSQL: NUL characters, lone surrogates, numbers beyond 64 bits or not finite,
deep nesting, oversized bodies, unbounded data of processes without a start form, and LIKE
wildcards in searches."""
from __future__ import annotations

import json
import os

import pytest

from gridloop.engine import inputs
from gridloop.engine.errors import InvalidInput

from ..conftest import MODELS
from .conftest import GRID1, Api, Browser, make_app, report_body


def _deploy_model(runtime, name: str) -> None:
    with open(os.path.join(MODELS, name), "rb") as fh:
        runtime.deploy(sources={name: fh.read()})


def _raw(api: Api, method: str, path: str, user: str, body: str, status: int) -> dict:
    return api.call(method, path, user, data=body, headers={"Content-Type": "application/json"}, status=status)


def test_nul_characters_are_400_naming_the_field_on_every_database(any_api):
    nul = inputs.text_problem("\x00")
    fields = any_api.post("/cases", "grid1", json=report_body(title="Rubbish\x00"), status=400)["error"]["fields"]
    assert fields == {"title": nul}
    nested = any_api.post("/cases", "grid1", json=report_body(reporter={"name": "张\x00三", "phone": "1"}), status=400)
    assert nested["error"]["fields"] == {"reporter.name": nul}
    assert any_api.get("/cases", "supervisor1")["total"] == 0  # nothing stored, on either database
    for path in ("/tasks", "/cases"):
        assert any_api.get(path, "grid1", query_string={"grid": "\x00"}, status=400)["error"]["fields"] == {"grid": nul}
    assert any_api.get("/tasks/a\x00b", "grid1", status=400)["error"]["fields"] == {"task_id": nul}
    assert any_api.get("/feedback/\x00", status=400)["error"]["fields"] == {"token": nul}
    assert any_api.post("/auth/token", json={"username": "grid1\x00", "password": "demo"},
                        status=400)["error"]["fields"] == {"username": nul}
    assert any_api.post("/messages", "designer1", json={"name": "x\x00"}, status=400)["error"]["fields"] == {"name": nul}
    bad_key = any_api.post("/messages", "designer1", json={"name": "x", "payload": {"a\x00": 1}}, status=400)
    assert bad_key["error"]["fields"] == {"payload": f"has a key that {nul}"}
    lone = _raw(any_api, "POST", "/cases", "grid1", json.dumps(report_body(title="\ud800")), status=400)
    assert lone["error"]["fields"] == {"title": "is not valid Unicode (lone surrogate)"}


def test_html_forms_and_filters_with_nul_characters_are_400_pages(any_world):
    browser = Browser(make_app(any_world).test_client())
    browser.sign_in("grid1")
    page = browser.get("/cases", status=400, query_string={"grid": "\x00"})
    assert "grid" in page.get_data(True)
    browser.get("/report")
    form = {"title": "Rubbish\x00", "category": "garbage", "source": "patrol", "grid": GRID1}
    assert "title" in browser.post("/report", form, status=400).get_data(True)
    api = Api(make_app(any_world).test_client())
    assert api.get("/cases", "supervisor1")["total"] == 0


def test_numbers_beyond_64_bits_or_not_finite_are_400_naming_the_field(any_api, any_world):
    huge = 10 ** 20
    for path in ("/cases", "/tasks", "/process-instances"):
        assert "page" in any_api.get(path, "supervisor1", query_string={"page": huge}, status=400)["error"]["fields"]
    assert "page" in any_api.get("/cases", "supervisor1", query_string={"page": 100_001}, status=400)["error"]["fields"]
    for path, field in (("/cases/", "case_id"), ("/process-instances/", "instance_id")):
        error = any_api.get(f"{path}{huge}", "supervisor1", status=400)["error"]
        assert error["fields"] == {field: inputs.int_problem(huge)}
    _deploy_model(any_world, "message_wait.bpmn")
    version = any_api.post("/process-instances", "designer1", json={"key": "order_wait", "version": 2 ** 63},
                           status=400)["error"]["fields"]
    assert set(version) == {"version"}
    assert any_world.start_process(None, "order_wait", {"order_no": "A-1"}, version=1).id  # version 1 exists
    assert any_api.get(f"/definitions/order_wait/versions/{2 ** 33}/xml", "designer1", status=404)  # found by schemathesis
    started = any_api.post("/process-instances", "designer1", json={"key": "order_wait", "data": {"order_no": 10 ** 30}},
                           status=400)["error"]["fields"]
    assert started == {"data.order_no": inputs.int_problem(10 ** 30)}
    correlation = any_api.post("/messages", "designer1", json={"name": "order_confirmed",
                                                               "correlation": {"order_no": 10 ** 30}}, status=400)
    assert correlation["error"]["fields"] == {"correlation.order_no": inputs.int_problem(10 ** 30)}
    for literal in ("NaN", "Infinity", "1e400"):
        body = '{"name": "order_confirmed", "payload": {"amount": %s}}' % literal
        error = _raw(any_api, "POST", "/messages", "designer1", body, status=400)["error"]
        assert error["fields"] == {"payload.amount": "is not a finite number"}
    with pytest.raises(InvalidInput) as engine_error:  # the engine refuses it too, whoever calls it
        any_world.send_message(None, "order_confirmed", {"order_no": 10 ** 30})
    assert engine_error.value.fields == {"correlation.order_no": inputs.int_problem(10 ** 30)}


def test_deep_nesting_is_400_not_a_recursion_error(any_api):
    deep = "[" * 20_000 + "]" * 20_000
    error = _raw(any_api, "POST", "/process-instances", "designer1", '{"key": "x", "data": %s}' % deep, status=400)
    assert error["error"]["fields"] == {"body": f"nested deeper than {inputs.MAX_DEPTH} levels"}
    token = any_api.call("POST", "/auth/token", data=deep, headers={"Content-Type": "application/json"}, status=400)
    assert token["error"]["code"] == "validation_error"  # the sign-in limiter reads the body first: no 500 there
    files = _raw(any_api, "POST", "/definitions/check", "designer1", deep, status=400)
    assert set(files["error"]["fields"]) == {"files"}
    nested: dict = {}
    for _ in range(inputs.MAX_DEPTH + 5):
        nested = {"a": nested}
    error = any_api.post("/process-instances", "designer1", json={"key": "x", "data": nested}, status=400)["error"]
    (field, problem), = error["fields"].items()
    assert field.startswith("data.a.a") and problem == f"nested deeper than {inputs.MAX_DEPTH} levels"


def test_start_data_without_a_start_form_is_bounded(any_api, any_world):
    _deploy_model(any_world, "message_wait.bpmn")

    def start(data, status=400):
        return any_api.post("/process-instances", "designer1", json={"key": "order_wait", "data": data}, status=status)

    assert start({"order no": "A-1", "_secret": 1})["error"]["fields"] == {
        "order no": "is not a variable name", "_secret": "is not a variable name"}
    assert start({f"v{n}": n for n in range(inputs.MAX_FREE_KEYS + 1)})["error"]["fields"] == {
        "data": f"at most {inputs.MAX_FREE_KEYS} keys"}
    assert "data" in start({"order_no": "A-1", "note": "x" * inputs.MAX_FREE_BYTES})["error"]["fields"]
    assert start({"order_no": "A-1", "items": [{"sku": "s-1", "qty": 2}]}, status=201)["status"] == "running"


def test_bodies_over_the_limit_are_413_json_for_the_api_and_a_page_for_people(world):
    app = make_app(world)
    app.config["MAX_CONTENT_LENGTH"] = 2048
    api = Api(app.test_client())
    api.token("grid1")
    too_big = api.post("/cases", "grid1", json=report_body(description="x" * 4096), status=413)["error"]
    assert too_big == {"code": "too_large", "message": "the request body is larger than 2048 bytes"}
    assert api.post("/cases", "grid1", json=report_body(), status=201)
    browser = Browser(app.test_client())
    browser.sign_in("grid1")
    browser.get("/report")
    page = browser.post("/report", {"title": "x", "description": "x" * 4096}, status=413).get_data(True)
    assert "提交的内容过大" in page and "2 KiB" in page
    assert make_app(world).config["MAX_CONTENT_LENGTH"] == 1024 * 1024  # the default


def test_search_wildcards_are_text(any_api):
    percent = any_api.report("grid1", title="Repair 100% done")
    any_api.report("grid1", title="Rubbish piled in stairwell 3")
    assert [c["id"] for c in any_api.get("/cases", "supervisor1", query_string={"q": "%"})["items"]] == [percent["id"]]
    assert any_api.get("/cases", "supervisor1", query_string={"q": "_"})["total"] == 0
    assert any_api.get("/cases", "supervisor1", query_string={"q": "Rubbish"})["total"] == 1


def test_free_data_keys_may_be_positions(any_api, any_world):
    _deploy_model(any_world, "message_wait.bpmn")
    started = any_api.post("/process-instances", "designer1", json={"key": "order_wait", "data": {"0": True, "order_1": 2}},
                           status=201)
    assert started["status"] == "running"
