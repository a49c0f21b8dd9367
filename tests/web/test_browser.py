"""A real headless Chromium (Debian's) signs in as grid1, claims and completes a task, and
takes screenshots of the pages it walks: into a temporary folder, or into docs/screenshots/
(the README's) when run with GRIDLOOP_UPDATE_SCREENSHOTS=1."""
from __future__ import annotations

import os
import re
from contextlib import contextmanager

import pytest

from gridloop.engine.runtime import WORKFLOWS_DIR
from gridloop.engine.seed import seed_demo_cases

from gridloop.web.vendor import ROOT as NODE_MODULES, FILES

from .conftest import serving

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
DOCS_SCREENSHOTS = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "screenshots")
UPDATE_SCREENSHOTS = "GRIDLOOP_UPDATE_SCREENSHOTS"


def missing(what: str) -> None:
    """Skip where the machine lacks a browser part; under CI (`make test` installs both) fail."""
    if os.environ.get("CI"):
        pytest.fail(what)
    pytest.skip(what)


def vendor_installed() -> bool:
    return all(os.path.isfile(os.path.join(NODE_MODULES, path)) for path in FILES.values())


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory) -> str:
    """Where screenshots go: the tracked docs/screenshots/ only when asked to update them, so a
    test run leaves nobody's tree dirty."""
    if os.environ.get(UPDATE_SCREENSHOTS) == "1":
        os.makedirs(DOCS_SCREENSHOTS, exist_ok=True)
        return DOCS_SCREENSHOTS
    return str(tmp_path_factory.mktemp("screenshots"))


@pytest.fixture
def server(world):
    seed_demo_cases(world)  # a lived-in inbox for the screenshots
    with serving(world) as url:
        yield url


@pytest.mark.browser
def test_grid_worker_claims_and_completes_a_task_in_chromium(server, api, screenshots):
    if not os.path.exists(CHROMIUM):
        missing("Debian chromium not installed: run make browser")
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = chromium.new_page(locale="zh-CN", viewport={"width": 1280, "height": 800})
            blocked = []  # what the Content-Security-Policy refused, as Chromium reports it
            page.on("console", lambda message: blocked.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.goto(f"{server}/inbox/claimable")
            page.fill("#username", "grid1")
            page.fill("#password", "demo")
            page.click("button.primary")
            expect(page).to_have_url(f"{server}/inbox/claimable")
            row = page.locator("table.tasks tbody tr", has_text="高空坠物隐患 Loose tiles on facade")
            expect(row).to_have_count(1)
            page.screenshot(path=os.path.join(screenshots, "inbox.png"), full_page=True)

            row.get_by_role("button", name="领取").click()
            expect(page.locator("h1")).to_have_text("网格处置")
            expect(page.locator(".flash.success")).to_contain_text("已领取任务")
            page.get_by_label("网格办结").check()
            page.get_by_role("button", name="提交", exact=True).click()
            expect(page.locator("#resolution-error")).to_be_visible()  # required once "resolved" is chosen
            expect(page.get_by_label("网格办结")).to_be_checked()
            page.fill("textarea[name=resolution]", "已加固外墙瓷砖 Tiles fixed")
            page.get_by_role("button", name="提交", exact=True).click()
            expect(page.locator(".stage-line strong")).to_have_text("核查")
            expect(page.locator(".timeline")).to_contain_text("」 — 办结")  # "… completed “…” — resolved"
            page.screenshot(path=os.path.join(screenshots, "case.png"), full_page=True)
            case_id = int(page.url.rsplit("/", 1)[-1])
            assert page.evaluate("getComputedStyle(document.querySelector('header.topbar')).display") == "flex"
            assert blocked == []
        finally:
            chromium.close()
    case = api.case(case_id)
    assert (case["stage"], case["title"]) == ("verification", "高空坠物隐患 Loose tiles on facade")
    last = [e for e in case["history"] if e["type"] == "task_completed"][-1]
    assert (last["actor"], last["payload"]["data"]) == ("grid1", {  # the department (pre-filled from the
        "outcome": "resolved", "resolution": "已加固外墙瓷砖 Tiles fixed"})  # routing table) is hidden: not sent


def _browser(p):
    if not os.path.exists(CHROMIUM):
        missing("Debian chromium not installed: run make browser")
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def signed_in_page(chromium, server, username: str, path: str, locale: str = "en-US"):
    """A page signed in as ``username`` on ``path``, collecting what the CSP refused."""
    page = chromium.new_page(locale=locale, viewport={"width": 1280, "height": 800})
    page.blocked = []
    page.on("console", lambda message: page.blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.goto(f"{server}{path}")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("button.primary")
    return page


@pytest.mark.browser
def test_case_page_marks_the_active_task_in_its_diagram(server, api, screenshots):
    if not vendor_installed():
        missing("bpmn-js not installed: run make assets")
    case = api.report("grid1", title="Broken lamp at gate 2")
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        chromium = _browser(p)
        try:
            page = signed_in_page(chromium, server, "grid1", f"/cases/{case['id']}")
            active = page.locator(".diagram-canvas .djs-element.state-active")
            expect(active).to_have_count(1)
            element = active.get_attribute("data-element-id")
            assert element == api.open_task(case["id"])["element_id"]
            expect(page.locator(".diagram-count").first).to_have_text("1")
            # A label of a neighbouring element may lie over the task at some window sizes;
            # the click goes to the task's own shape as diagram-js delegates it.
            active.dispatch_event("click")
            expect(page.locator(".diagram-events")).to_be_visible()
            expect(page.locator(".diagram-events li")).not_to_have_count(0)
            page.screenshot(path=os.path.join(screenshots, "case-diagram.png"), full_page=True)
            assert page.blocked == []
        finally:
            chromium.close()


def _panel_group(page, label: str):
    """Open a group of the properties panel (they start closed)."""
    header = page.locator(".bio-properties-panel-group-header", has_text=label).first
    if "open" not in (header.get_attribute("class") or ""):
        header.click()


def _select(page, element_id: str):
    """Select an element as diagram-js delegates a click (a label may lie over the shape)."""
    page.locator(f'.modeler-canvas .djs-element[data-element-id="{element_id}"]').first.dispatch_event("click")


@contextmanager
def _modeler(server, path: str):
    """A designer's modeler page, ready; on leaving it, no CSP violation may have happened."""
    if not vendor_installed():
        missing("bpmn-js not installed: run make assets")
    from playwright.sync_api import expect, sync_playwright
    with sync_playwright() as p:
        chromium = _browser(p)
        try:
            page = signed_in_page(chromium, server, "designer1", path)
            # a large diagram takes a while to import on a loaded machine
            expect(page.locator("#modeler.modeler-ready")).to_have_count(1, timeout=30000)
            yield page
            assert page.blocked == []
        finally:
            chromium.close()


@pytest.mark.browser
def test_designer_renames_a_task_checks_and_deploys_in_the_modeler(server, api, screenshots):
    from playwright.sync_api import expect
    with _modeler(server, "/designer/monthly_review/edit") as page:
        task = page.locator('.modeler-canvas .djs-element[data-element-id="review"]')
        task.dblclick()  # bpmn-js's direct editing of the name
        editor = page.locator(".djs-direct-editing-parent")
        expect(editor).to_be_visible()
        page.keyboard.press("Control+A")
        page.keyboard.type("Monthly grid review")
        page.locator(".modeler-canvas").first.click(position={"x": 20, "y": 20})  # ends the editing
        _select(page, "review")
        _panel_group(page, "General")  # the official panel's own group
        expect(page.locator("#bio-properties-panel-name")).to_have_value("Monthly grid review")
        _panel_group(page, "Gridloop")  # ours: the properties the engine reads
        expect(page.locator("#bio-properties-panel-gridloop-formJsonSchemaFilename")).to_have_value("review.json")
        form = page.locator("#bio-properties-panel-gridloop-formJsonSchemaFilename-json")
        expect(form).to_have_value(re.compile('"title": "Monthly review"'))  # the form's JSON beside it
        limit = page.locator("#bio-properties-panel-gridloop-dueIn")
        expect(limit).to_have_value('"5WD"')
        limit.fill('"3WD"')
        limit.press("Tab")
        form.fill(form.input_value().replace('"title": "Monthly review"', '"title": "Monthly grid review"'))
        form.press("Tab")
        page.click("#check")
        expect(page.locator("#problems li")).to_have_count(1)  # the lint warning: no lane
        expect(page.locator('.djs-element.problem-warning[data-element-id="review"]')).to_have_count(1)
        expect(page.locator(".problem-badge.problem-warning")).to_have_count(1)  # the message on the element
        page.click("#deploy")
        expect(page.locator("#modeler-status")).to_contain_text("Deployed monthly_review version 2")
        page.screenshot(path=os.path.join(screenshots, "modeler.png"), full_page=True)
        page.click("#deployed-link")
        expect(page.locator("#versions tbody tr")).to_have_count(2)
        expect(page.locator("#versions tbody tr.selected")).to_contain_text("designer1")
        expect(page.locator(".diagram.diagram-ready:not(.decision)")).to_have_count(1)
        tables = len([f for f in os.listdir(WORKFLOWS_DIR) if f.endswith(".dmn")])  # deployed with it
        expect(page.locator(".decision.diagram-ready .tjs-table")).to_have_count(tables)  # its DMN tables
        page.screenshot(path=os.path.join(screenshots, "definition.png"), full_page=True)
        page.goto(f"{server}/designer/monthly_review/edit?version=2")  # the form edited in the panel was deployed
        expect(page.locator('textarea[data-file="forms/review.json"]')).to_have_value(
            re.compile('"title": "Monthly grid review"'))
        page.goto(f"{server}/designer")
        expect(page.locator("table.tasks tbody tr")).not_to_have_count(0)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280  # no sideways scrolling
        page.screenshot(path=os.path.join(screenshots, "designer.png"), full_page=True)
    xml = api.client.get("/api/v1/definitions/monthly_review/versions/2/xml",
                         headers={"Authorization": f"Bearer {api.token('designer1')}"}).get_data(True)
    assert 'name="Monthly grid review"' in xml and 'value="review.json"' in xml
    assert '<spiffworkflow:property name="dueIn" value="&#34;3WD&#34;" />' in xml or \
        '<spiffworkflow:property name="dueIn" value="&quot;3WD&quot;" />' in xml


@pytest.mark.browser
def test_designer_creates_tries_and_deploys_a_new_process_in_the_modeler(server, api, screenshots):
    from playwright.sync_api import expect
    before = api.get("/definitions", "designer1")
    with _modeler(server, "/designer/new") as page:
        _panel_group(page, "General")  # nothing selected: the process itself
        expect(page.locator("#bio-properties-panel-id")).to_have_value("new_process")
        page.fill("#bio-properties-panel-id", "street_light_check")
        page.fill("#bio-properties-panel-name", "Street light check")
        page.locator("#bio-properties-panel-name").press("Tab")
        _panel_group(page, "Gridloop")
        page.fill("#bio-properties-panel-gridloop-starters", "grid_worker")
        page.locator("#bio-properties-panel-gridloop-starters").press("Tab")

        page.click("#try")  # a throw-away instance of the draft
        card = page.locator(".trial-task")
        expect(card).to_have_count(1)
        expect(card).to_contain_text("Task")
        expect(page.locator('.djs-element.state-active[data-element-id="task"]')).to_have_count(1)
        page.fill("#trial-wait", "PT1H")
        page.click("#trial-wait-button")  # time passes only when told to
        expect(page.locator("#trial-done li")).to_have_text(["Waited PT1H: no timer fired"])
        card.get_by_role("button").click()
        expect(page.locator("#trial-status")).to_have_text("The process has ended")
        expect(page.locator('.djs-element.state-completed[data-element-id="task"]')).to_have_count(1)
        expect(page.locator("#trial-done li")).to_have_count(2)
        page.screenshot(path=os.path.join(screenshots, "modeler-try.png"), full_page=True)
        assert api.get("/definitions", "designer1") == before  # trying deployed nothing

        page.click("#add-dmn")  # a decision table of its own, edited in dmn-js's modeler
        expect(page.locator('[data-tab="decision_1.dmn"][aria-selected="true"]')).to_have_count(1)
        drd = page.locator('[data-canvas="decision_1.dmn"]')
        expect(drd.locator('.djs-element[data-element-id="decision_1"]')).to_have_count(1)
        page.click("#deploy")
        expect(page.locator("#modeler-status")).to_contain_text("Deployed street_light_check version 1")
        page.click("#deployed-link")
        expect(page.locator("h1")).to_contain_text("Street light check")
        expect(page.locator(".decision.diagram-ready .tjs-table")).to_have_count(1)  # deployed with it
    xml = api.client.get("/api/v1/definitions/street_light_check/versions/1/xml",
                         headers={"Authorization": f"Bearer {api.token('designer1')}"}).get_data(True)
    assert '<spiffworkflow:property name="starters" value="grid_worker" />' in xml


@pytest.mark.browser
def test_designer_edits_a_decision_table_and_check_marks_the_bad_cell(server, api, screenshots):
    from playwright.sync_api import expect
    with _modeler(server, "/designer/closed_loop/edit") as page:
        _select(page, "verification")
        _panel_group(page, "Gridloop")
        lane = page.locator("#bio-properties-panel-gridloop-lane")
        expect(lane).to_have_value("lane_grid_worker")  # the role is the lane the task lies in
        lane.select_option("lane_coordinator")  # moves the task into that lane
        expect(lane).to_have_value("lane_coordinator")
        page.click('[data-tab="routing.dmn"]')
        drill = page.locator('[data-canvas="routing.dmn"] .drill-down-overlay').first
        expect(drill).to_be_visible()
        drill.click()  # from the decision requirements diagram into the table
        cell = page.locator('[data-canvas="routing.dmn"] td[data-element-id="routing_rule_01_out_2"]')
        expect(cell).to_have_text('"gas"')
        cell.click()
        page.keyboard.press("Control+A")
        page.keyboard.type('"gas" +')
        page.locator('[data-canvas="routing.dmn"] td[data-element-id="routing_rule_02_out_2"]').click()
        page.click("#check")
        expect(page.locator("#problems li.problem-error")).to_have_count(1)
        expect(page.locator("#problems li")).to_contain_text("routing_rule_01_out_2")
        expect(cell).to_have_class(re.compile("problem-error"))
        expect(page.locator('[data-tab="routing.dmn"]')).to_have_class(re.compile("has-problems"))
        page.screenshot(path=os.path.join(screenshots, "modeler-dmn.png"), full_page=True)
        page.click("#deploy")
        expect(page.locator("#modeler-status")).to_contain_text("Not deployed")
    assert [v["version"] for v in api.get("/definitions/closed_loop/versions", "designer1")] == [1]
