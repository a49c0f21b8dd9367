"""Exceptions with approval (exceptions.dmn, exception_approval.bpmn) through the REST API:
extension (延期), each approved and refused, and the caps."""
from __future__ import annotations

from datetime import datetime, timedelta

from gridloop.engine import timers
from gridloop.web.i18n import LOCAL_TZ

from .conftest import RESOLVED


def _events(case, kind):
    return [e for e in case["history"] if e["type"] == kind]


def _tasks(api, case_id):
    return api.case(case_id)["open_tasks"]


def _approval(api, case_id):
    return next(t for t in _tasks(api, case_id) if t["element_id"] == "approve_exception")


def _ask(api, case_id, user, status=201, **body):
    return api.post(f"/cases/{case_id}/exceptions", user, json=body, status=status)


def _whistled(api):
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "liaison_water")
    return case, api.open_task(case["id"])


def _at(api, clock, when: datetime) -> None:
    """Time passes (the API tokens, valid for hours, are taken anew)."""
    clock.set(when)
    api.tokens.clear()


def _later(when: str, days: int) -> str:
    return (datetime.fromisoformat(when) + timedelta(days=days)).isoformat()


def test_an_approved_extension_moves_the_tasks_and_the_cases_due_time(any_api, any_world, clock):
    api = any_api
    case, task = _whistled(api)
    due_before = api.case(case["id"])["due_at"]
    until = _later(due_before, 3)
    asked = _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"], until=until,
                 reason="Parts on order 配件未到")
    assert (asked["status"], asked["days"], asked["requested_by"]) == ("pending", asked["days"], "liaison_water")
    _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"], until=until, reason="again",
         status=409)  # one request at a time
    approval = _approval(api, case["id"])
    assert approval["role"] == "coordinator" and approval["org_unit"] == "210102001"  # the street above a department
    assert approval["id"] in api.inbox_ids("street1") and approval["id"] not in api.inbox_ids("community1")
    api.post(f"/tasks/{approval['id']}/claim", "street1")
    api.post(f"/tasks/{approval['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    after = api.case(case["id"])
    handling = next(t for t in after["open_tasks"] if t["id"] == task["id"])
    assert datetime.fromisoformat(handling["due_at"]) == datetime.fromisoformat(until)
    assert datetime.fromisoformat(after["due_at"]) == datetime.fromisoformat(until)
    assert after["extension_count"] == 1
    [moved] = _events(after, "task_extended")
    assert moved["actor"] == "street1" and moved["payload"]["timers_moved"] == 1
    assert _events(after, "exception_approved")[0]["payload"]["kind"] == "extension"
    [listed] = api.get(f"/cases/{case['id']}/exceptions", "street1")
    assert (listed["status"], listed["decided_by"]) == ("approved", "street1")
    # Past the old limits, before the new one: nothing escalates, nothing is overdue.
    _at(api, clock, datetime.fromisoformat(due_before) + timedelta(hours=1))
    timers.run_due(any_world)
    later = api.case(case["id"])
    assert (later["stage"], later["overdue_at"], later["escalation_level"]) == ("department_handling", None, 0)
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED})
    assert api.case(case["id"])["stage"] == "verification"
    _at(api, clock, datetime.fromisoformat(until) - timedelta(hours=1))
    timers.run_due(any_world)
    assert api.case(case["id"])["overdue_at"] is None  # the verification's case-deadline timer waits for until
    _at(api, clock, datetime.fromisoformat(until) + timedelta(hours=1))
    timers.run_due(any_world)
    assert api.case(case["id"])["overdue_at"] is not None


def test_a_refused_extension_changes_no_due_time_and_says_why(any_api):
    api = any_api
    case, task = _whistled(api)
    due_before = api.case(case["id"])["due_at"]
    _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"], until=_later(task["due_at"], 2),
         reason="Busy")
    approval = _approval(api, case["id"])
    api.post(f"/tasks/{approval['id']}/complete", "street1", json={"data": {"outcome": "refuse"}}, status=400)
    api.post(f"/tasks/{approval['id']}/complete", "street1",
             json={"data": {"outcome": "refuse", "comment": "Two days are enough"}})
    after = api.case(case["id"])
    assert after["due_at"] == due_before and after["extension_count"] == 0
    assert [t["due_at"] for t in after["open_tasks"]] == [task["due_at"]]
    [refused] = _events(after, "exception_refused")
    assert refused["payload"]["note"] == "Two days are enough"


def test_the_caps_refuse_at_once(any_api):
    api = any_api
    case, task = _whistled(api)
    too_long = _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
                    until=_later(task["due_at"], 16), reason="A long wait")
    assert too_long["status"] == "refused" and "15" in too_long["decision_note"]
    assert [t["element_id"] for t in _tasks(api, case["id"])] == ["department_handling"]
    for days in (2, 3):
        current = next(t for t in _tasks(api, case["id"]) if t["id"] == task["id"])
        _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
             until=_later(current["due_at"], days), reason="More time")
        api.post(f"/tasks/{_approval(api, case['id'])['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    current = next(t for t in _tasks(api, case["id"]) if t["id"] == task["id"])
    third = _ask(api, case["id"], "liaison_water", kind="extension", task_id=task["id"],
                 until=_later(current["due_at"], 1), reason="Once more")
    assert third["status"] == "refused" and "2" in third["decision_note"]
    assert api.case(case["id"])["extension_count"] == 2


def test_bad_extension_requests(any_api):
    api = any_api
    case, task = _whistled(api)
    good = {"kind": "extension", "task_id": task["id"], "until": _later(task["due_at"], 1), "reason": "why"}
    _ask(api, case["id"], "grid1", status=403, **good)  # not the task's handler
    _ask(api, case["id"], "liaison_water", status=400, **{**good, "reason": " "})
    _ask(api, case["id"], "liaison_water", status=400, **{**good, "until": "tomorrow"})
    _ask(api, case["id"], "liaison_water", status=400, **{**good, "until": _later(task["due_at"], -1)})
    _ask(api, case["id"], "liaison_water", status=400, **{**good, "kind": "holiday"})
    _ask(api, case["id"], "liaison_water", status=404, **{**good, "task_id": "nope"})
    _ask(api, 999999, "liaison_water", status=404, **good)
    api.post("/process-instances", "designer1", json={"key": "exception_approval", "data": {}}, status=409)


def test_the_grid_asks_its_community(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    task = api.open_task(case["id"])
    asked = _ask(api, case["id"], "grid1", kind="extension", task_id=task["id"], until=_later(task["due_at"], 1),
                 reason="Waiting for the cleaning crew")
    approval = _approval(api, case["id"])
    assert approval["org_unit"] == "21010200101"  # the grid's community (and the levels above it) approves
    assert approval["id"] in api.inbox_ids("community1") and approval["id"] not in api.inbox_ids("grid1")
    api.post(f"/tasks/{approval['id']}/complete", "community1", json={"data": {"outcome": "approve"}})
    assert api.get(f"/cases/{case['id']}/exceptions", "grid1")[0]["id"] == asked["id"]
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")


def test_the_task_page_asks_for_an_extension_and_the_approver_sees_the_request(api, as_user):
    case, task = _whistled(api)
    liaison = as_user("liaison_water")
    page = liaison.get(f"/tasks/{task['id']}").get_data(True)
    assert 'action="/tasks/%s/exceptions"' % task["id"] in page
    liaison.post(f"/tasks/{task['id']}/exceptions", {"until": "not a date", "reason": "x"})
    assert api.get(f"/cases/{case['id']}/exceptions", "liaison_water") == []
    local = datetime.fromisoformat(task["due_at"]).astimezone(LOCAL_TZ) + timedelta(days=2)
    liaison.post(f"/tasks/{task['id']}/exceptions", {"until": local.strftime("%Y-%m-%dT%H:%M"), "reason": "Parts"})
    [asked] = api.get(f"/cases/{case['id']}/exceptions", "liaison_water")
    assert asked["status"] == "pending" and asked["reason"] == "Parts"
    approval = _approval(api, case["id"])
    street = as_user("street1")
    page = street.get(f"/tasks/{approval['id']}").get_data(True)
    assert "exception-request" in page and "Parts" in page
    assert 'action="/tasks/%s/exceptions"' % approval["id"] not in page  # an approval is not extended
    history = street.get(f"/cases/{case['id']}").get_data(True)
    assert "申请延期" in history or "asked for extension" in history


def test_the_task_page_says_a_request_was_refused_at_once(api, as_user):
    case, task = _whistled(api)
    liaison = as_user("liaison_water")
    liaison.get(f"/tasks/{task['id']}")
    local = datetime.fromisoformat(task["due_at"]).astimezone(LOCAL_TZ) + timedelta(days=16)  # over the cap
    liaison.post(f"/tasks/{task['id']}/exceptions", {"until": local.strftime("%Y-%m-%dT%H:%M"), "reason": "Parts"})
    [refused] = api.get(f"/cases/{case['id']}/exceptions", "liaison_water")
    assert refused["status"] == "refused" and "15" in refused["decision_note"]
    page = liaison.get(f"/cases/{case['id']}").get_data(True)
    assert refused["decision_note"] in page and ("未获批准" in page or "request refused" in page)


# ---------------------------------------------------------------------------------- void

def test_a_case_reported_in_error_is_voided_with_the_streets_approval(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    _ask(api, case["id"], "liaison_water", kind="void", reason="x", status=403)  # not of the case's area
    asked = _ask(api, case["id"], "acceptor1", kind="void", reason="Reported twice by mistake 误报")
    approval = _approval(api, case["id"])
    assert approval["org_unit"] == "210102001" and approval["id"] not in api.inbox_ids("community1")
    api.post(f"/tasks/{approval['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    after = api.case(case["id"])
    assert (after["status"], after["stage"], after["open_tasks"]) == ("voided", "voided", [])
    assert after["feedback_url"] is None and after["closed_at"]
    assert _events(after, "case_voided")[0]["payload"]["request"] == asked["id"]
    assert [e["payload"]["element"] for e in _events(after, "task_cancelled")] == ["grid_handling"]
    _ask(api, case["id"], "acceptor1", kind="void", reason="again", status=409)  # a voided case is closed
    assert api.get(f"/process-instances/{after['instance_id']}", "supervisor1")["status"] == "cancelled"


def test_a_refused_void_leaves_the_case_running(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    _ask(api, case["id"], "grid1", kind="void", reason="Looks like a prank")
    approval = _approval(api, case["id"])
    api.post(f"/tasks/{approval['id']}/complete", "street1",
             json={"data": {"outcome": "refuse", "comment": "Residents confirmed it"}})
    after = api.case(case["id"])
    assert after["status"] == "open" and [t["element_id"] for t in after["open_tasks"]] == ["grid_handling"]
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")


# ---------------------------------------------------------------------------------- merge

def test_a_duplicate_merges_into_its_original_and_its_reporter_is_called_back(any_api):
    api = any_api
    original = api.report("grid1", category="water_leak")
    duplicate = api.report("grid1", category="water_leak", title="Same leak, reported again",
                           reporter={"name": "李四", "phone": "13900000000"})
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", status=400)  # which original?
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original="GL-nope", status=400)
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=duplicate["number"], status=400)
    asked = _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=original["number"])
    assert asked["original_case_id"] == original["id"]
    api.post(f"/tasks/{_approval(api, duplicate['id'])['id']}/complete", "street1",
             json={"data": {"outcome": "approve"}})
    merged = api.case(duplicate["id"])
    assert (merged["status"], merged["open_tasks"]) == ("merged", [])
    assert _events(merged, "case_merged")[0]["payload"]["into"] == original["number"]
    assert _events(api.case(original["id"]), "case_merged_from")[0]["payload"]["from"] == duplicate["number"]
    # The original runs its course; when it closes, the duplicate's reporter is called back.
    api.step(original["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(original["id"], "liaison_water", RESOLVED)
    api.step(original["id"], "grid1", {"outcome": "passed"}, stage="verification")
    assert api.case(duplicate["id"])["open_tasks"] == []  # not before the original closes
    api.step(original["id"], "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "satisfied"},
             stage="feedback")
    assert api.case(original["id"])["status"] == "closed"
    called = api.case(duplicate["id"], "acceptor1")
    [callback] = called["open_tasks"]
    assert (callback["element_id"], callback["stage"], callback["role"]) == ("merged_feedback", "feedback", "acceptor")
    assert callback["id"] in api.inbox_ids("acceptor1") and called["feedback_url"]
    token = called["feedback_url"].rsplit("/", 1)[-1]
    api.post(f"/feedback/{token}", json={"contacted": True, "resolved": True, "satisfaction": "basically_satisfied"})
    after = api.case(duplicate["id"])
    assert (after["status"], after["satisfaction"], after["open_tasks"]) == ("merged", "basically_satisfied", [])


def test_a_merge_needs_an_open_original(any_api):
    api = any_api
    original = api.report("grid1", category="garbage")
    duplicate = api.report("grid1", category="garbage")
    _ask(api, original["id"], "acceptor1", kind="void", reason="Error")
    api.post(f"/tasks/{_approval(api, original['id'])['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same", original=original["number"], status=409)


# ---------------------------------------------------------------------------------- suspension

def test_a_suspension_stops_the_clock_until_the_review_resumes_it(any_api, any_world, clock):
    api = any_api
    case, task = _whistled(api)
    before = api.case(case["id"])
    start = clock.now()
    review = (start + timedelta(days=10)).isoformat()
    _ask(api, case["id"], "liaison_water", kind="suspension", reason="x", status=400)  # no review date
    asked = _ask(api, case["id"], "liaison_water", kind="suspension", task_id=task["id"], until=review,
                 reason="Waiting for the court's ruling 等待法院裁定")
    api.post(f"/tasks/{_approval(api, case['id'])['id']}/complete", "street1", json={"data": {"outcome": "approve"}})
    suspended = api.case(case["id"])
    assert suspended["suspended_at"] and suspended["suspension_count"] == 1
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED}, status=409)  # stopped
    # Long past every limit: nothing fires, nothing escalates or is marked overdue.
    _at(api, clock, start + timedelta(days=9))
    timers.run_due(any_world)
    still = api.case(case["id"])
    assert (still["stage"], still["escalation_level"], still["overdue_at"]) == ("department_handling", 0, None)
    assert [t["element_id"] for t in still["open_tasks"]] == ["department_handling"]
    # The review date: the approver reviews and keeps it two days more, then resumes it.
    _at(api, clock, start + timedelta(days=10, minutes=1))
    timers.run_due(any_world)
    [review_task] = [t for t in api.case(case["id"])["open_tasks"] if t["element_id"] == "review_suspension"]
    assert review_task["id"] in api.inbox_ids("street1")
    api.post(f"/tasks/{review_task['id']}/complete", "street1", json={"data": {"outcome": "keep"}}, status=400)
    api.post(f"/tasks/{review_task['id']}/complete", "street1",
             json={"data": {"outcome": "keep", "extend_days": 2}})
    _at(api, clock, start + timedelta(days=12, minutes=2))
    timers.run_due(any_world)
    [review_task] = [t for t in api.case(case["id"])["open_tasks"] if t["element_id"] == "review_suspension"]
    api.post(f"/tasks/{review_task['id']}/complete", "street1", json={"data": {"outcome": "resume"}})
    resumed = api.case(case["id"])
    paused = clock.now() - datetime.fromisoformat(suspended["suspended_at"])
    assert resumed["suspended_at"] is None and resumed["status"] == "open"
    assert datetime.fromisoformat(resumed["due_at"]) == datetime.fromisoformat(before["due_at"]) + paused
    [handling] = resumed["open_tasks"]
    assert datetime.fromisoformat(handling["due_at"]) == datetime.fromisoformat(task["due_at"]) + paused
    [event] = _events(resumed, "case_resumed")
    assert event["payload"]["request"] == asked["id"] and event["payload"]["timers_shifted"] >= 2
    # The handling limit now passes only the suspended time later.
    _at(api, clock, datetime.fromisoformat(handling["due_at"]) - timedelta(minutes=5))
    timers.run_due(any_world)
    assert api.case(case["id"])["escalation_level"] == 0
    _at(api, clock, datetime.fromisoformat(handling["due_at"]) + timedelta(minutes=5))
    timers.run_due(any_world)
    assert api.case(case["id"])["escalation_level"] == 2  # the department missed its (moved) limit
    consult = api.open_task(case["id"])
    again = _ask(api, case["id"], "street1", kind="suspension", task_id=consult["id"],
                 until=_later(consult["due_at"], 3), reason="Once more")
    assert again["status"] == "refused" and "1" in again["decision_note"]  # the cap: once per case


def test_a_refused_suspension_and_the_cap(any_api):
    api = any_api
    case, task = _whistled(api)
    review = _later(task["due_at"], 5)
    _ask(api, case["id"], "liaison_water", kind="suspension", task_id=task["id"], until=review, reason="Wait")
    api.post(f"/tasks/{_approval(api, case['id'])['id']}/complete", "street1",
             json={"data": {"outcome": "refuse", "comment": "Go on"}})
    assert api.case(case["id"])["suspended_at"] is None
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED})  # not stopped
    assert api.case(case["id"])["stage"] == "verification"


def test_the_case_page_asks_to_void_or_merge(api, as_user):
    case = api.report("grid1", category="garbage")
    form = 'action="/cases/%s/exceptions"' % case["id"]
    grid = as_user("grid1")
    assert form in grid.get(f"/cases/{case['id']}").get_data(True)
    assert form not in as_user("supervisor1").get(f"/cases/{case['id']}").get_data(True)  # not a requester
    grid.post(f"/cases/{case['id']}/exceptions", {"kind": "merge", "reason": "Same", "original": "GL-nope"})
    assert api.get(f"/cases/{case['id']}/exceptions", "grid1") == []
    grid.post(f"/cases/{case['id']}/exceptions", {"kind": "void", "reason": "Reported in error"})
    [asked] = api.get(f"/cases/{case['id']}/exceptions", "grid1")
    assert (asked["kind"], asked["status"]) == ("void", "pending")
    street = as_user("street1")
    page = street.get(f"/tasks/{_approval(api, case['id'])['id']}").get_data(True)
    assert "Reported in error" in page
