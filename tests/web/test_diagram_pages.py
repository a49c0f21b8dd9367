"""Diagrams on the HTML pages: the bpmn-js files served from node_modules by an allow-list,
pages without diagrams where they are absent, and an instance's diagram state and XML for
whoever may see the instance (session sign-in, not the API's bearer token)."""
from __future__ import annotations

import os

import pytest

from gridloop.web import create_app
from gridloop.web.vendor import FILES, ROOT

from .conftest import Browser

EN = {"Accept-Language": "en"}
installed = pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, FILES["viewer"])),
                               reason="bpmn-js not installed: run make assets")


@installed
def test_vendor_files_are_served_from_an_allow_list(browser):
    script = browser.get("/vendor/" + FILES["viewer"])
    assert script.mimetype in ("text/javascript", "application/javascript") and b"BpmnJS" in script.data
    font = browser.client.get("/vendor/bpmn-js/dist/assets/bpmn-font/font/bpmn.woff2")
    assert font.status_code == 200 and font.data
    for outside in ("bpmn-js/package.json", "bpmn-js/dist/bpmn-viewer.development.js", "../pyproject.toml",
                    "bpmn-js/dist/../package.json"):
        browser.get("/vendor/" + outside, status=404)


@pytest.mark.skipif(not os.path.isfile(os.path.join(ROOT, FILES["modeler"])),
                    reason="modeler not bundled: run make assets")
def test_the_modeler_bundle_is_served_but_not_what_it_was_built_from(browser):
    bundle = browser.get("/vendor/" + FILES["modeler"])
    assert b"GridloopModeler" in bundle.data and b"bio-properties-panel" in bundle.data  # bpmn-js + the panel
    assert browser.get("/vendor/" + FILES["panel-css"]).data
    for outside in ("esbuild/bin/esbuild", "bpmn-js-properties-panel/dist/index.js",
                    ".gridloop/../esbuild/package.json",
                    "../web/modeler/index.js"):
        browser.get("/vendor/" + outside, status=404)


@installed
def test_case_page_carries_its_instance_diagram(api, as_user):
    case = api.report("grid1", title="Broken bench")
    html = as_user("grid1").get(f"/cases/{case['id']}", headers=EN).get_data(True)
    assert f'data-state-url="/instances/{case["instance_id"]}/diagram"' in html
    assert "/vendor/" + FILES["viewer"] in html and "Process diagram" in html and "<script>" not in html


@installed
def test_task_page_carries_its_instance_diagram(api, as_user):
    case = api.report("grid1", title="Broken bench")
    task = api.open_task(case["id"])
    html = as_user("grid1").get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert f'data-state-url="/instances/{case["instance_id"]}/diagram"' in html


def test_pages_render_without_diagrams_where_bpmn_js_is_missing(world, api, tmp_path):
    app = create_app({"TESTING": True, "RUNTIME": world, "SECRET_KEY": "test-secret",
                      "NODE_MODULES": str(tmp_path / "nowhere")})
    case = api.report("grid1", title="Broken bench")
    grid1 = Browser(app.test_client())
    grid1.sign_in("grid1")
    html = grid1.get(f"/cases/{case['id']}", headers=EN).get_data(True)
    assert case["number"] in html and "data-state-url" not in html and "/vendor/" not in html
    grid1.get("/vendor/" + FILES["viewer"], status=404)


def test_instance_diagram_marks_the_active_task_and_lists_its_events(api, as_user):
    case = api.report("grid1", title="Broken bench")
    task = api.open_task(case["id"])
    grid1 = as_user("grid1")
    found = grid1.get(f"/instances/{case['instance_id']}/diagram", headers=EN).get_json()
    assert found["elements"][task["element_id"]] == {"state": "active", "count": 1}
    assert any("Grid handling" in e["text"] for e in found["events"][task["element_id"]])
    xml = grid1.get(found["xml_url"])
    assert xml.mimetype == "application/xml" and f'id="{task["element_id"]}"'.encode() in xml.data


def test_instance_diagram_needs_the_right_to_see_the_instance(api, as_user, browser):
    case = api.report("grid1", title="Broken bench")
    grid2 = as_user("grid2")  # another grid's worker does not see the case
    grid2.get(f"/instances/{case['instance_id']}/diagram", status=403)
    grid2.get(f"/instances/{case['instance_id']}/xml", status=403)
    grid2.get("/instances/999999/diagram", status=404)
    assert browser.get(f"/instances/{case['instance_id']}/xml", status=302).location.startswith("/sign-in")
