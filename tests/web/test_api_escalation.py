"""Escalation that climbs (escalation.dmn) and hand-down (交办), through the REST API."""
from __future__ import annotations

from datetime import datetime, timedelta

from gridloop.engine import timers

from .conftest import RESOLVED

COMMUNITY, STREET, DISTRICT = "21010200101", "210102001", "210102"


def _past(clock, task) -> None:
    clock.set(datetime.fromisoformat(task["due_at"]) + timedelta(seconds=1))


def _events(case, kind):
    return [e["payload"] for e in case["history"] if e["type"] == kind]


def test_a_department_missing_its_limit_climbs_to_the_street_and_its_superior_is_notified(any_api, any_world, clock):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    _past(clock, api.open_task(case["id"]))
    assert timers.run_due(any_world) == 1
    after = api.case(case["id"])
    assert (after["escalation_level"], after["consult_unit"], after["stage"]) == (2, STREET, "consultation")
    assert _events(after, "escalated")[-1]["reason"] == "department_timeout"
    assert _events(after, "superior_notified") == [{"department": "water", "escalation_level": 2,
                                                     "consult_unit": STREET, "reason": "department_timeout"}]
    task = api.open_task(case["id"])
    assert task["id"] in api.inbox_ids("street1") and task["id"] not in api.inbox_ids("community1")


def test_an_emergency_a_department_let_slip_goes_to_the_district(any_api, any_world, clock):
    api = any_api
    case = api.report("grid1", category="gas_leak", urgency="emergency")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "gas"})
    _past(clock, api.open_task(case["id"]))
    timers.run_due(any_world)
    after = api.case(case["id"])
    assert (after["escalation_level"], after["consult_unit"]) == (3, DISTRICT)
    assert api.open_task(case["id"])["id"] in api.inbox_ids("district1")


def test_an_emergency_skips_the_community_and_a_normal_case_climbs_one_level(api):
    urgent = api.report("grid1", category="lift_fault", urgency="emergency")
    api.step(urgent["id"], "grid1", {"outcome": "escalate", "note": "Trapped residents"})
    assert api.case(urgent["id"])["escalation_level"] == 2
    normal = api.report("grid1", category="lift_fault")
    api.step(normal["id"], "grid1", {"outcome": "escalate"})
    after = api.case(normal["id"])
    assert (after["escalation_level"], after["consult_unit"]) == (1, COMMUNITY)
    assert _events(after, "superior_notified") == [] and _events(after, "escalated")[-1]["reason"] == "request"


def test_a_street_hands_a_case_down_to_the_grid_and_the_district_to_the_community(api):
    case = api.report("grid1", category="illegal_construction")
    api.step(case["id"], "grid1", {"outcome": "escalate"})
    api.step(case["id"], "community1", {"outcome": "escalate"})
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "street1")
    api.post(f"/tasks/{task['id']}/complete", "street1", json={"data": {"outcome": "hand_down"}}, status=400)
    api.post(f"/tasks/{task['id']}/complete", "street1",
             json={"data": {"outcome": "hand_down", "hand_down_to": "district"}}, status=400)
    api.post(f"/tasks/{task['id']}/complete", "street1",
             json={"data": {"outcome": "hand_down", "hand_down_to": "grid"}})
    after = api.case(case["id"])
    assert (after["stage"], after["escalation_level"]) == ("grid_handling", 0)
    assert _events(after, "handed_down")[-1]["escalation_level"] == 0
    api.step(case["id"], "grid1", {"outcome": "escalate"}, stage="grid_handling")
    api.step(case["id"], "community1", {"outcome": "escalate"})
    api.step(case["id"], "street1", {"outcome": "escalate"})
    district_task = api.open_task(case["id"])
    api.post(f"/tasks/{district_task['id']}/claim", "street1", status=403)  # a lower level cannot
    api.step(case["id"], "district1", {"outcome": "hand_down", "hand_down_to": "community"})
    down = api.case(case["id"])
    assert (down["stage"], down["escalation_level"], down["consult_unit"]) == ("consultation", 1, COMMUNITY)
    api.step(case["id"], "community1", {"outcome": "resolved", "resolution": "Owner removed it"})
    assert api.case(case["id"])["stage"] == "verification"


def test_the_case_page_says_who_was_notified_and_where_it_was_handed_down(api, world, clock, as_user):
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    _past(clock, api.open_task(case["id"]))
    timers.run_due(world)
    api.tokens.clear()
    api.step(case["id"], "street1", {"outcome": "hand_down", "hand_down_to": "grid"})
    page = as_user("supervisor1").get(f"/cases/{case['id']}", headers={"Accept-Language": "en"}).get_data(True)
    assert "Water let its limit pass: its superior is notified, the Street level consults" in page
    assert "Handed down to the Grid" in page
    zh = as_user("supervisor1").get(f"/cases/{case['id']}", headers={"Accept-Language": "zh"}).get_data(True)
    assert "已通报其上级" in zh and "交办网格" in zh
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
