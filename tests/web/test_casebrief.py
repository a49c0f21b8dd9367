"""Task pages show what came before (engine/casebrief.py): the consultation the reason for the
escalation, the verification the resolution to verify, the rework the citizen's complaint; the
same brief in GET /api/v1/tasks/{id}; rights as for the task itself."""
from __future__ import annotations

from .conftest import RESOLVED

EN = {"Accept-Language": "en"}
ZH = {"Accept-Language": "zh-CN"}
UNSATISFIED = {"contacted": True, "resolved": False, "satisfaction": "unsatisfied",
               "comment": "The bags are back on floor 4"}


def _brief(api, case_id, user):
    task = api.open_task(case_id)
    return task, api.get(f"/tasks/{task['id']}", user)["brief"]


def test_the_consultation_shows_why_the_grid_escalated(api, as_user):
    case = api.report("grid1", category="lift_fault")
    api.step(case["id"], "grid1", {"outcome": "escalate", "note": "Owners' committee refuses to pay"})
    task, brief = _brief(api, case["id"], "community1")
    assert brief["notes"][0]["kind"] == "escalation"
    assert brief["notes"][0]["text"] == "Owners' committee refuses to pay" and brief["notes"][0]["by"] == "grid1"
    assert {"task_completed", "escalated"} <= {e["type"] for e in brief["recent"]}
    zh = as_user("community1").get(f"/tasks/{task['id']}", headers=ZH).get_data(True)
    assert "此前经过" in zh and "提请会商的理由" in zh and "Owners&#39; committee refuses to pay" in zh
    assert "网格员1号" in zh.split("此前经过")[1]  # who escalated, by name
    en = as_user("community1").get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert "What came before" in en and "Why it was escalated" in en and "此前经过" not in en


def test_verification_shows_the_resolution_and_rework_the_complaint(api, as_user):
    case = api.report("grid1")
    api.step(case["id"], "grid1", RESOLVED)
    task, brief = _brief(api, case["id"], "community1")  # who verifies what grid1 resolved
    assert task["stage"] == "verification"
    assert brief["notes"][0]["kind"] == "resolution" and brief["notes"][0]["text"] == RESOLVED["resolution"]
    page = as_user("community1").get(f"/tasks/{task['id']}", headers=EN).get_data(True)
    assert "Resolution" in page and "Fixed on site" in page.split("What came before")[1]
    api.step(case["id"], "community1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", UNSATISFIED)
    task, brief = _brief(api, case["id"], "grid1")
    assert [n["kind"] for n in brief["notes"]] == ["complaint", "resolution"]
    assert brief["notes"][0]["text"] == UNSATISFIED["comment"] and brief["notes"][0]["by"] == "acceptor1"
    zh = as_user("grid1").get(f"/tasks/{task['id']}", headers=ZH).get_data(True)
    section = zh.split("此前经过")[1]
    assert section.index("上报人不满意的意见") < section.index("处置情况")
    assert "The bags are back on floor 4" in section and 'href="/cases/%d"' % case["id"] in section


def test_a_department_timeout_is_explained_as_the_systems_escalation(any_api, any_world, clock):
    from datetime import datetime, timedelta

    from gridloop.engine import timers
    case = any_api.report("grid1", category="water_leak")
    any_api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    clock.set(datetime.fromisoformat(any_api.open_task(case["id"])["due_at"]) + timedelta(seconds=1))
    timers.run_due(any_world)
    _task, brief = _brief(any_api, case["id"], "street1")
    note = brief["notes"][0]
    assert (note["kind"], note["reason"], note["by"]) == ("escalation", "department_timeout", None)


def test_the_brief_is_as_private_as_the_task(api, as_user):
    case = api.report("grid1")
    api.step(case["id"], "grid1", RESOLVED)
    task = api.open_task(case["id"])
    api.get(f"/tasks/{task['id']}", "grid2", status=403)
    as_user("grid2").get(f"/tasks/{task['id']}", status=403)
    assert api.get(f"/tasks/{task['id']}", "supervisor1")["brief"]["notes"][0]["kind"] == "resolution"
