"""An approved extension moves every timer that enforces the task's limit, also those on the
call activity that called the task's process (tests/models/called_limit.bpmn: the handling
limit is a timer on the call activity). Time is a FrozenClock moved by the test."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from gridloop.engine import timers
from gridloop.engine.model import Event, Task

from .loop_driver import frozen_loop

START = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def loop(any_db):
    return frozen_loop(any_db, START, "called_limit.bpmn")


def _open(loop, case_id: int) -> list[Task]:
    with loop.rt.db.reading() as s:
        return list(s.scalars(select(Task).where(Task.case_id == case_id, Task.status.in_(("open", "claimed")))
                              .order_by(Task.created_at)))


def _run_at(loop, when: datetime) -> None:
    loop.rt.clock.set(when)
    timers.run_due(loop.rt)


def test_an_extension_moves_the_limit_on_the_call_activity(loop):
    case_id = loop.rt.report_case(loop.ids["grid1"], {
        "title": "Lift stuck", "category": "lift_fault", "source": "patrol", "grid": "21010200101001"},
        key="called_limit").id
    [handle] = _open(loop, case_id)
    assert handle.element_id == "handle" and handle.due_at == START + timedelta(hours=24)
    until = START + timedelta(days=3)
    loop.rt.request_exception(loop.ids["grid1"], case_id, {"kind": "extension", "task_id": handle.id,
                                                           "until": until.isoformat(), "reason": "Parts"})
    [approval] = [t for t in _open(loop, case_id) if t.element_id == "approve_exception"]
    loop.rt.complete_task(loop.ids["community1"], approval.id, {"outcome": "approve"})
    with loop.rt.db.reading() as s:
        [moved] = s.scalars(select(Event.payload).where(Event.case_id == case_id, Event.type == "task_extended"))
    assert moved["timers_moved"] == 1
    _run_at(loop, START + timedelta(hours=25))  # the old limit passes: nothing fires
    assert [(t.element_id, t.due_at) for t in _open(loop, case_id)] == [("handle", until)]
    _run_at(loop, until + timedelta(minutes=1))  # the new one does
    assert [t.element_id for t in _open(loop, case_id)] == ["timed_out"]
    with loop.rt.db.reading() as s:
        assert s.get(Task, handle.id).status == "cancelled"
