"""Returns (退单) go back to whoever dispatched the case, with approval, and a cap (returns.dmn)."""
from __future__ import annotations

from .conftest import RESOLVED

RETURN = {"outcome": "return", "return_reason": "Not our duty"}


def _events(case, kind):
    return [e["payload"] for e in case["history"] if e["type"] == kind]


def test_the_grid_that_whistled_approves_or_refuses_a_return(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(case["id"], "liaison_water", RETURN, stage="department_handling")
    approval = api.open_task(case["id"])
    assert (approval["stage"], approval["role"]) == ("return_approval", "grid_worker") and approval["due_at"]
    assert approval["id"] not in api.inbox_ids("liaison_water") and approval["id"] not in api.inbox_ids("grid2")
    api.post(f"/tasks/{approval['id']}/claim", "grid2", status=403)
    api.post(f"/tasks/{approval['id']}/claim", "grid1")
    api.post(f"/tasks/{approval['id']}/complete", "grid1", json={"data": {"outcome": "refuse"}},
             status=400)  # a refusal says why
    api.post(f"/tasks/{approval['id']}/complete", "grid1",
             json={"data": {"outcome": "refuse", "comment": "Your pipe: see the duty list"}})
    assert api.open_task(case["id"])["department"] == "water"  # the department handles it after all
    api.step(case["id"], "liaison_water", RETURN)
    api.step(case["id"], "grid1", {"outcome": "approve", "comment": "Agreed"}, stage="return_approval")
    after = api.case(case["id"])
    assert (after["stage"], after["return_count"]) == ("grid_handling", 2)
    completed = [e for e in after["history"] if e["type"] == "task_completed"]
    assert [(e["actor"], e["payload"]["outcome"]) for e in completed][-4:] == [
        ("liaison_water", "return"), ("grid1", "refuse"), ("liaison_water", "return"), ("grid1", "approve")]


def test_a_return_of_an_assigned_case_goes_back_to_the_consultation_that_assigned_it(any_api):
    api = any_api
    case = api.report("grid1", category="lift_fault")
    api.step(case["id"], "grid1", {"outcome": "escalate"})
    api.step(case["id"], "community1", {"outcome": "escalate"})
    api.step(case["id"], "street1", {"outcome": "assign", "department": "housing"})
    api.step(case["id"], "liaison_housing", RETURN)
    approval = api.open_task(case["id"])
    assert approval["stage"] == "return_approval" and approval["id"] not in api.inbox_ids("grid1")
    api.post(f"/tasks/{approval['id']}/claim", "community1", status=403)  # not the level that assigned it
    api.step(case["id"], "street1", {"outcome": "approve"}, stage="return_approval")
    after = api.case(case["id"])
    assert (after["stage"], after["escalation_level"], after["return_count"]) == ("consultation", 2, 1)
    api.step(case["id"], "street1", {"outcome": "assign", "department": "construction"})
    api.step(case["id"], "liaison_construction", RESOLVED, stage="department_handling")
    assert api.case(case["id"])["stage"] == "verification"


def test_the_fifth_return_in_a_row_escalates_instead(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    for _ in range(4):
        api.step(case["id"], "liaison_water", RETURN)
        api.step(case["id"], "grid1", {"outcome": "refuse", "comment": "Still yours"}, stage="return_approval")
    api.step(case["id"], "liaison_water", RETURN)
    after = api.case(case["id"])
    assert (after["stage"], after["return_count"], after["escalation_level"]) == ("consultation", 5, 1)
    assert _events(after, "escalated")[-1]["reason"] == "return_cap"
    assert api.open_task(case["id"])["id"] in api.inbox_ids("community1")


def test_a_resolution_starts_the_count_of_returns_in_a_row_again(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    for _ in range(4):
        api.step(case["id"], "liaison_water", RETURN)
        api.step(case["id"], "grid1", {"outcome": "refuse", "comment": "Still yours"})
    api.step(case["id"], "liaison_water", RESOLVED)
    api.step(case["id"], "grid1", {"outcome": "failed", "note": "Still leaking"}, stage="verification")
    api.step(case["id"], "liaison_water", RETURN, stage="department_handling")
    assert api.open_task(case["id"])["stage"] == "return_approval"  # the first in a new row: approval, no cap
