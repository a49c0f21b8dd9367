"""Rework that ends (rework.dmn, rework_limit of time_limits.dmn) and the callback's rules
(callback.dmn): scenarios through the REST API."""
from __future__ import annotations

from datetime import datetime, timedelta

from gridloop.engine import timers

from .conftest import RESOLVED

SECOND = timedelta(seconds=1)
FAILED = {"outcome": "failed", "note": "Still leaking"}


def _resolved_by_water(api, case_id: int) -> None:
    """The water department resolves the case; the grid that whistled verifies it."""
    if api.open_task(case_id)["stage"] == "grid_handling":
        api.step(case_id, "grid1", {"outcome": "whistle", "department": "water"})
    api.step(case_id, "liaison_water", RESOLVED, stage="department_handling")


def _events(case, kind):
    return [e["payload"] for e in case["history"] if e["type"] == kind]


def test_a_rework_has_its_own_shorter_limit_and_the_third_escalates(any_api, clock):
    api = any_api
    case = api.report("grid1", category="water_leak")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "water"})
    first = api.open_task(case["id"])
    assert datetime.fromisoformat(first["due_at"]) == clock.now() + timedelta(hours=24)  # handle_limit
    api.step(case["id"], "liaison_water", RESOLVED)
    api.step(case["id"], "grid1", FAILED, stage="verification")
    rework = api.open_task(case["id"])
    assert rework["stage"] == "department_handling"
    assert datetime.fromisoformat(rework["due_at"]) == clock.now() + timedelta(hours=12)  # rework_limit
    for _ in range(2):
        api.step(case["id"], "liaison_water", RESOLVED, stage="department_handling")
        api.step(case["id"], "grid1", FAILED, stage="verification")
    after = api.case(case["id"])
    assert (after["stage"], after["rework_count"], after["escalation_level"]) == ("consultation", 3, 1)
    assert _events(after, "escalated")[-1]["reason"] == "rework_cap"
    assert api.open_task(case["id"])["id"] in api.inbox_ids("community1")


def test_not_solved_sends_the_case_back_whatever_the_satisfaction(any_api):
    api = any_api
    case = api.report("grid1", category="water_leak")
    _resolved_by_water(api, case["id"])
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="verification")
    api.step(case["id"], "acceptor1", {"contacted": True, "resolved": False, "satisfaction": "satisfied"},
             stage="feedback")
    after = api.case(case["id"])
    assert (after["status"], after["stage"], after["rework_count"]) == ("open", "department_handling", 1)
    _resolved_by_water(api, case["id"])
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="verification")
    api.step(case["id"], "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "basically_satisfied"})
    assert api.case(case["id"])["status"] == "closed"


def test_an_unreachable_reporter_is_called_again_before_the_case_closes_without_feedback(any_api, clock):
    api = any_api
    world = api.client.application.extensions["gridloop"]
    case = api.report("grid1", category="water_leak")
    _resolved_by_water(api, case["id"])
    api.step(case["id"], "grid1", {"outcome": "passed"}, stage="verification")
    for _ in range(2):
        api.step(case["id"], "acceptor1", {"contacted": False}, stage="feedback")
        waiting = api.case(case["id"])
        assert (waiting["status"], waiting["stage"], waiting["open_tasks"]) == ("open", "callback_retry", [])
        clock.set(world.calendar.add(clock.now(), "1WD") + SECOND)  # callback_retry_after
        api.tokens.clear()
        assert timers.run_due(world) == 1
        assert api.open_task(case["id"])["stage"] == "feedback"
    api.step(case["id"], "acceptor1", {"contacted": False}, stage="feedback")  # the third attempt
    closed = api.case(case["id"])
    assert (closed["status"], closed["satisfaction"], closed["rework_count"]) == ("closed", "no_feedback", 0)
    assert len([e for e in closed["history"] if e["type"] == "task_completed"
                and e["payload"]["element"] == "feedback"]) == 3
