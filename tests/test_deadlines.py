"""The case's deadline moves only by an approved extension (engine/deadlines.py), on
tests/models/deadline_extension.bpmn: a 24 h deadline, an approval in a parallel branch whose
script calls ``extend_due``. Time is a FrozenClock moved by the tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gridloop.engine import timers
from gridloop.engine.errors import InvalidInput, ProcessError
from gridloop.engine.model import Case, Event, ProcessInstance, Task

from .loop_driver import frozen_loop

START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def loop(any_db):
    return frozen_loop(any_db, START, "deadline_extension.bpmn")


def report(loop) -> int:
    return loop.rt.report_case(loop.ids["grid1"], {
        "title": "Lift stuck", "category": "lift_fault", "source": "patrol", "grid": "21010200101001"},
        key="deadline_extension").id


def test_a_report_naming_no_process_needs_the_one_case_process(loop):
    """The engine has no default process: with closed_loop and deadline_extension deployed, a
    report must say which."""
    with pytest.raises(InvalidInput, match=r"several case processes are deployed \(closed_loop, deadline_extension\)"):
        loop.report()
    with pytest.raises(InvalidInput, match="several case processes"):
        loop.rt.categories()
    assert loop.case(report(loop)).status == "open"


def task(loop, case_id: int, element: str) -> Task:
    with loop.rt.db.reading() as s:
        return s.scalars(select(Task).where(Task.case_id == case_id, Task.element_id == element,
                                            Task.status.in_(("open", "claimed")))).one()


def state(loop, case_id: int) -> tuple[Case, datetime | None, list[Event]]:
    with loop.rt.db.reading() as s:
        case = s.get(Case, case_id)
        next_timer = s.scalar(select(ProcessInstance.next_timer_at).where(ProcessInstance.case_id == case_id))
        events = list(s.scalars(select(Event).where(Event.case_id == case_id, Event.type == "due_extended")))
        return case, next_timer, events


def approve(loop, case_id: int, extension: str, reason: str = "parts on order", until: str = ""):
    """Approve an extension by ``extension`` from the deadline, or else until ``until``."""
    return loop.rt.complete_task(loop.ids["grid1"], task(loop, case_id, "approve").id,
                                 {"extension": extension, "until": until, "reason": reason})


def test_an_approved_extension_moves_the_deadline_its_timer_and_counts(loop):
    case_id = report(loop)
    case, next_timer, _ = state(loop, case_id)
    assert case.due_at == START + timedelta(hours=24) == next_timer and case.extension_count == 0

    loop.rt.clock.set(START + timedelta(hours=2))
    approve(loop, case_id, "PT48H")
    case, next_timer, events = state(loop, case_id)
    new_due = START + timedelta(hours=72)
    assert case.due_at == new_due and case.extension_count == 1
    assert next_timer == new_due  # the waiting case-deadline timer was re-armed
    [event] = events
    assert event.actor_id == loop.ids["grid1"]
    assert event.payload == {"from": (START + timedelta(hours=24)).isoformat(), "to": new_due.isoformat(),
                             "extension_count": 1, "note": "parts on order", "timers_rearmed": 1}

    loop.rt.clock.set(START + timedelta(hours=25))  # the old deadline: nothing happens
    timers.run_due(loop.rt)
    assert state(loop, case_id)[0].overdue_at is None
    loop.rt.clock.set(new_due + timedelta(minutes=1))  # the new one marks the case overdue
    timers.run_due(loop.rt)
    assert state(loop, case_id)[0].overdue_at == new_due + timedelta(minutes=1)


def test_an_extension_after_the_deadline_unmarks_the_case_until_the_new_one(loop):
    case_id = report(loop)
    loop.rt.clock.set(START + timedelta(hours=30))
    timers.run_due(loop.rt)
    assert state(loop, case_id)[0].overdue_at is not None
    approve(loop, case_id, "PT24H")
    case, _, _ = state(loop, case_id)
    assert case.overdue_at is None and case.due_at == START + timedelta(hours=48)


def test_a_deadline_that_does_not_move_later_is_refused_and_nothing_changes(loop):
    case_id = report(loop)
    handle = task(loop, case_id, "handle")
    with pytest.raises(ProcessError, match="not later than the case's deadline"):
        approve(loop, case_id, "", until=(START + timedelta(hours=23)).isoformat())
    case, next_timer, events = state(loop, case_id)
    assert case.due_at == START + timedelta(hours=24) == next_timer and case.extension_count == 0 and not events
    assert task(loop, case_id, "approve").status == "open" and task(loop, case_id, "handle").id == handle.id


def test_a_script_setting_due_at_does_not_move_the_case_deadline(loop):
    """A parallel branch carries an older due_at: the variable counts only the first time."""
    case_id = report(loop)
    approve(loop, case_id, "PT24H")
    loop.rt.complete_task(loop.ids["grid1"], task(loop, case_id, "handle").id, {"due_at": START.isoformat()})
    case, _, _ = state(loop, case_id)
    assert case.status == "closed" and case.due_at == START + timedelta(hours=48) and case.extension_count == 1


def test_extend_due_wants_a_time_with_a_zone(loop):
    case_id = report(loop)
    with pytest.raises(ProcessError, match="ISO 8601 time with a zone"):
        approve(loop, case_id, "", until="2026-03-05 10:00")
    assert state(loop, case_id)[0].extension_count == 0
