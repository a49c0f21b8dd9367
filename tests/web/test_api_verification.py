"""Independent verification (独立核查): whoever resolved a case never verifies it (the
engine refuses her), and verification.dmn names who does: the community for a case its grid
resolved, the grid worker for one a department or a consultation resolved."""
from __future__ import annotations

from .conftest import RESOLVED, SATISFIED

PASSED = {"outcome": "passed", "note": "Checked on site"}


def test_a_case_the_grid_resolved_is_verified_by_its_community_never_by_the_resolver(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
    task = api.open_task(case["id"])
    assert (task["stage"], task["role"], task["org_unit"]) == ("verification", "coordinator", "21010200101")
    assert task["id"] not in api.inbox_ids("grid1") and task["id"] in api.inbox_ids("community1")
    refused = api.post(f"/tasks/{task['id']}/claim", "grid1", status=403)
    assert "someone else verifies it" in refused["error"]["message"]
    api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": PASSED}, status=403)
    api.step(case["id"], "community1", PASSED, stage="verification")
    api.step(case["id"], "acceptor1", SATISFIED, stage="feedback")
    closed = api.case(case["id"])
    done = [(e["actor"], e["payload"]["element"]) for e in closed["history"] if e["type"] == "task_completed"]
    assert ("grid1", "grid_handling") in done and ("community1", "verification") in done
    assert closed["status"] == "closed"


def test_a_case_a_department_resolved_is_verified_by_the_grid_and_never_by_its_liaison(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(case["id"], "liaison_water", RESOLVED, stage="department_handling")
    task = api.open_task(case["id"])
    assert (task["role"], task["org_unit"]) == ("grid_worker", "21010200101001")
    assert task["id"] not in api.inbox_ids("liaison_water")
    api.post(f"/tasks/{task['id']}/claim", "liaison_water", status=403)
    api.step(case["id"], "grid1", PASSED, stage="verification")  # she whistled; she did not resolve it
    assert api.case(case["id"])["stage"] == "feedback"


def test_the_resolver_of_a_rework_is_refused_again(any_api):
    api = any_api
    case = api.report("grid1", category="garbage")
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "failed", "note": "Still there"}, stage="verification")
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")  # the rework
    task = api.open_task(case["id"])
    api.post(f"/tasks/{task['id']}/claim", "grid1", status=403)
    assert task["id"] in api.inbox_ids("community1")
