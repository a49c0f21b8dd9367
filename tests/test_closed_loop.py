"""Every path of the closed loop through the engine, as the demo users (no Flask)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from gridloop.engine import org
from gridloop.engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridloop.engine.model import Department
from gridloop.engine.runtime import Runtime

from .loop_driver import GRID1, LoopDriver

RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}


@pytest.fixture
def loop(runtime):
    return LoopDriver(runtime)


def test_straight_resolution_by_the_grid(loop):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    assert loop.case(case_id).stage == "grid_handling"  # a grid worker's own patrol report skips acceptance
    assert loop.claimable("grid2") == []  # another grid never sees it
    loop.step(case_id, "grid1", RESOLVED, stage="grid_handling")
    loop.close_after_resolution(case_id)
    case = loop.case(case_id)
    assert (case.status, case.stage, case.rework_count, case.return_count, case.escalation_level) == \
        ("closed", "closed", 0, 0, 0)
    assert case.satisfaction == "satisfied" and case.feedback_contacted is True
    assert case.dispatched_at and case.resolved_at and case.verified_at and case.closed_at
    events = loop.events(case_id)
    assert events[:2] == ["instance_started", "case_reported"]
    assert events.count("task_completed") == 3 and "instance_completed" in events
    assert "case_closed" in events
    assert loop.stage_path(case_id) == [("reported", "grid_handling"), ("grid_handling", "verification"),
                                        ("verification", "feedback"), ("feedback", "closed")]


def test_whistle_then_the_liaison_reports_in_and_resolves(loop):
    case_id = loop.report("acceptor1", category="power_outage", source="hotline")
    loop.step(case_id, "acceptor1", {"outcome": "accept"}, stage="acceptance")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"}, stage="grid_handling")
    task = loop.open_task(case_id)
    assert (task.stage, task.role, task.department) == ("department_handling", "dept_liaison", "power")
    assert task.id not in loop.claimable("liaison_gas")  # another department's liaison
    with pytest.raises(Forbidden):
        loop.rt.claim(loop.ids["liaison_gas"], task.id)
    loop.step(case_id, "liaison_power", RESOLVED, stage="department_handling")
    assert loop.case(case_id).claimed_at is not None
    loop.close_after_resolution(case_id, "basically_satisfied")
    case = loop.case(case_id)
    assert (case.status, case.department, case.satisfaction) == ("closed", "power", "basically_satisfied")
    assert "task_claimed" in loop.events(case_id)


def test_liaison_returns_a_case_that_is_not_hers(loop):
    case_id = loop.report("grid1", category="noise", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "gas"})
    loop.step(case_id, "liaison_gas", {"outcome": "return", "return_reason": "Not a gas matter: noise"},
              stage="department_handling")
    loop.step(case_id, "grid1", {"outcome": "approve"}, stage="return_approval")
    case = loop.case(case_id)
    assert (case.stage, case.return_count) == ("grid_handling", 1)
    assert "returned" in loop.events(case_id)
    loop.step(case_id, "grid1", RESOLVED, stage="grid_handling")
    loop.close_after_resolution(case_id)
    assert loop.case(case_id).status == "closed"


def test_escalation_community_street_district_city(loop):
    case_id = loop.report("grid1", category="illegal_construction", source="patrol")
    assert loop.claimable("street2") == []
    loop.step(case_id, "grid1", {"outcome": "escalate", "note": "hard case"})
    levels = []
    for username in ("community1", "street1", "district1"):
        task = loop.open_task(case_id)
        levels.append((loop.case(case_id).escalation_level, task.org_unit_code))
        assert task.id not in loop.claimable("street2")  # another street's coordinator
        loop.step(case_id, username, {"outcome": "escalate", "note": "beyond our level"}, stage="consultation")
    assert [lvl for lvl, _ in levels] == [1, 2, 3]
    assert [code for _, code in levels] == [GRID1[:11], GRID1[:9], GRID1[:6]]
    city_task = loop.open_task(case_id)
    assert city_task.org_unit_code == "2101" and loop.case(case_id).escalation_level == 4
    with pytest.raises(InvalidInput) as err:  # the city level cannot escalate further
        loop.rt.complete_task(loop.ids["city1"], city_task.id, {"outcome": "escalate"})
    assert "outcome" in err.value.fields
    loop.step(case_id, "city1", RESOLVED, stage="consultation")
    loop.close_after_resolution(case_id)
    case = loop.case(case_id)
    assert (case.status, case.escalation_level) == ("closed", 4)
    assert loop.events(case_id).count("escalated") == 4


def test_assign_from_consultation_goes_to_the_department(loop):
    case_id = loop.report("grid1", category="lift_fault", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "escalate"})
    loop.step(case_id, "community1", {"outcome": "assign", "department": "housing"}, stage="consultation")
    task = loop.open_task(case_id)
    assert (task.stage, task.department) == ("department_handling", "housing")
    loop.step(case_id, "liaison_housing", RESOLVED)
    loop.close_after_resolution(case_id)
    assert loop.case(case_id).status == "closed"


def test_failed_verification_sends_it_back_to_whoever_handled_it(loop):
    case_id = loop.report("grid1", category="water_leak", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "water"})
    loop.step(case_id, "liaison_water", RESOLVED)
    loop.step(case_id, "grid1", {"outcome": "failed", "note": "Still leaking"}, stage="verification")
    case = loop.case(case_id)
    assert (case.stage, case.rework_count) == ("department_handling", 1)
    assert loop.open_task(case_id).department == "water"
    loop.step(case_id, "liaison_water", RESOLVED)
    loop.close_after_resolution(case_id)
    case = loop.case(case_id)
    assert (case.status, case.rework_count) == ("closed", 1)
    assert loop.events(case_id).count("rework") == 1


def test_unsatisfied_feedback_means_rework_until_satisfied(loop):
    case_id = loop.report("acceptor1", category="garbage", source="resident")
    loop.step(case_id, "acceptor1", {"outcome": "accept"})
    loop.step(case_id, "grid1", RESOLVED)
    loop.step(case_id, "community1", {"outcome": "passed"})
    loop.step(case_id, "acceptor1", {"contacted": True, "resolved": False, "satisfaction": "unsatisfied",
                                     "comment": "Still there"}, stage="feedback")
    case = loop.case(case_id)
    assert (case.stage, case.status, case.rework_count) == ("grid_handling", "open", 1)
    loop.step(case_id, "grid1", RESOLVED)
    loop.close_after_resolution(case_id, "satisfied")
    case = loop.case(case_id)
    assert (case.status, case.rework_count, case.satisfaction) == ("closed", 1, "satisfied")


def test_rejected_at_acceptance_needs_a_reason(loop):
    case_id = loop.report("acceptor1", category="noise", source="qr")
    task = loop.open_task(case_id)
    with pytest.raises(InvalidInput) as err:
        loop.rt.complete_task(loop.ids["acceptor1"], task.id, {"outcome": "reject"})
    assert "reject_reason" in err.value.fields
    loop.step(case_id, "acceptor1", {"outcome": "reject", "reject_reason": "duplicate"}, stage="acceptance")
    case = loop.case(case_id)
    assert (case.status, case.stage) == ("rejected", "rejected") and case.closed_at is not None
    assert "case_rejected" in loop.events(case_id)


def test_invalid_form_data_names_every_bad_field(loop):
    case_id = loop.report()
    task = loop.open_task(case_id)
    with pytest.raises(InvalidInput) as err:
        loop.rt.complete_task(loop.ids["grid1"], task.id, {"outcome": "whistle", "colour": "red"})
    assert set(err.value.fields) >= {"department", "colour"}
    with pytest.raises(InvalidInput) as err:
        loop.rt.complete_task(loop.ids["grid1"], task.id, {"outcome": "maybe"})
    assert "outcome" in err.value.fields
    assert loop.open_task(case_id).id == task.id  # nothing moved


def test_double_completion_foreign_users_and_unknown_ids(loop):
    case_id = loop.report()
    task = loop.open_task(case_id)
    with pytest.raises(Forbidden):
        loop.rt.complete_task(loop.ids["grid2"], task.id, RESOLVED)
    with pytest.raises(Forbidden):
        loop.rt.claim(loop.ids["liaison_power"], task.id)
    loop.rt.claim(loop.ids["grid1"], task.id)
    with pytest.raises(Conflict, match="already claimed"):
        loop.rt.claim(loop.ids["grid1"], task.id)
    loop.rt.complete_task(loop.ids["grid1"], task.id, RESOLVED)
    with pytest.raises(Conflict, match="already completed"):
        loop.rt.complete_task(loop.ids["grid1"], task.id, RESOLVED)
    with pytest.raises(NotFound):
        loop.rt.claim(loop.ids["grid1"], "no-such-task")
    with pytest.raises(NotFound):
        loop.rt.complete_task(10**9, loop.open_task(case_id).id, {})
    with pytest.raises(InvalidInput):
        loop.report(grid="nowhere")
    with pytest.raises(InvalidInput) as err:
        loop.report(category="alien_landing")
    assert "category" in err.value.fields


def test_claimed_task_is_held_until_unclaimed(loop):
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    task = loop.open_task(case_id)
    with loop.rt.db.transaction() as s:
        power = s.scalars(select(Department).where(Department.code == "power")).one()
        other = org.add_user(s, "liaison_power2", "pw", ["dept_liaison"], org_unit=org.unit_by_code(s, "210102"),
                             department=power)
        s.flush()
        loop.ids["liaison_power2"] = other.id
    loop.rt.claim(loop.ids["liaison_power"], task.id)
    with pytest.raises(Conflict, match="claimed by liaison_power"):
        loop.rt.complete_task(loop.ids["liaison_power2"], task.id, RESOLVED)
    with pytest.raises(Forbidden):
        loop.rt.unclaim(loop.ids["liaison_power2"], task.id)
    loop.rt.unclaim(loop.ids["liaison_power"], task.id)
    loop.rt.complete_task(loop.ids["liaison_power2"], task.id, RESOLVED)  # claim and complete in one step
    assert loop.open_task(case_id).stage == "verification"


def test_a_fresh_engine_continues_a_half_way_case(db, clock, runtime):
    loop = LoopDriver(runtime)
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    loop.rt = Runtime(db, clock=clock)  # new process: empty spec cache, same database
    loop.step(case_id, "liaison_power", RESOLVED)
    loop.close_after_resolution(case_id)
    assert loop.case(case_id).status == "closed"


def test_tasks_carry_due_times_from_the_time_limits(loop):
    case_id = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    task = loop.open_task(case_id)
    assert task.due_at is not None and task.due_at > loop.rt.clock.now()
    normal = loop.open_task(loop.report("grid1", category="garbage", source="patrol"))
    assert normal.due_at > task.due_at  # an emergency is due sooner than a garbage heap
