"""Joint handling (主办 + 协办) and whistles that reach somebody, through the REST API."""
from __future__ import annotations

from gridloop.engine import timers

from .conftest import RESOLVED

GRID13 = "21010500101001"  # Huanggu: the demo liaisons serve Heping's streets only


def _open(api, case_id) -> dict[str, dict]:
    """The case's open tasks by department."""
    return {t["department"]: t for t in api.case(case_id)["open_tasks"]}


def _do(api, task, user, data, status=200):
    api.post(f"/tasks/{task['id']}/claim", user)
    return api.post(f"/tasks/{task['id']}/complete", user, json={"data": data}, status=status)


def test_lead_and_co_handler_each_report_in_and_the_case_moves_on_when_both_did(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": ["water", "housing"]}, stage="grid_handling")
    tasks = _open(api, case["id"])
    assert set(tasks) == {"water", "housing"}
    assert all(t["stage"] == "department_handling" and t["due_at"] for t in tasks.values())
    assert tasks["water"]["id"] in api.inbox_ids("liaison_water")
    assert tasks["housing"]["id"] not in api.inbox_ids("liaison_water")  # each its own task
    api.post(f"/tasks/{tasks['housing']['id']}/claim", "liaison_water", status=403)
    assert api.case(case["id"])["department"] == "water"  # the lead

    _do(api, tasks["housing"], "liaison_housing", {"outcome": "resolved", "resolution": "Shared pipe replaced"})
    assert set(_open(api, case["id"])) == {"water"}  # the lead still works on it
    assert api.case(case["id"])["stage"] == "department_handling"
    _do(api, tasks["water"], "liaison_water", RESOLVED)
    after = api.case(case["id"])
    assert after["stage"] == "verification"
    completed = [e for e in after["history"] if e["type"] == "task_completed"]
    assert [e["actor"] for e in completed][-2:] == ["liaison_housing", "liaison_water"]


def test_co_departments_field_and_a_co_handler_may_escalate_for_all(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water", "co_departments": ["housing", "power"]})
    tasks = _open(api, case["id"])
    assert set(tasks) == {"water", "housing", "power"}
    _do(api, tasks["power"], "liaison_power", {"outcome": "escalate", "note": "Needs the street"})
    after = api.case(case["id"])
    assert after["stage"] == "consultation" and after["escalation_level"] >= 1
    assert {t["department"] for t in after["open_tasks"]} == {None}  # the others' tasks ended
    api.post(f"/tasks/{tasks['water']['id']}/complete", "liaison_water", json={"data": RESOLVED}, status=409)


def test_the_lead_returning_ends_the_co_handlers_tasks(any_api):
    api = any_api
    case = api.report("grid1", category="noise")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": ["gas", "police"]})
    tasks = _open(api, case["id"])
    _do(api, tasks["gas"], "liaison_gas", {"outcome": "return", "return_reason": "Not a gas matter"})
    after = api.case(case["id"])
    assert after["return_count"] == 1 and [t["department"] for t in after["open_tasks"]] == [None]


def test_a_bad_department_list_is_a_400_and_nothing_moves(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    task = api.open_task(case["id"])
    for bad in ([], ["water", "water"], ["water", "nope"], 7):
        api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": {"outcome": "whistle", "department": bad}},
                 status=400)
    assert api.open_task(case["id"])["id"] == task["id"]


def test_a_whistle_to_a_department_with_no_liaison_in_the_area_is_refused(any_api):
    api = any_api
    case = api.report("grid13", grid=GRID13, category="power_outage")
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "grid13")
    refused = api.post(f"/tasks/{task['id']}/complete", "grid13",
                       json={"data": {"outcome": "whistle", "department": "power"}}, status=400)
    assert "power" in refused["error"]["fields"]["department"] and GRID13 in refused["error"]["fields"]["department"]
    still = api.case(case["id"], "grid13")
    assert still["stage"] == "grid_handling" and still["open_tasks"][0]["id"] == task["id"]
    assert not any(e["type"] == "task_completed" for e in still["history"])


def test_one_department_without_a_liaison_refuses_the_whole_joint_whistle(any_api):
    api = any_api
    api.call("DELETE", "/liaisons/liaison_housing/areas/210102001", "admin1")
    case = api.report("grid1", category="water_leak")
    task = api.open_task(case["id"])
    refused = api.post(f"/tasks/{task['id']}/complete", "grid1",
                       json={"data": {"outcome": "whistle", "department": ["water", "housing"]}}, status=400)
    assert "housing" in refused["error"]["fields"]["department"]
    assert api.open_task(case["id"])["id"] == task["id"]
    api.call("PUT", "/liaisons/liaison_housing/areas/21010200101", "admin1")  # her community will do
    api.post(f"/tasks/{task['id']}/complete", "grid1",
             json={"data": {"outcome": "whistle", "department": ["water", "housing"]}})
    assert set(_open(api, case["id"])) == {"water", "housing"}


def test_liaison_areas_are_kept_by_administrators(api):
    listed = {b["username"]: b for b in api.get("/liaisons", "supervisor1", query_string={"department": "power"})}
    assert listed == {"liaison_power": {"username": "liaison_power", "department": "power",
                                        "units": ["210102001", "210102002"]}}
    api.get("/liaisons", "grid1", status=403)
    api.call("PUT", "/liaisons/liaison_power/areas/21010200101001", "grid1", status=403)
    api.call("PUT", "/liaisons/liaison_power/areas/21010200101001", "supervisor1", status=403)
    bound = api.call("PUT", "/liaisons/liaison_power/areas/21010200101001", "admin1")
    assert bound == {"username": "liaison_power", "department": "power",
                     "units": ["210102001", "21010200101001", "210102002"]}  # by code
    api.call("PUT", "/liaisons/liaison_power/areas/21010500101001", "admin1", status=400)  # outside her district
    api.call("PUT", "/liaisons/liaison_power/areas/210102", "admin1", status=400)  # a district is not an area
    api.call("PUT", "/liaisons/grid1/areas/21010200101001", "admin1", status=400)  # not a liaison
    api.call("PUT", "/liaisons/nobody/areas/21010200101001", "admin1", status=404)
    api.call("PUT", "/liaisons/liaison_power/areas/nowhere", "admin1", status=404)
    assert api.call("DELETE", "/liaisons/liaison_power/areas/21010200101001", "admin1") == listed["liaison_power"]
    api.call("DELETE", "/liaisons/liaison_power/areas/21010200101001", "admin1", status=404)


def test_the_report_in_limit_marks_each_unclaimed_joint_task_overdue(any_api, any_world, clock):
    api = any_api
    case = api.report("grid1", category="gas_leak", urgency="emergency")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": ["gas", "police"]})
    tasks = _open(api, case["id"])
    api.post(f"/tasks/{tasks['police']['id']}/claim", "liaison_police")
    clock.advance(minutes=31)  # an emergency's report-in limit: 30 minutes
    assert timers.run_due(any_world) == 1
    overdue = {d: api.get(f"/tasks/{t['id']}", "supervisor1")["overdue_at"] for d, t in tasks.items()}
    assert overdue["gas"] is not None and overdue["police"] is None
    assert set(_open(api, case["id"])) == {"gas", "police"}  # both still open


def test_the_grid_handling_page_whistles_a_lead_and_co_handlers(api, as_user):
    grid1 = as_user("grid1")
    case = api.report("grid1", category="water_leak")
    task_id = api.open_task(case["id"])["id"]
    form = grid1.get(f"/tasks/{task_id}", headers={"Accept-Language": "en"}).get_data(True)
    assert '<option value="water" selected>' in form  # the lead, as routing proposes
    assert 'type="checkbox" name="co_departments" value="housing"' in form
    grid1.post(f"/tasks/{task_id}", {"outcome": "whistle", "department": "water",
                                     "co_departments": ["housing", "power"]})
    assert set(_open(api, case["id"])) == {"water", "housing", "power"}
