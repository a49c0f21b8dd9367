"""Every path of the closed loop through the REST API, as the demo users, asserting who sees
which task at each step."""
from __future__ import annotations

import os
from urllib.parse import urlsplit

from gridloop.engine import paging

from ..conftest import MODELS
from .conftest import GRID1, RESOLVED, SATISFIED


def test_straight_resolution_and_only_grid1_sees_her_grid(api):
    case = api.report("grid1")
    assert (case["status"], case["stage"], case["grid"]) == ("open", "grid_handling", GRID1)
    assert case["number"].startswith("GL")
    task = api.open_task(case["id"])
    assert api.inbox_ids("grid2") == []  # another grid never sees it ...
    api.get(f"/tasks/{task['id']}", "grid2", status=403)  # ... nor opens it
    api.post(f"/tasks/{task['id']}/claim", "grid2", status=403)
    assert task["id"] not in api.inbox_ids("liaison_urban_management")
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
    api.step(case["id"], "community1", {"outcome": "passed"}, stage="verification")
    api.step(case["id"], "acceptor1", SATISFIED, stage="feedback")
    done = api.case(case["id"], "grid1")
    assert (done["status"], done["stage"], done["satisfaction"]) == ("closed", "closed", "satisfied")
    assert done["open_tasks"] == [] and done["feedback_url"] is None
    types = [e["type"] for e in done["history"]]
    assert types[:2] == ["instance_started", "case_reported"] and "case_closed" in types
    assert api.inbox_ids("grid1") == [] and api.inbox_ids("grid1", "mine") == []


def test_whistle_liaison_reports_in_and_the_reporter_scores_by_link(api, app):
    case = api.report("acceptor1", source="hotline", category="power_outage", urgency="urgent")
    assert case["stage"] == "acceptance"
    assert api.inbox_ids("grid1") == []  # not dispatched yet
    api.step(case["id"], "acceptor1", {"outcome": "accept"}, stage="acceptance")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"}, stage="grid_handling")
    task = api.open_task(case["id"])
    assert (task["role"], task["department"]) == ("dept_liaison", "power")
    assert task["id"] not in api.inbox_ids("liaison_gas")  # only her department's
    api.post(f"/tasks/{task['id']}/claim", "liaison_gas", status=403)
    assert task["id"] not in api.inbox_ids("grid1")
    api.step(case["id"], "liaison_power", RESOLVED, stage="department_handling")
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="verification")

    waiting = api.case(case["id"], "grid1")
    assert waiting["stage"] == "feedback" and waiting["feedback_url"] is None  # not the callback's maker
    url = api.case(case["id"], "acceptor1")["feedback_url"]
    assert url.startswith("http://") and "/f/" in url
    token = urlsplit(url).path.rsplit("/", 1)[-1]
    assert api.get(f"/feedback/{token}")["state"] == "valid"  # public: no token needed
    api.post(f"/feedback/{token}", json={"contacted": True}, status=400)  # contacted -> resolved, satisfaction
    answered = api.post(f"/feedback/{token}", json={**SATISFIED, "comment": "Lights back on"})
    assert answered["state"] == "used"
    api.post(f"/feedback/{token}", json=SATISFIED, status=409)
    closed = api.case(case["id"])
    assert (closed["status"], closed["satisfaction"], closed["feedback_comment"]) == ("closed", "satisfied", "Lights back on")


def test_liaison_returns_what_is_not_her_departments(api):
    case = api.report("grid1", category="noise")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "gas"})
    api.step(case["id"], "liaison_gas", {"outcome": "return", "return_reason": "Noise is not gas"},
             stage="department_handling")
    api.step(case["id"], "grid1", {"outcome": "approve"}, stage="return_approval")  # back to the grid that whistled
    back = api.case(case["id"])
    assert (back["stage"], back["return_count"]) == ("grid_handling", 1)
    assert "returned" in [e["type"] for e in back["history"]]
    assert api.inbox_ids("liaison_gas") == []
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
    api.step(case["id"], "community1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", SATISFIED)
    assert api.case(case["id"])["status"] == "closed"


def test_escalation_community_street_district_city(api):
    case = api.report("grid1", category="illegal_construction")
    api.step(case["id"], "grid1", {"outcome": "escalate", "note": "Hard case"})
    for level, (user, unit) in enumerate([("community1", GRID1[:11]), ("street1", GRID1[:9]),
                                          ("district1", GRID1[:6])], start=1):
        task = api.open_task(case["id"])
        assert (task["org_unit"], api.case(case["id"])["escalation_level"]) == (unit, level)
        assert task["id"] not in api.inbox_ids("street2")  # another street's coordinator
        api.get(f"/tasks/{task['id']}", "street2", status=403)
        if level == 2:
            assert task["id"] not in api.inbox_ids("community1")  # a level below does not see it
        api.step(case["id"], user, {"outcome": "escalate", "note": "Beyond our level"}, stage="consultation")
    city_task = api.open_task(case["id"])
    assert city_task["org_unit"] == "2101"
    refused = api.post(f"/tasks/{city_task['id']}/complete", "city1", json={"data": {"outcome": "escalate"}}, status=400)
    assert "outcome" in refused["error"]["fields"]
    api.step(case["id"], "city1", RESOLVED, stage="consultation")
    api.step(case["id"], "grid1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", SATISFIED)
    closed = api.case(case["id"])
    assert (closed["status"], closed["escalation_level"]) == ("closed", 4)
    assert [e["type"] for e in closed["history"]].count("escalated") == 4


def test_consultation_assigns_a_department(api):
    case = api.report("grid1", category="lift_fault")
    api.step(case["id"], "grid1", {"outcome": "escalate"})
    api.step(case["id"], "community1", {"outcome": "assign", "department": "housing"}, stage="consultation")
    task = api.open_task(case["id"])
    assert (task["stage"], task["department"]) == ("department_handling", "housing")
    assert task["id"] not in api.inbox_ids("liaison_power")
    api.step(case["id"], "liaison_housing", RESOLVED)
    api.step(case["id"], "grid1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", SATISFIED)
    assert api.case(case["id"])["status"] == "closed"


def test_failed_verification_is_reworked_by_the_department(api):
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(case["id"], "liaison_water", RESOLVED)
    api.step(case["id"], "grid1", {"outcome": "failed", "note": "Still leaking"}, stage="verification")
    rework = api.case(case["id"])
    assert (rework["stage"], rework["rework_count"]) == ("department_handling", 1)
    api.step(case["id"], "liaison_water", RESOLVED, stage="department_handling")
    api.step(case["id"], "grid1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", SATISFIED)
    closed = api.case(case["id"])
    assert (closed["status"], closed["rework_count"]) == ("closed", 1)


def test_unsatisfied_feedback_is_reworked_until_satisfied(api):
    case = api.report("acceptor1", source="resident")
    api.step(case["id"], "acceptor1", {"outcome": "accept"})
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", {"contacted": True, "resolved": False, "satisfaction": "unsatisfied",
                                       "comment": "Still there"}, stage="feedback")
    rework = api.case(case["id"])
    assert (rework["stage"], rework["status"], rework["rework_count"]) == ("grid_handling", "open", 1)
    api.step(case["id"], "grid1", RESOLVED, stage="grid_handling")
    api.step(case["id"], "community1", {"outcome": "passed"})
    api.step(case["id"], "acceptor1", SATISFIED, stage="feedback")
    closed = api.case(case["id"])
    assert (closed["status"], closed["satisfaction"], closed["rework_count"]) == ("closed", "satisfied", 1)


def test_rejected_at_acceptance(api):
    case = api.report("acceptor1", source="qr", category="noise")
    task = api.open_task(case["id"])
    assert task["id"] in api.inbox_ids("acceptor1") and api.inbox_ids("grid1") == []
    refused = api.post(f"/tasks/{task['id']}/complete", "acceptor1", json={"data": {"outcome": "reject"}}, status=400)
    assert refused["error"]["fields"] == {"reject_reason": "is required"}
    api.step(case["id"], "acceptor1", {"outcome": "reject", "reject_reason": "duplicate"}, stage="acceptance")
    rejected = api.case(case["id"], "acceptor1")
    assert (rejected["status"], rejected["stage"]) == ("rejected", "rejected")
    assert api.get("/cases", "supervisor1", query_string={"status": "rejected"})["total"] == 1


def test_supervisor_sees_everything_in_her_area_and_others_may_not(api):
    api.report("grid1")
    api.report("grid2", grid="21010200101002")
    area = api.get("/tasks", "supervisor1", query_string={"scope": "area"})
    assert area["total"] == 2
    assert [t["org_unit"] for t in api.get("/tasks", "supervisor1", query_string={"scope": "area", "grid": GRID1})["items"]] == [GRID1]
    assert api.get("/tasks", "grid1", query_string={"scope": "area"}, status=403)["error"]["code"] == "forbidden"


def test_inbox_is_sorted_by_due_time_filtered_and_paged(api):
    slow = api.report("grid1", category="garbage")
    fast = api.report("grid1", category="gas_leak", urgency="emergency")
    items = api.get("/tasks", "grid1", query_string={"scope": "claimable"})["items"]
    assert [t["case_id"] for t in items] == [fast["id"], slow["id"]]
    assert items[0]["due_at"] < items[1]["due_at"]
    assert [t["case_id"] for t in api.get("/tasks", "grid1", query_string={"scope": "claimable", "category": "garbage"})["items"]] == [slow["id"]]
    page2 = api.get("/tasks", "grid1", query_string={"scope": "claimable", "per_page": 1, "page": 2})
    assert (page2["total"], page2["page"], [t["case_id"] for t in page2["items"]]) == (2, 2, [slow["id"]])
    assert api.get("/tasks", "grid1", query_string={"scope": "claimable", "stage": "verification"})["total"] == 0
    assert page2["total_capped"] is False


def test_inbox_totals_say_when_they_stopped_at_the_cap(api, clock, monkeypatch):
    for _ in range(3):
        api.report("grid1", category="garbage")
    monkeypatch.setattr(paging, "COUNT_CAP", 2)
    page = api.get("/tasks", "grid1", query_string={"scope": "claimable", "per_page": 5})
    assert (page["total"], page["total_capped"], len(page["items"])) == (2, True, 3)
    clock.advance(days=30)  # every acceptance/handling limit has passed
    api.tokens.clear()  # and every token has expired
    overdue = api.get("/tasks", "supervisor1", query_string={"scope": "overdue"})
    assert (overdue["total"], overdue["total_capped"], len(overdue["items"])) == (3, False, 3)  # counted exactly
    assert api.get("/tasks/counts", "grid1") == {"mine": {"count": 0, "capped": False},
                                                 "claimable": {"count": 2, "capped": True}}
    counts = api.get("/tasks/counts", "supervisor1")
    assert counts["overdue"] == {"count": 2, "capped": True} and counts["area"] == {"count": 2, "capped": True}
    monkeypatch.setattr(paging, "COUNT_CAP", 1000)
    counts = api.get("/tasks/counts", "supervisor1")
    assert counts["overdue"] == {"count": 3, "capped": False} and counts["area"] == {"count": 3, "capped": False}


def test_case_list_filters_and_search(api):
    a = api.report("grid1", title="Broken street light at gate", category="street_light")
    api.report("grid1", title="Noise at night", category="noise")
    found = api.get("/cases", "grid1", query_string={"q": "street light"})
    assert (found["total"], [c["id"] for c in found["items"]]) == (1, [a["id"]])
    assert api.get("/cases", "grid1", query_string={"q": a["number"]})["items"][0]["id"] == a["id"]
    assert api.get("/cases", "grid1", query_string={"category": "noise"})["total"] == 1
    assert api.get("/cases", "grid2")["total"] == 0  # outside her grid
    assert api.get("/cases", "grid1", query_string={"per_page": 1})["items"][0]["title"] == "Noise at night"  # newest first


def test_me_categories_and_token_user_agree(api):
    issued = api.post("/auth/token", json={"username": "liaison_power", "password": "demo"})
    me = api.get("/me", "liaison_power")
    assert issued["user"] == me
    assert (me["roles"], me["department"], me["org_unit"]) == (["dept_liaison"], "power", "210102")
    categories = {c["code"]: c for c in api.get("/categories", "grid1")}
    assert categories["gas_leak"]["department"] == "gas" and categories["gas_leak"]["name"] == "燃气泄漏"
    assert categories["garbage"]["grid_may_handle"] is True


def test_completing_returns_the_tasks_the_caller_may_do_next(api, world):
    case = api.report("grid1", category="power_outage", title="Lights out")
    grid_task = api.open_task(case["id"])
    whistled = api.post(f"/tasks/{grid_task['id']}/complete", "grid1",
                        json={"data": {"outcome": "whistle", "department": "power"}})
    assert (whistled["status"], whistled["next_tasks"]) == ("completed", [])  # the liaison's turn, not hers
    dept_task = api.open_task(case["id"])
    api.post(f"/tasks/{dept_task['id']}/claim", "liaison_power")
    handled = api.post(f"/tasks/{dept_task['id']}/complete", "liaison_power", json={"data": RESOLVED})
    assert handled["next_tasks"] == []  # verification is the grid worker's
    verification = api.open_task(case["id"])
    assert verification["id"] in api.inbox_ids("grid1")

    case2 = api.report("grid1", category="garbage")
    done = api.post(f"/tasks/{api.open_task(case2['id'])['id']}/complete", "grid1", json={"data": RESOLVED})
    assert done["next_tasks"] == []  # she resolved it: her community verifies it, not she
    passed = api.post(f"/tasks/{api.open_task(case2['id'])['id']}/complete", "community1",
                      json={"data": {"outcome": "passed"}})
    assert passed["next_tasks"] == []  # the feedback call is the acceptor's

    spec = api.get("/openapi.json")
    completed = spec["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]["responses"]["200"]
    assert completed["content"]["application/json"]["schema"]["$ref"].endswith("/Completed")
    assert "next_tasks" in spec["components"]["schemas"]["Completed"]["properties"]


def test_next_tasks_walk_a_generic_process_to_its_end(api, world):
    with open(os.path.join(MODELS, "peer_linear5.bpmn"), "rb") as fh:
        world.deploy(sources={"peer_linear5.bpmn": fh.read()})
    started = api.post("/process-instances", "designer1", json={"key": "Process_lin5"}, status=201)
    [task] = started["open_tasks"]
    stored = api.get(f"/process-instances/{started['id']}", "designer1")
    assert {k: v for k, v in stored.items() if k not in ("history", "reported_cases")} == started  # answered as stored
    seen = []
    while task is not None:
        seen.append(task["element_id"])
        result = api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {}})
        assert result["id"] == task["id"] and result["status"] == "completed"
        task = result["next_tasks"][0] if result["next_tasks"] else None
    assert len(seen) == 5 and len(set(seen)) == 5
    assert api.get(f"/process-instances/{started['id']}", "designer1")["status"] == "completed"
    api.post("/process-instances", "designer1", json={"key": "Process_lin5"}, status=201)
    assert api.post(f"/tasks/{api.inbox_ids('designer1')[0]}/complete", "grid1", json={"data": {}},
                    status=403)  # not offered to her


def test_the_overdue_view_filters_and_pages_in_the_database(api, clock):
    for category in ("garbage", "garbage", "garbage", "street_light"):
        api.report("grid1", category=category)
    clock.advance(days=30)
    api.tokens.clear()
    every = api.get("/tasks", "supervisor1", query_string={"scope": "overdue"})
    garbage = api.get("/tasks", "supervisor1", query_string={"scope": "overdue", "category": "garbage",
                                                             "per_page": 2, "page": 2})
    assert every["total"] == 4 and garbage["total"] == 3 and garbage["total_capped"] is False
    assert len(garbage["items"]) == 1 and garbage["items"][0]["category"] == "garbage"
    first = api.get("/tasks", "supervisor1", query_string={"scope": "overdue", "category": "garbage", "per_page": 2})
    assert {t["id"] for t in first["items"]}.isdisjoint({t["id"] for t in garbage["items"]})
