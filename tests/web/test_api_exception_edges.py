"""Edge cases of the exceptions with approval (engine/exceptions.py) through the REST API: a
case that ends withdraws its pending requests; a suspended case."""
from __future__ import annotations

from datetime import datetime, timedelta

from gridloop.engine import timers

from .conftest import RESOLVED
from .test_api_exceptions import _approval, _ask, _at, _events, _later, _whistled


def _request(api, case_id, request_id, user="supervisor1"):
    return next(r for r in api.get(f"/cases/{case_id}/exceptions", user) if r["id"] == request_id)


def test_voiding_a_case_withdraws_its_pending_extension(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    task = api.open_task(case["id"])
    extension = _ask(api, case["id"], "grid1", kind="extension", task_id=task["id"],
                     until=_later(task["due_at"], 1), reason="Waiting for the crew")
    waiting = _approval(api, case["id"])
    assert waiting["id"] in api.inbox_ids("community1")
    _ask(api, case["id"], "acceptor1", kind="void", reason="Reported in error")
    void = next(t for t in api.case(case["id"])["open_tasks"]
                if t["element_id"] == "approve_exception" and t["id"] != waiting["id"])
    api.post(f"/tasks/{void['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    after = api.case(case["id"])
    assert (after["status"], after["open_tasks"]) == ("voided", [])
    withdrawn = _request(api, case["id"], extension["id"])
    assert (withdrawn["status"], withdrawn["decided_by"]) == ("cancelled", "street1")
    assert case["number"] in withdrawn["decision_note"] and "voided" in withdrawn["decision_note"]
    assert waiting["id"] not in api.inbox_ids("community1")
    [event] = _events(after, "exception_withdrawn")
    assert (event["payload"]["request"], event["payload"]["ended"]) == (extension["id"], "voided")
    assert api.get(f"/process-instances/{withdrawn['approval_instance_id']}", "supervisor1")["status"] == "cancelled"
    api.post(f"/tasks/{waiting['id']}/complete", "community1", json={"data": {"outcome": "approve"}}, status=409)


def test_closing_withdraws_its_pending_requests_and_merges_into_it(any_api):
    api = any_api
    original = api.report("grid1", category="water_leak")
    duplicate = api.report("grid1", category="water_leak", title="Same leak again")
    merge = _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=original["number"])
    api.step(original["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(original["id"], "liaison_water", RESOLVED)
    api.step(original["id"], "grid1", {"outcome": "passed"}, stage="verification")
    void = _ask(api, original["id"], "acceptor1", kind="void", reason="Maybe a prank")
    [feedback] = [t for t in api.case(original["id"])["open_tasks"] if t["stage"] == "feedback"]
    api.post(f"/tasks/{feedback['id']}/complete", "acceptor1",
             json={"data": {"contacted": True, "resolved": True, "satisfaction": "satisfied"}})
    closed = api.case(original["id"])
    assert closed["status"] == "closed" and closed["open_tasks"] == []
    assert _request(api, original["id"], void["id"])["status"] == "cancelled"
    withdrawn = _request(api, duplicate["id"], merge["id"])
    assert withdrawn["status"] == "cancelled" and "original case" in withdrawn["decision_note"]
    still = api.case(duplicate["id"])
    assert still["status"] == "open" and [t["element_id"] for t in still["open_tasks"]] == ["grid_handling"]
    [event] = _events(still, "exception_withdrawn")
    assert (event["payload"]["ended"], event["payload"]["ended_case"]) == ("closed", original["number"])
    # The duplicate may ask again, into another original or to be voided.
    _ask(api, duplicate["id"], "acceptor1", kind="void", reason="Already fixed")


def test_a_suspended_case_may_be_voided_and_its_review_ends_with_it(any_api, any_world, clock):
    api = any_api
    case, task = _whistled(api)
    start = clock.now()
    suspension = _ask(api, case["id"], "liaison_water", kind="suspension", task_id=task["id"],
                      until=(start + timedelta(days=5)).isoformat(), reason="Waiting for the court")
    api.post(f"/tasks/{_approval(api, case['id'])['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    assert api.case(case["id"])["suspended_at"]
    _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
         until=_later(task["due_at"], 1), reason="More time", status=409)  # the clock stands still
    _ask(api, case["id"], "acceptor1", kind="void", reason="The court says it is no case")
    api.post(f"/tasks/{_approval(api, case['id'])['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    voided = api.case(case["id"])
    assert (voided["status"], voided["suspended_at"], voided["open_tasks"]) == ("voided", None, [])
    assert _request(api, case["id"], suspension["id"])["status"] == "approved"
    review = api.get(f"/process-instances/{suspension['approval_instance_id']}", "supervisor1")
    assert review["status"] == "cancelled"
    _at(api, clock, start + timedelta(days=6))  # the review date passes: nothing to review
    timers.run_due(any_world)
    assert api.case(case["id"])["open_tasks"] == []


def test_a_suspended_cases_tasks_are_not_overdue(any_api, clock):
    api = any_api
    suspended, stopped = _whistled(api)
    running, late = _whistled(api)
    _ask(api, suspended["id"], "liaison_water", kind="suspension", task_id=stopped["id"],
         until=(clock.now() + timedelta(days=20)).isoformat(), reason="Waiting for the court")
    api.post(f"/tasks/{_approval(api, suspended['id'])['id']}/complete", "street1",
             json={"data": {"outcome": "approve"}})
    _at(api, clock, clock.now() + timedelta(days=10))  # past both handling limits (no timer run)
    overdue = api.get("/tasks", "supervisor1", query_string={"scope": "overdue"})
    assert (overdue["total"], [t["id"] for t in overdue["items"]]) == (1, [late["id"]])
    assert api.get("/tasks/counts", "supervisor1")["overdue"]["count"] == 1
    window = api.get("/tasks", "supervisor1", query_string={"scope": "area", "due": "overdue"})
    assert (window["total"], [t["id"] for t in window["items"]]) == (1, [late["id"]])
    [task] = api.case(suspended["id"])["open_tasks"]
    assert (task["id"], task["overdue"]) == (stopped["id"], False)
    assert [t["overdue"] for t in api.case(running["id"])["open_tasks"]] == [True]


def _merge(api, duplicate, original):
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=original["number"])
    api.post(f"/tasks/{_approval(api, duplicate['id'])['id']}/complete", "street1",
             json={"data": {"outcome": "approve"}})


def test_the_original_lists_its_duplicates_and_each_points_at_it(any_api):
    api = any_api
    original = api.report("grid1", category="water_leak")
    first = api.report("grid1", category="water_leak", reporter={"name": "李四", "phone": "13900000000"})
    second = api.report("grid1", category="water_leak", reporter={"name": "王五", "phone": "13900000001"})
    assert api.case(original["id"])["merged_from"] == []
    _merge(api, first, original)
    _merge(api, second, original)
    listed = api.case(original["id"])["merged_from"]
    assert [(m["id"], m["number"], m["reporter"]["name"]) for m in listed] == [
        (first["id"], first["number"], "李四"), (second["id"], second["number"], "王五")]
    assert listed[0]["merged_at"] == api.case(first["id"])["closed_at"] and listed[0]["feedback_at"] is None
    assert api.case(first["id"])["merged_into"] == {"id": original["id"], "number": original["number"]}
    assert api.case(original["id"])["merged_into"] is None


def test_the_case_pages_link_original_and_duplicates(api, as_user):
    original = api.report("grid1", category="water_leak")
    duplicate = api.report("grid1", category="water_leak", reporter={"name": "李四", "phone": "13900000000"})
    _merge(api, duplicate, original)
    page = as_user("grid1")
    for lang, heading in (("en", "Duplicates merged into this case"), ("zh-CN", "合并到本案的重复案件")):
        html = page.get(f"/cases/{original['id']}", headers={"Accept-Language": lang}).get_data(True)
        assert heading in html and f'href="/cases/{duplicate["id"]}"' in html and "李四" in html
    html = page.get(f"/cases/{duplicate['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert f'href="/cases/{original["id"]}" class="merged-into">Merged into case {original["number"]}' in html


def test_an_extended_consultation_keeps_its_level_until_the_new_time(any_api, any_world, clock):
    api = any_api
    case, task = _whistled(api)
    _at(api, clock, datetime.fromisoformat(task["due_at"]) + timedelta(minutes=5))
    timers.run_due(any_world)  # the department let its limit pass: the street consults
    consult = api.open_task(case["id"])
    level = api.case(case["id"])["escalation_level"]
    assert consult["element_id"] == "consult_level" and consult["org_unit"] == "210102001"
    api.post(f"/tasks/{consult['id']}/claim", "street1")
    until = datetime.fromisoformat(_later(consult["due_at"], 2))
    _ask(api, case["id"], "street1", kind="extension", task_id=consult["id"], until=until.isoformat(),
         reason="The utility answers on Monday")
    approval = _approval(api, case["id"])
    assert approval["org_unit"] == "210102"  # the street asks its district
    api.post(f"/tasks/{approval['id']}/complete", "district1", json={"data": {"outcome": "approve"}})
    [moved] = _events(api.case(case["id"]), "task_extended")
    assert moved["payload"]["timers_moved"] == 1
    _at(api, clock, datetime.fromisoformat(consult["due_at"]) + timedelta(minutes=5))  # the old limit
    timers.run_due(any_world)
    still = api.case(case["id"])
    assert (still["escalation_level"], [t["id"] for t in still["open_tasks"]]) == (level, [consult["id"]])
    _at(api, clock, until + timedelta(minutes=5))  # the new one
    timers.run_due(any_world)
    after = api.case(case["id"])
    assert after["escalation_level"] > level and consult["id"] not in [t["id"] for t in after["open_tasks"]]


def test_nobody_approves_her_own_request(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    asked = _ask(api, case["id"], "street1", kind="void", reason="Reported in error")  # a coordinator of the street
    approval = _approval(api, case["id"])
    assert approval["org_unit"] == "210102001" and approval["id"] not in api.inbox_ids("street1")
    api.post(f"/tasks/{approval['id']}/claim", "street1", status=403)
    api.post(f"/tasks/{approval['id']}/complete", "street1", json={"data": {"outcome": "approve"}}, status=403)
    api.post(f"/tasks/{approval['id']}/complete", "district1", json={"data": {"outcome": "approve"}})
    assert _request(api, case["id"], asked["id"])["decided_by"] == "district1"
    assert api.case(case["id"])["status"] == "voided"


def test_a_suspension_withdraws_the_pending_extension(any_api, clock):
    api = any_api
    case, task = _whistled(api)
    extension = _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
                     until=_later(task["due_at"], 2), reason="Parts")
    suspension = _ask(api, case["id"], "liaison_water", kind="suspension", task_id=task["id"],
                      until=(clock.now() + timedelta(days=5)).isoformat(), reason="Court")
    [approve] = [t for t in api.case(case["id"])["open_tasks"]
                 if t["instance_id"] == suspension["approval_instance_id"]]
    api.post(f"/tasks/{approve['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    withdrawn = _request(api, case["id"], extension["id"])
    assert withdrawn["status"] == "cancelled" and "suspended" in withdrawn["decision_note"]
    assert [t["element_id"] for t in api.case(case["id"])["open_tasks"]] == ["department_handling"]
    html_events = _events(api.case(case["id"]), "exception_withdrawn")
    assert [e["payload"]["ended"] for e in html_events] == ["suspended"]


def test_a_merged_cases_duplicates_follow_it_to_its_original(any_api):
    api = any_api
    first = api.report("grid1", category="water_leak", reporter={"name": "李四", "phone": "13900000000"})
    second = api.report("grid1", category="water_leak", reporter={"name": "王五", "phone": "13900000001"})
    third = api.report("grid1", category="water_leak")
    _merge(api, first, second)
    _merge(api, second, third)  # the second is itself a duplicate: the first now waits for the third
    assert [m["number"] for m in api.case(third["id"])["merged_from"]] == [first["number"], second["number"]]
    assert api.case(first["id"])["merged_into"]["number"] == third["number"]
    assert _events(api.case(third["id"]), "case_merged_from")[0]["payload"]["with"] == [first["number"]]
    api.step(third["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(third["id"], "liaison_water", RESOLVED)
    api.step(third["id"], "grid1", {"outcome": "passed"}, stage="verification")
    api.step(third["id"], "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "satisfied"},
             stage="feedback")
    for merged in (first, second):  # both reporters are called back
        [callback] = api.case(merged["id"])["open_tasks"]
        assert callback["element_id"] == "merged_feedback"


def test_an_extension_is_withdrawn_when_its_task_ends_first(any_api):
    api = any_api
    case, task = _whistled(api)
    asked = _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
                 until=_later(task["due_at"], 2), reason="Parts")
    approval = _approval(api, case["id"])
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED})  # done in time after all
    withdrawn = _request(api, case["id"], asked["id"])
    assert withdrawn["status"] == "cancelled" and "task" in withdrawn["decision_note"]
    assert approval["id"] not in api.inbox_ids("street1")
    assert [t["stage"] for t in api.case(case["id"])["open_tasks"]] == ["verification"]


def test_the_timeline_says_why_a_request_was_withdrawn(api, as_user):
    case, task = _whistled(api)
    _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"], until=_later(task["due_at"], 2),
         reason="Parts")
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED})
    page = as_user("street1")
    en = page.get(f"/cases/{case['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert f"The extension request was withdrawn (case {case['number']}: its task ended)" in en
    zh = page.get(f"/cases/{case['id']}", headers={"Accept-Language": "zh-CN"}).get_data(True)
    assert f"延期申请已撤回(案件 {case['number']} 任务已结束)" in zh
