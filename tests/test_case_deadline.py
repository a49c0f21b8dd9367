"""The whole case's deadline (due_at from time_limits.dmn) in closed_loop.bpmn: past it, the
case is marked overdue and escalates once (escalation.dmn, case_timeout); a later hand-down
(交办) or escalation keeps only the stage limits; an approved extension moves the timer.

A power outage (normal urgency) reported by the hotline: accept within 1 h, grid handling
24 h, consultation 8 h, the whole case 24 h. Left at acceptance for 20 h, it reaches grid
handling 4 h before its deadline, so the deadline (not the 24 h handling limit) fires first.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from gridloop.engine import deadlines, records, timers
from gridloop.engine.model import Event

from .loop_driver import LoopDriver

SECOND = timedelta(seconds=1)


@pytest.fixture
def loop(runtime):
    return LoopDriver(runtime)


def run_at(loop: LoopDriver, when: datetime) -> int:
    loop.rt.clock.set(when)
    return timers.run_due(loop.rt)


def payloads(loop: LoopDriver, case_id: int, kind: str) -> list[dict]:
    with loop.rt.db.reading() as s:
        return list(s.scalars(select(Event.payload).where(Event.case_id == case_id, Event.type == kind)
                              .order_by(Event.id)))


def in_grid_handling_before_the_deadline(loop: LoopDriver, clock) -> tuple[int, datetime]:
    start = clock.now()
    case_id = loop.report("acceptor1", category="power_outage", source="hotline")
    due = loop.case(case_id).due_at
    assert due == start + timedelta(hours=24)
    clock.set(start + timedelta(hours=20))
    loop.step(case_id, "acceptor1", {"outcome": "accept"}, stage="acceptance")
    assert loop.open_task(case_id).stage == "grid_handling"
    return case_id, due


def extend(loop: LoopDriver, case_id: int, until: datetime) -> None:
    """What an approved extension does (its process script calls ``extend_due``): one command
    moving the case's deadline through engine/deadlines.py."""
    rt = loop.rt
    with rt.command() as cmd:
        inst = records.lock_instance(cmd.session, loop.open_task(case_id).instance_id)
        loaded = cmd.loaded(inst)
        wf = cmd.restore(inst, loaded)
        deadlines.apply(cmd, inst, wf, cmd.case(case_id), [{"until": until, "note": "parts on order"}],
                        loop.ids["supervisor1"], rt.clock.now())
        cmd.advance(inst, loaded, wf, loop.ids["supervisor1"])


def test_the_deadline_marks_and_escalates_the_case_once(loop, clock):
    case_id, due = in_grid_handling_before_the_deadline(loop, clock)
    grid_task = loop.open_task(case_id)
    assert run_at(loop, due - SECOND) == 0 and loop.case(case_id).overdue_at is None

    assert run_at(loop, due + SECOND) == 1
    case = loop.case(case_id)
    assert case.overdue_at == due + SECOND  # marked
    assert (case.stage, case.escalation_level, case.timeout_count) == ("consultation", 1, 0)  # one level up
    consult = loop.open_task(case_id)
    assert consult.org_unit_code == "21010200101" and consult.id != grid_task.id
    assert [p["reason"] for p in payloads(loop, case_id, "escalated")] == ["case_timeout"]
    assert len(payloads(loop, case_id, "case_overdue")) == 1
    with loop.rt.db.reading() as s:  # notified: the overdue mark and the escalation go to the outbox
        kinds = {k for (k,) in s.execute(select(Event.type).where(Event.case_id == case_id))}
    assert {"case_overdue", "escalated"} <= kinds

    # The consultation's own case timer is past at once: it neither marks nor escalates again.
    assert run_at(loop, due + timedelta(hours=1)) == 0
    assert loop.open_task(case_id).id == consult.id and loop.case(case_id).escalation_level == 1


def test_a_hand_down_after_the_deadline_keeps_only_the_stage_limits(loop, clock):
    case_id, due = in_grid_handling_before_the_deadline(loop, clock)
    run_at(loop, due + SECOND)
    clock.set(due + timedelta(hours=1))
    loop.step(case_id, "community1", {"outcome": "hand_down", "hand_down_to": "grid"})
    case = loop.case(case_id)
    assert (case.stage, case.escalation_level) == ("grid_handling", 0)  # no second escalation
    handed = loop.open_task(case_id)
    assert handed.due_at == due + timedelta(hours=25)  # the grid's own 24 h handling limit

    assert run_at(loop, due + timedelta(hours=2)) == 0
    assert loop.open_task(case_id).id == handed.id
    assert run_at(loop, handed.due_at + SECOND) == 1  # that limit escalates as it always does
    assert [p["reason"] for p in payloads(loop, case_id, "escalated")] == ["case_timeout", "grid_timeout"]
    assert len(payloads(loop, case_id, "case_overdue")) == 1


def test_an_escalation_past_the_deadline_is_the_deadline_s_one(loop, clock):
    """Escalated by hand after the deadline passed at acceptance: the case deadline adds no
    second climb when the consultation hands the case down to the grid."""
    start = clock.now()
    case_id = loop.report("acceptor1", category="power_outage", source="hotline")
    run_at(loop, start + timedelta(hours=25))  # at acceptance: marked only
    case = loop.case(case_id)
    assert (case.stage, case.escalation_level) == ("acceptance", 0) and case.overdue_at is not None
    loop.step(case_id, "acceptor1", {"outcome": "accept"})
    # Grid handling entered past the deadline: the deadline escalates it now, once.
    case = loop.case(case_id)
    assert (case.stage, case.escalation_level) == ("consultation", 1)
    loop.step(case_id, "community1", {"outcome": "hand_down", "hand_down_to": "grid"})
    assert loop.case(case_id).stage == "grid_handling"
    assert [p["reason"] for p in payloads(loop, case_id, "escalated")] == ["case_timeout"]


def test_an_extension_moves_the_deadline_timer(loop, clock):
    case_id, due = in_grid_handling_before_the_deadline(loop, clock)
    new_due = due + timedelta(hours=12)
    extend(loop, case_id, new_due)
    assert loop.case(case_id).due_at == new_due
    assert run_at(loop, due + SECOND) == 0  # the old deadline passes unnoticed
    case = loop.case(case_id)
    assert (case.stage, case.overdue_at) == ("grid_handling", None)
    assert run_at(loop, new_due + SECOND) == 1  # the new one marks and escalates
    case = loop.case(case_id)
    assert (case.stage, case.escalation_level, case.overdue_at) == ("consultation", 1, new_due + SECOND)
    assert [p["reason"] for p in payloads(loop, case_id, "escalated")] == ["case_timeout"]

