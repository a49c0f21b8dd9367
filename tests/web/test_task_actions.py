"""Supervisors look, they don't act: what each row and task page offers (办理 or 查看, 领取,
退回待领取) is the engine's policy.task_actions, not the template's guess; unclaiming says why
she may and to whose queue the task goes. Consultation levels each get a fresh deadline from
time_limits.dmn, and the page says that the case's own deadline carries over."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from gridloop.engine import timers

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}


def _row(html: str, number: str) -> str:
    return next(r for r in re.findall(r"<tr[^>]*>.*?</tr>", html, re.S) if number in r)


def test_a_supervisor_looks_at_claimed_and_open_tasks_and_may_put_a_claimed_one_back(api, as_user):
    held, waiting = api.report("grid1", title="Held"), api.report("grid1", title="Waiting")
    held_task = api.open_task(held["id"])
    api.post(f"/tasks/{held_task['id']}/claim", "grid1")
    items = {t["case_id"]: t for t in api.get("/tasks", "supervisor1", query_string={"scope": "area"})["items"]}
    assert (items[held["id"]]["can_act"], items[held["id"]]["can_unclaim"], items[held["id"]]["unclaim_as"]) == \
        (False, True, "supervisor")
    assert (items[waiting["id"]]["can_act"], items[waiting["id"]]["can_claim"],
            items[waiting["id"]]["can_unclaim"]) == (False, False, False)
    area = as_user("supervisor1").get("/inbox/area", headers=ZH).get_data(True)
    held_row, waiting_row = _row(area, held["number"]), _row(area, waiting["number"])
    assert ">查看<" in held_row and ">办理<" not in held_row and "退回待领取" in held_row
    assert "任务回到专职网格员的待领取列表（民主社区第1网格）" in held_row
    assert ">查看<" in waiting_row and "/claim\"" not in waiting_row and "/unclaim\"" not in waiting_row
    page = as_user("supervisor1").get(f"/tasks/{held_task['id']}", headers=ZH).get_data(True)
    assert "您是本辖区的督办人员" in page and 'action="/tasks/%s/unclaim"' % held_task["id"] in page
    assert 'class="task-form"' not in page  # she looks; the holder acts


def test_the_holder_is_told_why_and_where_and_an_outsider_is_offered_nothing(api, as_user):
    case = api.report("grid1")
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "grid1")
    grid1 = as_user("grid1")
    zh = grid1.get(f"/tasks/{task['id']}", headers=ZH).get_data(True)
    assert "您是此任务的办理人" in zh and "任务回到专职网格员的待领取列表（民主社区第1网格）" in zh
    en = grid1.get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert "You hold this task" in en and "claimable queue of Grid worker (Minzhu Community grid 1)" in en
    mine = grid1.get("/inbox/mine", headers=EN).get_data(True)
    assert ">Open<" in _row(mine, case["number"]) and "Unclaim" in _row(mine, case["number"])
    assert api.get(f"/tasks/{task['id']}", "street2", status=403)
    detail = api.get(f"/tasks/{task['id']}", "grid1")
    assert (detail["can_act"], detail["can_claim"], detail["can_unclaim"], detail["unclaim_as"]) == \
        (True, False, True, "holder")


def test_a_liaisons_task_goes_back_to_her_departments_queue(api, as_user):
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    task = api.open_task(case["id"])
    liaison = next(u for u in ("liaison_water",) if task["id"] in api.inbox_ids(u))
    api.post(f"/tasks/{task['id']}/claim", liaison)
    page = as_user("supervisor1").get(f"/tasks/{task['id']}", headers=ZH).get_data(True)
    hint = re.search(r"任务回到([^，<]+)的待领取列表", page).group(1)
    assert hint == "水务专属网格员"  # the department's liaisons, by name


def test_each_consultation_level_gets_a_fresh_deadline_and_the_page_says_the_case_deadline_carries(
        api, world, clock, as_user):
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    liaison_due = datetime.fromisoformat(api.open_task(case["id"])["due_at"])
    clock.set(liaison_due + timedelta(seconds=1))
    timers.run_due(world)
    street = api.open_task(case["id"])
    clock.advance(hours=1)
    api.step(case["id"], "street1", {"outcome": "escalate"})
    district = api.open_task(case["id"])
    dues = [datetime.fromisoformat(t["due_at"]) for t in (street, district)]
    assert liaison_due < dues[0] < dues[1]  # each level's own limit, counted from its start
    assert all(due - datetime.fromisoformat(t["created_at"]) == dues[0] - datetime.fromisoformat(street["created_at"])
               for due, t in zip(dues, (street, district), strict=True))
    zh = as_user("district1").get(f"/tasks/{district['id']}", headers=ZH).get_data(True)
    assert "本级会商时限在案件升级到本级时重新计算" in zh
    en = as_user("district1").get(f"/tasks/{district['id']}", headers=EN).get_data(True)
    assert "deadline was set afresh when the case reached it" in en
