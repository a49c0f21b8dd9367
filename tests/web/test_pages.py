"""The HTML pages: sign-in, inbox, claim, the task form (errors kept next to their fields),
completion, the case page and its timeline, the public feedback link, CSRF and languages."""
from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

import pytest

from gridloop.engine import definitions

from ..conftest import MODELS
from .conftest import GRID1, GRID2, RESOLVED

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def grid1(as_user):
    return as_user("grid1")


def task_ids(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/tasks/([0-9a-f-]{36})"', html)))


def test_sign_in_out_and_the_guard(browser):
    to_sign_in = browser.get("/inbox/mine", status=302)
    assert urlsplit(to_sign_in.location).path == "/sign-in" and "next=/inbox/mine" in to_sign_in.location
    page = browser.get("/sign-in", headers=EN).get_data(True)
    assert "Sign in" in page and 'name="csrf_token"' in page
    wrong = browser.post("/sign-in", {"username": "grid1", "password": "nope"}, status=401, headers=EN)
    assert "Wrong username or password" in wrong.get_data(True)
    signed_in = browser.post("/sign-in", {"username": "grid1", "password": "demo", "next": "/inbox/claimable"})
    assert signed_in.location == "/inbox/claimable"
    assert "网格员1号" in browser.get("/inbox/claimable").get_data(True)
    browser.post("/sign-out")
    browser.get("/inbox/mine", status=302)


def test_sign_in_never_redirects_off_site(browser):
    browser.get("/sign-in")
    assert browser.post("/sign-in", {"username": "grid1", "password": "demo", "next": "//evil.example/x"}).location == "/"


def test_inbox_lists_claimable_work_by_due_time_with_counts_and_filters(api, grid1, as_user):
    slow = api.report("grid1", category="garbage", title="Rubbish heap")
    fast = api.report("grid1", category="gas_leak", urgency="emergency", title="Gas smell")
    html = grid1.get("/inbox/claimable", headers=EN).get_data(True)
    assert html.index(fast["number"]) < html.index(slow["number"])  # soonest deadline first
    assert re.search(r"Claimable\s*<span class=\"count\" data-scope=\"claimable\">2</span>", html)
    assert re.search(r"My tasks\s*<span class=\"count\" data-scope=\"mine\">0</span>", html)
    assert "All in my area" not in html  # supervisors only
    filtered = grid1.get("/inbox/claimable?category=garbage", headers=EN).get_data(True)
    assert slow["number"] in filtered and fast["number"] not in filtered
    assert "Rubbish heap" not in grid1.get("/inbox/claimable?grid=21010200101002").get_data(True)
    assert task_ids(as_user("grid2").get("/inbox/claimable").get_data(True)) == []
    supervisor = as_user("supervisor1").get("/inbox/area", headers=EN).get_data(True)
    assert "All in my area" in supervisor and slow["number"] in supervisor
    grid1.get("/inbox/area", status=403)
    grid1.get("/inbox/everything", status=400)


def test_overdue_tasks_are_marked(api, grid1, world, clock):
    api.report("grid1", category="gas_leak", urgency="emergency")
    assert "badge overdue" not in grid1.get("/inbox/claimable").get_data(True)
    clock.advance(days=6)  # long past the handling limit, within the sign-in's week
    html = grid1.get("/inbox/claimable", headers=EN).get_data(True)
    assert 'class="overdue"' in html and "Overdue" in html and "overdue</span>" not in html.split("<tbody>")[0]


def test_paging_keeps_the_filters(api, grid1):
    for n in range(21):
        api.report("grid1", title=f"Light {n}", category="street_light")
    first = grid1.get("/inbox/claimable?category=street_light", headers=EN).get_data(True)
    assert len(task_ids(first)) == 20 and "Page 1 of 2" in first
    next_url = re.search(r'href="([^"]+)">Next', first).group(1).replace("&amp;", "&")
    assert "category=street_light" in next_url and "page=2" in next_url
    assert len(task_ids(grid1.get(next_url).get_data(True))) == 1


def test_claim_unclaim_and_the_liaisons_report_in_button(api, grid1, as_user):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    grid1.get("/inbox/claimable")
    claimed = grid1.post(f"/tasks/{task_id}/claim")
    assert claimed.location == f"/tasks/{task_id}"
    assert task_ids(grid1.get("/inbox/mine").get_data(True)) == [task_id]
    assert api.get(f"/tasks/{task_id}", "grid1")["assignee"] == "grid1"
    grid1.post(f"/tasks/{task_id}/unclaim", {"next": "/inbox/claimable"})
    assert api.get(f"/tasks/{task_id}", "grid1")["status"] == "open"
    grid1.post(f"/tasks/{task_id}/claim")
    as_user("grid2").post(f"/tasks/{task_id}/claim", status=403)  # not offered to another grid

    api.post(f"/tasks/{task_id}/complete", "grid1", json={"data": {"outcome": "whistle", "department": "power"}})
    liaison = as_user("liaison_power").get("/inbox/claimable").get_data(True)
    assert 'class="primary small">报到</button>' in liaison and ">领取</button>" not in liaison


def test_task_form_errors_keep_the_values_and_completion_moves_on(api, grid1):
    case = api.report("grid1", category="power_outage")
    task_id = api.open_task(case["id"])["id"]
    form = grid1.get(f"/tasks/{task_id}", headers=EN).get_data(True)
    assert 'name="outcome" value="whistle"' in form and "Whistle a department" in form
    assert re.search(r'<option value="power" selected>', form)  # the routing's department, pre-filled
    assert '<abbr class="req"' in form  # required fields are marked
    bad = grid1.post(f"/tasks/{task_id}", {"outcome": "resolved", "note": "kept text", "department": ""},
                     status=400, headers=EN).get_data(True)
    assert 'id="resolution-error"' in bad  # required because outcome is "resolved" (if/then in the schema)
    assert 'value="resolved" checked' in bad and "kept text</textarea>" in bad
    assert api.open_task(case["id"])["id"] == task_id
    done = grid1.post(f"/tasks/{task_id}", {"outcome": "resolved", "resolution": "Reset the breaker"}, headers=EN)
    assert done.location == f"/cases/{case['id']}"
    page = grid1.get(done.location, headers=EN).get_data(True)
    assert "Completed “Grid handling”" in page and "Verification" in page
    grid1.post(f"/tasks/{task_id}", {"outcome": "resolved", "resolution": "again"}, status=409)


def test_a_generic_process_goes_on_to_the_next_task_in_the_browser(api, world, as_user):
    with open(os.path.join(MODELS, "peer_linear5.bpmn"), "rb") as fh:
        world.deploy(sources={"peer_linear5.bpmn": fh.read()})
    started = api.post("/process-instances", "designer1", json={"key": "Process_lin5"}, status=201)
    designer = as_user("designer1")
    url, steps = f"/tasks/{started['open_tasks'][0]['id']}", []
    while url.startswith("/tasks/"):
        page = designer.get(url, headers=EN).get_data(True)
        steps.append(re.search(r"Step \d", page).group(0))
        url = designer.post(url, {}, headers=EN).location
    assert steps == [f"Step {i}" for i in range(1, 6)] and url == "/inbox/mine"


def test_case_page_shows_stage_holders_and_a_readable_timeline(api, as_user):
    case = api.report("grid1", category="power_outage")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"})
    task_id = api.open_task(case["id"])["id"]
    api.post(f"/tasks/{task_id}/claim", "liaison_power")
    supervisor = as_user("supervisor1")
    en = supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True)
    assert "Current stage: <strong>Department handling</strong>" in en
    assert "Power supply liaison" in en and "liaison_power" not in en  # who holds the open task, by name
    assert "供电公司" not in en and "民主社区第1网格" not in en  # names in the page's language only
    assert "reported in for “Department handling”" in en and "completed “Grid handling” — whistled" in en
    assert "Process “Closed-loop case handling” (version 1) started" in en and "closed_loop v1" not in en
    assert "Stage: Grid handling → Department handling" in en
    supervisor.get("/lang/zh", status=302)
    zh = supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True)  # the switch beats the browser's language
    assert "当前阶段: <strong>部门报到处置</strong>" in zh
    assert "供电公司专属网格员 报到「部门报到处置」" in zh and "阶段：网格处置 → 部门报到处置" in zh
    assert "流程「闭环处置」启动（第 1 版）" in zh and "Power supply" not in zh and "Closed-loop" not in zh
    as_user("street2").get(f"/cases/{case['id']}", status=403)
    supervisor.get("/cases/999999", status=404)


def _waiting_for_feedback(api) -> tuple[dict, str]:
    case = api.report("grid1")
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    return case, urlsplit(api.case(case["id"])["feedback_url"]).path


def test_feedback_link_is_shown_to_the_callback_and_works_once(api, grid1, as_user, browser):
    case, path = _waiting_for_feedback(api)
    acceptor = as_user("acceptor1")
    assert f"http://127.0.0.1:5000{path}" in acceptor.get(f"/cases/{case['id']}").get_data(True)
    assert path not in grid1.get(f"/cases/{case['id']}").get_data(True)  # he may read the case, not score it
    page = browser.get(path, headers=EN).get_data(True)  # public: nobody signed in
    # The citizen's questions (citizen_feedback.json), not the staff callback's, and what was done.
    assert case["number"] in page and "Was your problem solved?" in page and "Reporter reached" not in page
    assert RESOLVED["resolution"] in page
    assert 'name="resolved" value="true"' in page  # a required boolean is a yes/no question
    browser.post(path, {"resolved": "true"}, status=400, headers=EN)
    missing = browser.client.post(path, data={"resolved": "true", "csrf_token": browser.csrf}, headers=EN).get_data(True)
    assert 'id="satisfaction-error"' in missing and 'value="true" checked' in missing
    thanks = browser.post(path, {"resolved": "true", "satisfaction": "satisfied", "comment": "谢谢"},
                          status=200, headers=EN).get_data(True)
    assert "Thank you" in thanks
    closed = api.case(case["id"])
    assert (closed["status"], closed["feedback_contacted"], closed["feedback_resolved"], closed["satisfaction"],
            closed["feedback_comment"]) == ("closed", True, True, "satisfied", "谢谢")  # answering is being reached
    assert "already been used" in browser.get(path, headers=EN).get_data(True)
    browser.post(path, {"resolved": "false"}, status=409)
    assert f"{path}" not in acceptor.get(f"/cases/{case['id']}").get_data(True)


def test_feedback_page_shows_the_form_of_the_cases_own_process_version(api, browser, world):
    case, path = _waiting_for_feedback(api)
    sources = definitions.read_sources([os.path.join(ROOT, "workflows")])
    sources["forms/citizen_feedback.json"] = sources["forms/citizen_feedback.json"].replace(
        b'"title": "Was your problem solved?"', b'"title": "Fixed? (version 2)"')
    assert [d.version for d in world.deploy(sources=sources) if d.key == "closed_loop"] == [2]
    page = browser.get(path, headers=EN).get_data(True)
    assert "Was your problem solved?" in page and "Fixed? (version 2)" not in page  # the case runs on version 1
    browser.post(path, {"resolved": "true", "satisfaction": "satisfied"}, status=200)
    assert api.case(case["id"])["satisfaction"] == "satisfied"
    newer, newer_path = _waiting_for_feedback(api)
    assert "Fixed? (version 2)" in browser.get(newer_path, headers=EN).get_data(True)


def test_unsatisfied_feedback_replaces_the_link_and_the_old_one_says_so(api, browser):
    case, path = _waiting_for_feedback(api)
    browser.get(path)
    browser.post(path, {"resolved": "false", "satisfaction": "unsatisfied"}, status=200, headers=EN)
    assert api.case(case["id"])["rework_count"] == 1
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    newer = urlsplit(api.case(case["id"])["feedback_url"]).path
    assert newer != path
    for headers, text in ((EN, "a newer one replaced it"), (ZH, "已被新的链接取代")):
        gone = browser.get(path, status=404, headers=headers).get_data(True)  # not an English 404 page
        assert text in gone and "Not Found" not in gone
    assert "Was your problem solved?" in browser.get(newer, headers=EN).get_data(True)


def test_expired_and_unknown_feedback_links(api, browser, clock):
    case, path = _waiting_for_feedback(api)
    browser.get(path)  # the reporter opens the form, and answers only after the deadline
    clock.advance(days=60)
    late = browser.post(path, {"resolved": "false", "satisfaction": "unsatisfied"}, status=409,
                        headers=EN).get_data(True)
    assert "This feedback link has expired" in late
    assert "expired" in browser.get(path, headers=EN).get_data(True)
    api.tokens.clear()  # sixty days on, the API tokens have expired too
    assert api.case(case["id"])["stage"] == "feedback"  # nothing recorded
    assert "链接已失效" in browser.get("/f/no-such-token", status=404).get_data(True)


def test_posts_without_a_csrf_token_are_refused(api, grid1, browser):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    refused = grid1.post(f"/tasks/{task_id}/claim", csrf=False, status=400, headers=EN).get_data(True)
    assert "reload the page" in refused
    assert api.get(f"/tasks/{task_id}", "grid1")["status"] == "open"
    browser.post("/sign-in", {"username": "grid1", "password": "demo"}, csrf=False, status=400)
    _case, path = _waiting_for_feedback(api)
    browser.post(path, {"resolved": "false"}, csrf=False, status=400)


def test_language_follows_accept_language_until_switched(browser):
    assert "登录" in browser.get("/sign-in").get_data(True)  # Chinese by default
    assert ">Sign in<" in browser.get("/sign-in", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(True)
    assert "登录" in browser.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(True)
    switched = browser.get("/lang/en?next=/sign-in", status=302)
    assert switched.location == "/sign-in"
    assert ">Sign in<" in browser.get("/sign-in", headers={"Accept-Language": "zh-CN"}).get_data(True)
    browser.get("/lang/zh", status=302)
    assert "登录" in browser.get("/sign-in", headers=EN).get_data(True)


def grid_options(html: str) -> list[tuple[str, bool]]:
    """The report form's grid choices: (code, selected)."""
    select = re.search(r'<select id="f-grid" name="grid"[^>]*>(.*?)</select>', html, re.S)
    assert select, "the grid is a select"
    return [(code, bool(selected)) for code, selected in
            re.findall(r'<option value="([^"]+)"( selected)?>', select.group(1))]


def test_report_page_offers_the_grids_she_may_report_for(as_user, api):
    assert grid_options(as_user("grid1").get("/report").get_data(True)) == [(GRID1, True)]  # hers, chosen
    acceptor = as_user("acceptor1")
    form = acceptor.get("/report", headers=EN).get_data(True)
    choices = grid_options(form)
    assert len(choices) == 24 and (GRID2, False) in choices and not any(chosen for _code, chosen in choices)
    assert "Minzhu Community grid 2 · 21010200101002" in form  # named in the page's language
    assert "民主社区第2网格 · 21010200101002" in acceptor.get("/report").get_data(True)
    done = acceptor.post("/report", {"title": "Dog barking", "category": "noise", "source": "hotline",
                                     "grid": GRID2, "reporter.phone": "13800000001", "location.address": "x"})
    case = api.case(int(done.location.rsplit("/", 1)[-1]))
    assert (case["grid"], case["title"]) == (GRID2, "Dog barking")
    bad = acceptor.post("/report", {"title": "Nowhere", "category": "noise", "source": "hotline", "grid": "",
                                    "reporter.phone": "13800000001"}, status=400).get_data(True)
    assert 'id="grid-error"' in bad and grid_options(bad)[0] == (GRID1, False)  # still a choice


def test_report_page_preselects_her_grid_and_shows_field_errors(grid1, api):
    form = grid1.get("/report", headers=EN).get_data(True)
    assert "Gas leak" in form and 'name="reporter.phone"' in form and 'name="location.lat" type="number"' in form
    bad = grid1.post("/report", {"title": "", "category": "garbage", "source": "hotline", "grid": GRID1,
                                 "location.address": "Gate 2", "location.lat": "north"}, status=400,
                     headers=EN).get_data(True)
    for field in ("title", "reporter.phone", "location.lat"):  # the hotline's missing phone, not "reporter"
        assert f'id="{field}-error"' in bad, field
    assert 'value="Gate 2"' in bad and grid_options(bad) == [(GRID1, True)]
    done = grid1.post("/report", {"title": "Blocked drain", "category": "sewer_blockage", "source": "patrol",
                                  "grid": GRID1, "location.address": "Gate 2", "location.lat": "41.8",
                                  "location.lon": "123.4"})
    case_id = int(done.location.rsplit("/", 1)[-1])
    case = api.case(case_id)
    assert (case["title"], case["lat"], case["stage"]) == ("Blocked drain", 41.8, "grid_handling")
    outside = grid1.post("/report", {"title": "Elsewhere", "category": "garbage", "source": "patrol",
                                     "grid": "21010200101002", "location.address": "x"}, status=400).get_data(True)
    assert 'id="grid-error"' in outside


def test_designer_page_lists_definitions_for_designers_only(as_user):
    html = as_user("designer1").get("/designer", headers=EN).get_data(True)
    assert "closed_loop" in html and "report.json" in html and "Case process" in html
    as_user("grid1").get("/designer", status=403)


def test_case_list_page(api, as_user):
    case = api.report("grid1", title="Pothole by the school")
    html = as_user("grid1").get("/cases?q=Pothole").get_data(True)
    assert case["number"] in html
    assert case["number"] not in as_user("grid2").get("/cases").get_data(True)
