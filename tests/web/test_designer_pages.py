"""The designer's pages: the process list (a start button per startable process), one
process's versions with diagram, XML download, element diff and migration, the modeler's
Check and Deploy (the API's rules and refusals), starting a process with its start form;
everyone else is refused (403)."""
from __future__ import annotations

import json
import os
import re

import pytest

from gridloop.engine.runtime import WORKFLOWS_DIR

from .test_definitions_api import HOSTILE, HUGE

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def designer(as_user):
    return as_user("designer1")


def review_files(browser) -> dict[str, str]:
    """The monthly review's files as the modeler page carries them (textareas)."""
    html = browser.get("/designer/monthly_review/edit").get_data(True)
    import html as entities
    return {name: entities.unescape(text) for name, text in
            re.findall(r'data-file="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S)}


def deploy(browser, files: dict[str, str], status: int):
    response = browser.client.post("/designer/deploy", json={"files": files}, headers={"X-CSRFToken": browser.csrf})
    assert response.status_code == status, response.get_data(True)
    return response.get_json()


def test_designer_list_has_links_edit_and_start_buttons(designer):
    html = designer.get("/designer", headers=EN).get_data(True)
    assert 'href="/designer/closed_loop"' in html and 'href="/designer/monthly_review/edit"' in html
    assert 'href="/start/' not in html  # the demo processes name their starters; designers are none of them
    assert "New process" in html
    assert "新建流程" in designer.get("/designer", headers=ZH).get_data(True)


@pytest.mark.parametrize("path", ["/designer", "/designer/closed_loop", "/designer/closed_loop/edit", "/designer/new",
                                  "/designer/closed_loop/versions/1/xml"])
def test_designer_pages_refuse_everyone_else(as_user, path):
    as_user("grid1").get(path, status=403)


def test_modeler_posts_are_refused_to_everyone_else(as_user, designer):
    files = review_files(designer)
    grid1 = as_user("grid1")
    for url in ("/designer/check", "/designer/deploy", "/designer/try"):
        response = grid1.client.post(url, json={"files": files}, headers={"X-CSRFToken": grid1.csrf})
        assert response.status_code == 403
        assert response.get_json()["error"]["code"] == "forbidden"  # the modeler reads JSON errors
    response = grid1.client.post("/designer/check", json={"files": files})  # no CSRF token
    assert response.status_code == 400


@pytest.mark.parametrize("hostile", sorted(HOSTILE))
@pytest.mark.parametrize("url", ["/designer/check", "/designer/deploy", "/designer/try"])
def test_the_modeler_refuses_hostile_files_on_every_route(designer, url, hostile):
    response = designer.client.post(url, json={"files": {"x.bpmn": HOSTILE[hostile]}},
                                    headers={"X-CSRFToken": designer.csrf})
    answer = response.get_json()
    if url == "/designer/check":
        assert response.status_code == 200 and answer["problems"][0]["severity"] == "error"
    else:
        assert response.status_code == 400 and (answer.get("problems") or answer["error"]["message"])
    too_big = designer.client.post(url, json={"files": {"x.bpmn": HUGE}}, headers={"X-CSRFToken": designer.csrf})
    assert too_big.status_code == 413 and too_big.get_json()["error"]["code"] == "too_large"


def test_modeler_page_has_a_tab_per_decision_table_and_the_panel_in_the_page_language(designer):
    response = designer.get("/designer/closed_loop/edit", headers=EN)
    html = response.get_data(True)
    tabs = re.findall(r'data-tab="([^"]+)"', html)
    decisions = sorted(n for n in os.listdir(WORKFLOWS_DIR) if n.endswith(".dmn"))
    assert tabs == ["closed_loop.bpmn", *decisions]  # called processes stay text
    import html as entities
    panel = json.loads(entities.unescape(re.search(r'data-panel="([^"]+)"', html).group(1)))
    assert panel["labels"]["dueIn"] == "Time limit (expression)" and panel["labels"]["group"] == "Gridloop"
    zh = designer.get("/designer/closed_loop/edit", headers=ZH).get_data(True)
    zh_panel = json.loads(entities.unescape(re.search(r'data-panel="([^"]+)"', zh).group(1)))
    assert zh_panel["labels"]["dueIn"] == "时限（表达式）"
    assert "designer" in json.loads(entities.unescape(re.search(r'data-roles="([^"]+)"', html).group(1)))
    # dmn-js's expression editor adds <style> elements: styles only, and on the modeler only
    csp = response.headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self';" in csp
    assert "style-src 'self';" in designer.get("/designer/closed_loop").headers["Content-Security-Policy"]


def test_modeler_page_carries_every_file_of_the_version(designer):
    html = designer.get("/designer/monthly_review/edit", headers=EN).get_data(True)
    assert 'data-main="monthly_review.bpmn"' in html and "Process modeler" in html
    files = review_files(designer)
    assert {"monthly_review.bpmn", "forms/review.json"} <= set(files)
    assert json.loads(files["forms/review.json"])["type"] == "object"
    assert 'id="monthly_review"' in files["monthly_review.bpmn"]


def test_check_lists_problems_and_deploy_refuses_errors_with_them(designer, world):
    files = review_files(designer)
    response = designer.client.post("/designer/check", json={"files": files}, headers={"X-CSRFToken": designer.csrf})
    assert response.status_code == 200
    assert [p["severity"] for p in response.get_json()["problems"]] == ["warning"]  # no lane: only its starter
    broken = {**files, "monthly_review.bpmn": files["monthly_review.bpmn"].replace('value="review.json"',
                                                                                   'value="missing.json"')}
    problems = deploy(designer, broken, 400)["problems"]
    assert problems and problems[0]["severity"] == "error" and "missing.json" in problems[0]["message"]
    xxe = {"x.bpmn": '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><d>&e;</d>'}
    assert deploy(designer, xxe, 400)["problems"]
    with world.db.reading() as s:
        from gridloop.engine import versions
        assert [v["version"] for v in versions.versions(s, _designer(s), "monthly_review")] == [1]


def _designer(s):
    from gridloop.engine import org
    from gridloop.engine.model import User
    from sqlalchemy import select
    return org.actor(s, s.scalar(select(User.id).where(User.username == "designer1")))


def test_deploy_makes_a_new_version_once_and_the_definition_page_shows_it(designer):
    files = review_files(designer)
    same = deploy(designer, files, 200)
    assert (same["key"], same["version"], same["created"]) == ("monthly_review", 1, False)
    renamed = {**files, "monthly_review.bpmn": files["monthly_review.bpmn"].replace(
        'name="Monthly review">', 'name="Monthly review of the grid">')}
    new = deploy(designer, renamed, 201)
    assert (new["version"], new["url"]) == (2, "/designer/monthly_review?version=2")
    page = designer.get(new["url"], headers=EN).get_data(True)
    assert "v2" in page and "designer1" in page and "Diagram of version 2" in page
    assert 'data-xml-url="/designer/monthly_review/versions/2/xml"' in page
    assert 'data-dmn-url="/designer/monthly_review/versions/2/files/routing.dmn"' in page
    csp = designer.get(new["url"]).headers["Content-Security-Policy"]  # dmn-js's tables set style attributes
    assert "style-src 'self'" in csp and csp.endswith("style-src-attr 'unsafe-inline'") and "script-src 'self';" in csp
    assert "style-src-attr" not in designer.get("/designer").headers["Content-Security-Policy"]
    assert b"<decision" in designer.get("/designer/monthly_review/versions/2/files/routing.dmn").data
    designer.get("/designer/monthly_review/versions/2/files/nothing.dmn", status=404)
    xml = designer.get("/designer/monthly_review/versions/2/xml?download=1")
    assert xml.headers["Content-Disposition"].startswith("attachment") and b"of the grid" in xml.data
    diff = designer.get("/designer/monthly_review?old=1&new=2", headers=EN).get_data(True)
    assert "Changed" in diff and "<code>review</code>" in diff and "Monthly review of the grid" in diff


def test_migration_form_dry_run_then_move(designer, api):
    started = api.post("/process-instances", "supervisor1", json={"key": "monthly_review", "data": {}}, status=201)
    files = review_files(designer)
    deploy(designer, {**files, "monthly_review.bpmn": files["monthly_review.bpmn"].replace(
        'name="Monthly review">', 'name="Review">')}, 201)
    dry = designer.post("/designer/monthly_review/migrate", {"from_version": 1, "to_version": 2, "action": "dry_run"},
                        status=200, headers=EN).get_data(True)
    assert f"#{started['id']}" in dry and "can move" in dry
    assert api.get(f"/process-instances/{started['id']}", "designer1")["version"] == 1  # a dry run changes nothing
    moved = designer.post("/designer/monthly_review/migrate", {"from_version": 1, "to_version": 2, "action": "move"},
                          status=200, headers=EN).get_data(True)
    assert "moved" in moved
    assert api.get(f"/process-instances/{started['id']}", "designer1")["version"] == 2
    designer.post("/designer/monthly_review/migrate", {"from_version": 1, "to_version": ""}, status=400)


def test_new_process_starts_from_a_template_that_checks_clean(designer):
    html = designer.get("/designer/new", headers=EN).get_data(True)
    import html as entities
    files = {name: entities.unescape(text) for name, text in
             re.findall(r'data-file="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S)}
    assert set(files) == {"new_process.bpmn", "forms/new_process_task.json"}
    json.loads(files["forms/new_process_task.json"])
    response = designer.client.post("/designer/check", json={"files": files}, headers={"X-CSRFToken": designer.csrf})
    assert [p for p in response.get_json()["problems"] if p["severity"] == "error"] == []


def test_start_page_offers_what_her_starters_allow_with_its_start_form(as_user):
    grid1 = as_user("grid1")  # hazard_inspection names grid workers among its starters
    listed = grid1.get("/start", headers=EN).get_data(True)
    assert 'href="/start/hazard_inspection"' in listed and "/start/monthly_review" not in listed
    assert "/start/closed_loop" not in listed and "/start/consultation" not in listed  # report; called only
    assert "发起流程" in grid1.get("/start", headers=ZH).get_data(True)
    assert 'class="task-form"' in grid1.get("/start/hazard_inspection", headers=EN).get_data(True)
    grid1.post("/start/hazard_inspection", {}, status=400)  # required start fields missing
    grid1.get("/start/monthly_review", status=403)
    grid1.post("/start/monthly_review", {}, status=403)
    grid1.get("/start/consultation", status=409)
    supervisor = as_user("supervisor1")
    assert 'href="/start/monthly_review"' in supervisor.get("/start").get_data(True)
    assert supervisor.post("/start/monthly_review", {}).location.startswith("/tasks/")  # offered to its starter
    assert "There is no process you may start" in as_user("designer1").get("/start", headers=EN).get_data(True)


def test_designer_table_fits_a_1280px_window_css(designer):
    html = designer.get("/designer").get_data(True)
    assert 'class="wrap" data-label' in html  # names and forms wrap instead of widening the table
