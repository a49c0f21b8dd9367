"""Supervision (督办) in the web layer: urging through the API and the pages, what the holder
sees of it, the supervisor's overdue view, and the timeline of timers, overdue marks,
escalations and a case closed without feedback, in both languages."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from gridloop.engine import org, timers

from .conftest import RESOLVED

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
SECOND = timedelta(seconds=1)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def claimed_task(api, user: str = "grid1", **fields) -> tuple[dict, dict]:
    case = api.report(user, **fields)
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", user)
    return case, task


def rows(html: str) -> list[str]:
    """The inbox table's rows."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r"<tr.*?</tr>", body, re.S)


def timeline(html: str) -> str:
    """The case page's timeline as text, one event a line."""
    items = re.findall(r'<li class="event-[^"]+">(.*?)</li>', html, re.S)
    return "\n".join(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", item)).strip() for item in items)


# ------------------------------------------------------------------------------------ urging

def test_supervisor_urges_through_the_api(api, world):
    case, task = claimed_task(api)
    url = f"/tasks/{task['id']}/urge"
    urged = api.post(url, "supervisor1", json={"note": "今天务必处理 Today, please"})
    assert (urged["id"], urged["urge_count"], urged["assignee"]) == (task["id"], 1, "grid1")
    assert urged["urged_at"] is not None and urged["form_name"] == "grid_handle.json"
    assert api.post(url, "supervisor1")["urge_count"] == 2  # the note is optional, so is the body
    assert api.post(url, "supervisor1", json={"note": None})["urge_count"] == 3

    assert api.post(url, "grid1", status=403)["error"]["code"] == "forbidden"  # not a supervisor
    assert api.post(url, "street2", status=403)["error"]["code"] == "forbidden"
    with world.db.transaction() as s:  # a supervisor of another street
        org.add_user(s, "supervisor_huashan", "demo", ["supervisor"], org_unit=org.unit_by_code(s, "210105001"))
    assert "outside your area" in api.post(url, "supervisor_huashan", status=403)["error"]["message"]
    too_long = api.post(url, "supervisor1", json={"note": "x" * 501}, status=400)["error"]
    assert too_long["code"] == "validation_error" and "note" in too_long["fields"]
    assert api.post(url, "supervisor1", json={"note": 5}, status=400)["error"]["fields"] == {"note": "Not a valid string."}
    assert api.post("/tasks/nope/urge", "supervisor1", status=404)["error"]["code"] == "not_found"

    mine = api.get("/tasks", "grid1", query_string={"scope": "mine"})["items"]
    assert [(t["id"], t["urge_count"]) for t in mine] == [(task["id"], 3)]  # the holder sees it
    assert mine[0]["urged_at"] == urged["urged_at"]
    urgings = [e for e in api.case(case["id"])["history"] if e["type"] == "task_urged"]
    assert [(e["actor"], e["payload"]["note"]) for e in urgings] == [
        ("supervisor1", "今天务必处理 Today, please"), ("supervisor1", None), ("supervisor1", None)]

    api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": RESOLVED})
    assert api.post(url, "supervisor1", status=409)["error"]["code"] == "conflict"  # finished: nothing to urge


def test_supervisor_urges_from_her_area_view_and_the_task_page(api, as_user):
    case, task = claimed_task(api, title="Rubbish heap")
    supervisor = as_user("supervisor1")
    area = supervisor.get("/inbox/area", headers=EN).get_data(True)
    [row] = [r for r in rows(area) if case["number"] in r]
    assert f'action="/tasks/{task["id"]}/urge"' in row and 'name="note"' in row and ">Urge</button>" in row
    assert 'name="csrf_token"' in row and 'name="next" value="/inbox/area"' in row
    assert ">催办</button>" in supervisor.get("/inbox/area").get_data(True)

    back = supervisor.post(f"/tasks/{task['id']}/urge", {"note": "请尽快 Hurry", "next": "/inbox/area"}, headers=EN)
    assert back.location == "/inbox/area"
    assert "Urged “Grid handling” (no. 1)" in supervisor.get("/inbox/area", headers=EN).get_data(True)
    supervisor.post(f"/tasks/{task['id']}/urge", {"note": "x" * 501, "next": "/inbox/area"}, headers=EN)
    assert "at most 500 characters" in supervisor.get("/inbox/area", headers=EN).get_data(True)
    assert supervisor.post(f"/tasks/{task['id']}/urge", {"note": ""}).location == f"/tasks/{task['id']}"
    supervisor.post(f"/tasks/{task['id']}/urge", {"next": "//evil.example/"})  # off-site: not followed
    assert api.get(f"/tasks/{task['id']}", "grid1")["urge_count"] == 3
    supervisor.post(f"/tasks/{task['id']}/urge", csrf=False, status=400)

    page = supervisor.get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert "Urge this task" in page and '<textarea id="urge-note-' in page and "urged ×3" in page

    grid1 = as_user("grid1")
    grid1.post(f"/tasks/{task['id']}/urge", {"note": "me too"}, status=403)
    mine = grid1.get("/inbox/mine", headers=EN).get_data(True)
    [row] = rows(mine)
    assert 'class="badge urged"' in row and "urged ×3" in row and "/urge" not in row
    assert "已催办 ×3" in grid1.get("/inbox/mine", headers=ZH).get_data(True)
    holder = grid1.get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert "urged ×3" in holder and "<q>请尽快 Hurry</q>" in holder and "Zhao Min" in holder and "赵敏" not in holder
    assert "Urge this task" not in holder and "/urge" not in holder

    en = timeline(supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True))
    assert "Zhao Min urged “Grid handling” (no. 1) 请尽快 Hurry" in en
    zh = timeline(supervisor.get(f"/cases/{case['id']}", headers=ZH).get_data(True))
    assert "赵敏 催办任务「网格处置」(第 3 次)" in zh  # the Chinese name, though the event has none
    assert "badge urged" in supervisor.get(f"/cases/{case['id']}").get_data(True)  # on the open-task row

    api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": RESOLVED})
    assert "Urge this task" not in supervisor.get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    supervisor.post(f"/tasks/{task['id']}/urge", {"note": "late"}, status=409)


def test_a_supervisor_outside_the_area_gets_no_urge_button(api, world, as_user):
    _case, task = claimed_task(api)
    with world.db.transaction() as s:
        org.add_user(s, "supervisor_huashan", "demo", ["supervisor"], org_unit=org.unit_by_code(s, "210105001"))
    other = as_user("supervisor_huashan")
    assert task["id"] not in other.get("/inbox/area").get_data(True)
    other.get(f"/tasks/{task['id']}", status=403)
    other.post(f"/tasks/{task['id']}/urge", {"note": "not mine"}, status=403)


# ------------------------------------------------------------------------------------ overdue

@pytest.fixture
def overdue_world(api, world, clock):
    """A gas leak whose department task nobody reported in for (a timer marks it overdue after
    30 minutes, long before its due time), and a rubbish case not overdue at all."""
    gas = api.report("grid1", category="gas_leak", urgency="emergency", title="Gas smell")
    api.step(gas["id"], "grid1", {"outcome": "whistle", "department": "gas"})
    rubbish = api.report("grid1", category="garbage", title="Rubbish heap")
    clock.advance(minutes=30, seconds=1)
    assert timers.run_due(world) == 1
    return gas, rubbish


def test_overdue_view_in_the_api_for_supervisors_only(api, overdue_world, clock):
    gas, rubbish = overdue_world
    dept_task = api.open_task(gas["id"])
    found = api.get("/tasks", "supervisor1", query_string={"scope": "overdue"})
    assert (found["total"], [t["id"] for t in found["items"]]) == (1, [dept_task["id"]])
    item = found["items"][0]
    assert item["overdue_at"] is not None and item["overdue"] is False  # marked by the timer, not yet due
    assert (item["case_number"], item["case_title"], item["stage"]) == (gas["number"], "Gas smell",
                                                                        "department_handling")
    assert api.get("/tasks", "grid1", query_string={"scope": "overdue"}, status=403)["error"]["code"] == "forbidden"
    assert api.get("/tasks", "liaison_gas", query_string={"scope": "overdue"}, status=403)

    clock.set(_parse(api.open_task(rubbish["id"])["due_at"]) + SECOND)  # past its due time, no timer run
    api.tokens.clear()  # days on: the tokens expired
    found = api.get("/tasks", "supervisor1", query_string={"scope": "overdue"})
    assert [t["case_id"] for t in found["items"]] == [gas["id"], rubbish["id"]]  # oldest deadline first
    assert found["items"][1]["overdue"] is True and found["items"][1]["overdue_at"] is None
    garbage = api.get("/tasks", "supervisor1", query_string={"scope": "overdue", "category": "garbage"})
    assert (garbage["total"], [t["case_id"] for t in garbage["items"]]) == (1, [rubbish["id"]])
    paged = api.get("/tasks", "supervisor1", query_string={"scope": "overdue", "per_page": 1, "page": 2})
    assert (paged["total"], paged["page"], [t["case_id"] for t in paged["items"]]) == (2, 2, [rubbish["id"]])


def test_overdue_tab_for_supervisors_with_its_count(api, overdue_world, as_user):
    gas, rubbish = overdue_world
    dept_task = api.open_task(gas["id"])
    supervisor = as_user("supervisor1")
    html = supervisor.get("/inbox/overdue", headers=EN).get_data(True)
    assert re.search(r'href="/inbox/overdue" class="active">\s*Overdue <span class="count alert" data-scope="overdue">1</span>', html)
    assert "Overdue tasks in my area" in html
    [row] = rows(html)
    assert gas["number"] in row and rubbish["number"] not in row
    assert 'class="overdue"' in row and "Marked overdue" in row  # marked by the timer
    assert f'action="/tasks/{dept_task["id"]}/urge"' in row and ">Report in</button>" not in row
    zh = supervisor.get("/inbox/area", headers=ZH).get_data(True)
    assert re.search(r'超期 <span class="count alert" data-scope="overdue">1</span>', zh)
    assert "辖区超期任务" in supervisor.get("/inbox/overdue", headers=ZH).get_data(True)
    assert supervisor.post(f"/tasks/{dept_task['id']}/urge", {"note": "报到！", "next": "/inbox/overdue"}
                           ).location == "/inbox/overdue"
    assert "urged ×1" in supervisor.get("/inbox/overdue", headers=EN).get_data(True)
    assert supervisor.get("/inbox/overdue?category=garbage").get_data(True).count("<tr") == 0

    grid1 = as_user("grid1")
    assert "/inbox/overdue" not in grid1.get("/inbox/mine").get_data(True)
    grid1.get("/inbox/overdue", status=403)


def test_pages_show_when_a_timer_marked_a_task_overdue(api, overdue_world, as_user):
    gas, _rubbish = overdue_world
    dept_task = api.open_task(gas["id"])
    liaison = as_user("liaison_gas")
    task_page = liaison.get(f"/tasks/{dept_task['id']}", headers=EN).get_data(True)
    assert re.search(r'class="badge overdue-mark"[^>]*>Marked overdue <time datetime="[^"]+">2026-03-02 09:30</time>',
                     task_page)  # 09:00 Shenyang + the 30-minute report-in limit
    assert "已标记超期" in liaison.get(f"/tasks/{dept_task['id']}", headers=ZH).get_data(True)
    assert "Marked overdue" in liaison.get("/inbox/claimable", headers=EN).get_data(True)
    case_page = liaison.get(f"/cases/{gas['id']}", headers=EN).get_data(True)
    assert re.search(r'<tr class="overdue">\s*<td[^>]*><a href="/tasks/' + dept_task["id"], case_page)
    assert "Marked overdue" in case_page

    en = timeline(case_page)
    assert "Time limit “Report-in limit” reached on “Department handling”" in en
    assert "“Department handling” passed its limit (Report-in limit) and is marked overdue" in en
    assert "报到时限" not in en
    zh = timeline(liaison.get(f"/cases/{gas['id']}", headers=ZH).get_data(True))
    assert "时限「报到时限」到期，任务「部门报到处置」" in zh
    assert "任务「部门报到处置」超过时限（报到时限），已标记超期" in zh and "Report-in" not in zh


# ------------------------------------------------------------------------------------ timeline

def test_timeline_of_escalation_by_timer_and_no_feedback(api, world, as_user, clock):
    case = api.report("grid1", category="garbage")
    grid_task = api.open_task(case["id"])
    clock.set(_parse(grid_task["due_at"]) + SECOND)
    assert timers.run_due(world) == 1  # the handling limit passed: up to the community
    api.tokens.clear()  # a week on: the tokens expired
    api.step(case["id"], "community1", {"outcome": "assign", "department": "urban_management"})
    api.step(case["id"], "liaison_urban_management", {"outcome": "return", "return_reason": "Not ours"})
    api.step(case["id"], "community1", {"outcome": "approve"})  # the level that assigned it takes it back
    api.step(case["id"], "community1", {"outcome": "hand_down", "hand_down_to": "grid"})
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "failed", "note": "Still there"})
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    feedback = api.open_task(case["id"])
    clock.set(_parse(feedback["due_at"]) + SECOND)
    api.tokens.clear()
    assert timers.run_due(world) == 1  # nobody answered: closed without feedback
    closed = api.case(case["id"])
    assert (closed["status"], closed["satisfaction"]) == ("closed", "no_feedback")

    supervisor = as_user("supervisor1")
    page = supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True)
    en = timeline(page)
    assert "Time limit “Handling limit” reached on “Grid handling”" in en
    assert "Escalated to the Community level (Minzhu Community)" in en
    assert "Returned by the department (no. 1)" in en and "Handed down to the Grid" in en
    assert "Sent back for rework (no. 1)" in en
    assert "Case closed (no feedback from the reporter within the limit)" in en
    assert "No feedback (limit passed)" in page and ">no_feedback<" not in page  # the case facts
    zh_page = supervisor.get(f"/cases/{case['id']}", headers=ZH).get_data(True)
    zh = timeline(zh_page)
    assert "时限「处置时限」到期，任务「网格处置」" in zh
    assert "提交社区级会商（民主社区）" in zh
    assert "部门退单(第 1 次)" in zh and "交办网格" in zh and "返工(第 1 次)" in zh
    assert "案件结案(回访期限内未获上报人评价)" in zh and "未获评价(回访超时)" in zh_page
    assert "生成任务「回访评价」" in zh and "完成任务「核查」 — 核查通过" in zh  # Chinese task names
    assert "completed “Verification” — verified" in en


def test_timeline_names_the_satisfaction_of_a_closed_case(api, as_user):
    case = api.report("grid1")
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "basically_satisfied"})
    supervisor = as_user("supervisor1")
    assert "Case closed; satisfaction: Basically satisfied" in timeline(
        supervisor.get(f"/cases/{case['id']}", headers=EN).get_data(True))
    assert "案件结案，满意度：基本满意" in timeline(supervisor.get(f"/cases/{case['id']}", headers=ZH).get_data(True))


def test_timeline_sentences_for_failed_timers_and_events_without_chinese_names(app):
    from gridloop.engine import timeline
    from gridloop.web import i18n
    task_id = "0f6c5b9e-0000-4000-8000-000000000001"
    history = [
        {"type": "task_created", "at": None, "task_id": task_id, "actor": None,
         "payload": {"element": "review", "name": "Review", "name_zh": "审核", "role": "coordinator"}},
        {"type": "task_claimed", "at": None, "task_id": task_id, "actor": "community1",  # stored before name_zh
         "payload": {"element": "review", "name": "Review"}},
        {"type": "timer_failed", "at": None, "task_id": None, "actor": None,
         "payload": {"error": "name 'missing_name' is not defined", "retry_at": "2026-03-02T01:05:00+00:00"}},
    ]
    with app.test_request_context(headers=ZH):
        zh = i18n.timeline(timeline.items(history))
    assert [e["text"] for e in zh[1:]] == ["community1 领取任务「审核」", "定时处理出错，将于 2026-03-02 09:05 重试"]
    assert zh[2]["note"] == "name 'missing_name' is not defined"
    with app.test_request_context(headers=EN):
        en = i18n.timeline(timeline.items(history))
    assert [e["text"] for e in en[1:]] == ["community1 claimed “Review”",
                                           "Handling a time limit failed; retrying at 2026-03-02 09:05"]
