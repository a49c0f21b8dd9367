"""Deadlines that act: SLA timers of the closed loop on the working calendar, the due-work
runner, and urging. Time is a FrozenClock moved by the tests; nothing sleeps."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from gridloop.engine import celery_app, incidents, org, supervision, timers
from gridloop.engine.clock import FrozenClock
from gridloop.engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridloop.engine.model import Event, ProcessInstance, Task
from gridloop.engine.worker import Worker, start_background
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer

from .conftest import MODELS
from .loop_driver import LoopDriver

SHENYANG = ZoneInfo("Asia/Shanghai")
RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}
SECOND = timedelta(seconds=1)


def local(*args) -> datetime:
    """A Shenyang wall-clock time, as the UTC instant the engine stores."""
    return datetime(*args, tzinfo=SHENYANG).astimezone(timezone.utc)


@pytest.fixture
def loop(runtime):
    return LoopDriver(runtime)


def run_at(loop: LoopDriver, when: datetime) -> int:
    """Move the clock and run one due-work pass; return how many instances it fired."""
    loop.rt.clock.set(when)
    return timers.run_due(loop.rt)


def timer_events(loop: LoopDriver, case_id: int, type_: str = "timer_fired") -> list[Event]:
    with loop.rt.db.reading() as s:
        return list(s.scalars(select(Event).where(Event.case_id == case_id, Event.type == type_).order_by(Event.id)))


def task_row(loop: LoopDriver, task_id: str) -> Task:
    with loop.rt.db.reading() as s:
        return s.get(Task, task_id)


def next_timer(loop: LoopDriver, case_id: int) -> datetime | None:
    with loop.rt.db.reading() as s:
        return s.scalar(select(ProcessInstance.next_timer_at).where(ProcessInstance.case_id == case_id))


# ------------------------------------------------------------------------------- the clock

def test_spiffworkflow_timers_read_the_engine_clock_only_inside_a_command():
    frozen = FrozenClock(datetime(2026, 2, 17, 4, 0, tzinfo=timezone.utc))
    with timers.engine_clock(frozen):
        assert spiff_timer.datetime.now(timezone.utc) == frozen.now()
        frozen.advance(minutes=5)
        assert spiff_timer.datetime.now(timezone.utc) == frozen.now()
    assert abs(spiff_timer.datetime.now(timezone.utc) - datetime.now(timezone.utc)) < timedelta(seconds=5)


@pytest.fixture
def user_id(runtime):
    """A user who starts the test models of tests/models/timers.bpmn (deployed)."""
    with open(os.path.join(MODELS, "timers.bpmn"), "rb") as fh:
        runtime.deploy(sources={"timers.bpmn": fh.read()})
    with runtime.db.transaction() as s:
        user = org.add_user(s, "alice", "pw", ["designer"])
        s.flush()
        return user.id


def test_intermediate_cycle_and_gateway_timers_count_from_the_engine_clock(runtime, clock, user_id):
    start = clock.now()
    pause = runtime.start_process(user_id, "timer_catch")
    cycle = runtime.start_process(user_id, "timer_cycle")
    gateway = runtime.start_process(user_id, "timer_gateway", {"ref": "a"})
    answered = runtime.start_process(user_id, "timer_gateway", {"ref": "b"})
    with runtime.db.reading() as s:
        due = dict(s.execute(select(ProcessInstance.id, ProcessInstance.next_timer_at)).all())
    assert due == {pause.id: start + timedelta(hours=2), cycle.id: start + timedelta(minutes=20),
                   gateway.id: start + timedelta(hours=1), answered.id: start + timedelta(hours=1)}
    assert runtime.send_message(None, "answer", {"ref": "b"}) == [answered.id]  # the answer beats the hour

    clock.set(start + timedelta(hours=2))
    assert timers.run_due(runtime) == 2  # the cycle (three 20-minute reminders, due < now) and the gateway
    clock.advance(seconds=1)
    assert timers.run_due(runtime) == 1  # the two-hour pause is due only once the clock is past it
    with runtime.db.reading() as s:
        fired = s.execute(select(Event.instance_id, Event.payload).where(Event.type == "timer_fired")
                          .order_by(Event.id)).all()
        after_pause = s.scalar(select(Task.element_id).where(Task.instance_id == pause.id, Task.status == "open"))
        chase = s.scalar(select(Task.element_id).where(Task.instance_id == gateway.id, Task.status == "open"))
        left = dict(s.execute(select(ProcessInstance.id, ProcessInstance.next_timer_at)).all())
    reminders = [p for iid, p in fired if iid == cycle.id]
    assert [p["due"] for p in reminders] == [(start + timedelta(minutes=m)).isoformat() for m in (20, 40, 60)]
    assert all(p["attached_to"] == "wait" and p["interrupting"] is False for p in reminders)
    assert [p["element"] for iid, p in fired if iid == pause.id] == ["pause"]
    assert [(p["element"], p["name"]) for iid, p in fired if iid == gateway.id] == [("answer_or_hour", "One hour")]
    assert not [p for iid, p in fired if iid == answered.id]
    assert after_pause == "after_pause" and chase == "chase"
    assert set(left.values()) == {None}  # the cycle is exhausted: nothing left to wake


def test_an_answer_after_the_gateways_hour_finds_the_reminder_came_first(runtime, clock, user_id):
    start = clock.now()
    early = runtime.start_process(user_id, "timer_gateway", {"ref": "x"})
    clock.set(start + timedelta(minutes=50))
    later = runtime.start_process(user_id, "timer_gateway", {"ref": "x"})
    clock.set(start + timedelta(minutes=65))  # the early one's hour has passed; no runner since
    assert runtime.send_message(None, "answer", {"ref": "x"}) == [later.id]  # the hour came first there
    with runtime.db.reading() as s:
        open_tasks = dict(s.execute(select(Task.instance_id, Task.element_id).where(Task.status == "open")).all())
        status = dict(s.execute(select(ProcessInstance.id, ProcessInstance.status)).all())
    assert open_tasks == {early.id: "chase"} and status == {early.id: "running", later.id: "completed"}
    clock.set(start + timedelta(minutes=70))
    with pytest.raises(NotFound):
        runtime.send_message(None, "answer", {"ref": "x"})


# ------------------------------------------------------------------------------- the closed loop

def test_report_in_limit_marks_an_unclaimed_department_task_overdue_once(loop, clock):
    start = clock.now()  # Monday 09:00
    unclaimed = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    claimed = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    for case_id in (unclaimed, claimed):
        loop.step(case_id, "grid1", {"outcome": "whistle", "department": "gas"})
    waiting, held = loop.open_task(unclaimed), loop.open_task(claimed)
    loop.rt.claim(loop.ids["liaison_gas"], held.id)
    assert waiting.due_at == start + timedelta(hours=2)  # emergencies count in plain hours
    assert next_timer(loop, unclaimed) == start + timedelta(minutes=30)  # the report-in limit comes first

    assert run_at(loop, start + timedelta(minutes=30) - SECOND) == 0
    assert run_at(loop, start + timedelta(minutes=30) + SECOND) == 2
    assert run_at(loop, start + timedelta(minutes=45)) == 0  # fired is fired: never again

    [event] = timer_events(loop, unclaimed)
    assert event.task_id == waiting.id
    assert event.payload == {"element": "timer_dept_claim", "name": "Report-in limit 报到时限",
                             "due": (start + timedelta(minutes=30)).isoformat(), "interrupting": False,
                             "attached_to": "department_handling", "marked_overdue": True}
    row = task_row(loop, waiting.id)
    assert (row.status, row.overdue_at) == ("open", start + timedelta(minutes=30) + SECOND)
    assert [e.task_id for e in timer_events(loop, unclaimed, "task_overdue")] == [waiting.id]
    with loop.rt.db.reading() as s:
        seen, _ = supervision.overdue_tasks(s, loop.actor("supervisor1"), clock.now())
    assert [t.id for t in seen] == [waiting.id]  # raised to the supervisor's view

    [event] = timer_events(loop, claimed)  # reported in on time: the timer fires, marks nothing
    assert event.payload["marked_overdue"] is False
    assert task_row(loop, held.id).overdue_at is None and timer_events(loop, claimed, "task_overdue") == []
    assert loop.case(unclaimed).stage == loop.case(claimed).stage == "department_handling"


def test_a_missed_emergency_climbs_to_the_district_then_level_by_level_to_the_city(loop, clock):
    start = clock.now()
    case_id = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "gas"})
    dept_task = loop.open_task(case_id)
    loop.rt.claim(loop.ids["liaison_gas"], dept_task.id)  # claimed, but then left to sit

    assert run_at(loop, start + timedelta(hours=2) + SECOND) == 1
    case = loop.case(case_id)
    # escalation.dmn: a department that let an emergency's limit pass goes straight to the district
    assert (case.stage, case.escalation_level, case.timeout_count) == ("consultation", 3, 1)
    assert task_row(loop, dept_task.id).status == "cancelled"
    events = loop.events(case_id)
    fired_at = len(events) - events[::-1].index("timer_fired") - 1
    assert events[fired_at:fired_at + 2] == ["timer_fired", "task_cancelled"] and "escalated" in events[fired_at:]

    levels = []
    for _ in range(1):  # district -> city: one consultation limit (PT1H)
        task = loop.open_task(case_id)
        levels.append(task.org_unit_code)
        assert run_at(loop, task.due_at + SECOND) == 1
    city = loop.open_task(case_id)
    case = loop.case(case_id)
    assert levels == ["210102"] and city.org_unit_code == "2101"
    assert (case.escalation_level, case.timeout_count) == (4, 2)
    assert loop.events(case_id).count("escalated") == 2
    assert loop.events(case_id).count("superior_notified") == 1  # the department's miss, not the district's

    assert run_at(loop, city.due_at + SECOND) == 1  # the city is the top: overdue, not escalated
    assert task_row(loop, city.id).overdue_at is not None and loop.open_task(case_id).id == city.id
    assert next_timer(loop, case_id) is None
    assert run_at(loop, city.due_at + timedelta(days=30)) == 0
    fired = [(e.payload["element"], e.payload["marked_overdue"]) for e in timer_events(loop, case_id)]
    assert fired == [("timer_dept_claim", False), ("timer_dept_handle", False),
                     ("timer_case_due_department_handling", False),  # the case's 2 h deadline too
                     ("timer_case_due_call_consultation", False),  # already past: fires at once, marks nothing new
                     ("timer_consult", False), ("timer_city_overdue", True)]
    assert loop.events(case_id).count("case_overdue") == 1


def test_limits_in_working_time_skip_the_weekend(loop):
    friday = local(2026, 3, 6, 16, 0)
    loop.rt.clock.set(friday)
    resident = loop.report("acceptor1", category="garbage", source="resident")
    patrol = loop.report("grid1", category="garbage", source="patrol")
    acceptance, grid_task = loop.open_task(resident), loop.open_task(patrol)
    monday_1130 = local(2026, 3, 9, 11, 30)  # 4 working hours: 16:00-17:30 Friday, 09:00-11:30 Monday
    next_friday = local(2026, 3, 13, 16, 0)  # 5 working days
    assert (acceptance.due_at, grid_task.due_at) == (monday_1130, next_friday)
    assert (next_timer(loop, resident), next_timer(loop, patrol)) == (monday_1130, next_friday)

    assert run_at(loop, local(2026, 3, 8, 23, 59)) == 0  # the weekend does not count
    assert run_at(loop, monday_1130 + SECOND) == 1
    assert task_row(loop, acceptance.id).overdue_at == monday_1130 + SECOND
    assert [e.payload["due"] for e in timer_events(loop, resident)] == [monday_1130.isoformat()]

    assert run_at(loop, next_friday - SECOND) == 0
    assert run_at(loop, next_friday + SECOND) == 1
    case = loop.case(patrol)
    assert (case.stage, case.escalation_level, case.timeout_count) == ("consultation", 1, 1)
    [event] = timer_events(loop, patrol)
    assert (event.task_id, event.payload["element"], event.payload["due"]) == \
        (grid_task.id, "timer_grid_handle", next_friday.isoformat())


def test_spring_festival_holidays_and_make_up_days(loop):
    loop.rt.clock.set(local(2026, 2, 18, 10, 0))  # 大年初二, in the 2026 Spring Festival holiday
    ordinary = loop.report("grid1", category="garbage", source="patrol")
    emergency = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    # 5 working days from the first working morning (Tue 24 Feb 09:00): 25, 26, 27, Saturday 28
    # (a make-up working day, 调休上班) and Monday 2 March.
    due = local(2026, 3, 2, 9, 0)
    assert loop.open_task(ordinary).due_at == next_timer(loop, ordinary) == due
    assert loop.open_task(emergency).due_at == next_timer(loop, emergency) == local(2026, 2, 18, 12, 0)

    assert run_at(loop, local(2026, 2, 18, 12, 0) + SECOND) == 1  # emergencies ignore holidays
    # escalation.dmn: an emergency skips the community
    assert loop.case(emergency).escalation_level == 2 and loop.case(ordinary).escalation_level == 0
    for when in (local(2026, 2, 27, 17, 0), due - SECOND):
        run_at(loop, when)
        assert loop.case(ordinary).stage == "grid_handling" and timer_events(loop, ordinary) == []
    run_at(loop, due + SECOND)
    assert loop.case(ordinary).stage == "consultation"
    assert [e.payload["due"] for e in timer_events(loop, ordinary)] == [due.isoformat()]


def test_no_feedback_within_the_limit_closes_the_case_as_no_feedback(loop, clock):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    loop.step(case_id, "grid1", RESOLVED)
    verification = loop.open_task(case_id)
    assert run_at(loop, verification.due_at + SECOND) == 1  # 1 working day: marked overdue, still open
    assert task_row(loop, verification.id).overdue_at is not None
    loop.step(case_id, "community1", {"outcome": "passed"}, stage="verification")
    feedback = loop.open_task(case_id)
    token = loop.case(case_id).feedback_token
    assert feedback.due_at == next_timer(loop, case_id)

    assert run_at(loop, feedback.due_at - SECOND) == 0
    assert run_at(loop, feedback.due_at + SECOND) == 1
    case = loop.case(case_id)
    assert (case.status, case.stage, case.satisfaction) == ("closed", "closed", "no_feedback")
    assert case.feedback_at is None and case.closed_at == feedback.due_at + SECOND
    assert task_row(loop, feedback.id).status == "cancelled"
    events = loop.events(case_id)
    assert {"case_closed", "instance_completed"} <= set(events[events.index("timer_fired"):])
    assert next_timer(loop, case_id) is None
    with pytest.raises(Conflict):
        loop.rt.submit_feedback(token, {"contacted": True, "resolved": True, "satisfaction": "satisfied"})


def test_a_limit_passed_before_any_runner_came_still_counts_when_the_task_is_done(loop, clock):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    loop.step(case_id, "grid1", RESOLVED)
    verification = loop.open_task(case_id)
    clock.set(verification.due_at + timedelta(minutes=10))  # no runner passed since the limit
    loop.step(case_id, "community1", {"outcome": "passed"}, stage="verification")
    row = task_row(loop, verification.id)
    assert (row.status, row.overdue_at) == ("completed", clock.now())  # done late, and known to be
    events = loop.events(case_id)
    assert events.index("timer_fired") < events.index("task_overdue") < len(events) - events[::-1].index("task_completed")


def test_a_report_in_after_its_limit_counts_late_though_no_runner_came(loop, clock):
    case_id = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "gas"})
    task = loop.open_task(case_id)
    clock.advance(minutes=45)  # the 30-minute report-in limit passed; no runner since
    loop.rt.claim(loop.ids["liaison_gas"], task.id)
    row = task_row(loop, task.id)
    assert (row.status, row.overdue_at) == ("claimed", clock.now())  # claimed, and late
    events = loop.events(case_id)
    assert events.index("task_overdue") < len(events) - events[::-1].index("task_claimed") - 1


def test_a_completion_after_an_escalating_limit_finds_the_case_moved_on(loop, clock):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    grid_task = loop.open_task(case_id)
    clock.set(grid_task.due_at + SECOND)
    with pytest.raises(Conflict, match="cancelled"):  # the limit came first: it escalated the case
        loop.rt.complete_task(loop.ids["grid1"], grid_task.id, RESOLVED)
    assert timers.run_due(loop.rt) == 1  # nothing of that command was kept; the runner does it
    assert task_row(loop, grid_task.id).status == "cancelled" and loop.case(case_id).timeout_count == 1


def test_work_done_in_time_cancels_its_timers(loop, clock):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    due = loop.open_task(case_id).due_at
    loop.step(case_id, "grid1", RESOLVED)
    assert next_timer(loop, case_id) == loop.open_task(case_id).due_at  # now the verification's limit
    loop.step(case_id, "community1", {"outcome": "passed"})
    loop.step(case_id, "acceptor1", {"contacted": True, "resolved": True, "satisfaction": "satisfied"})
    assert next_timer(loop, case_id) is None
    assert run_at(loop, due + timedelta(days=60)) == 0
    assert timer_events(loop, case_id) == [] and loop.case(case_id).satisfaction == "satisfied"


# ------------------------------------------------------------------------------- the runner

def test_a_timer_whose_branch_fails_is_postponed_and_recorded(runtime, clock, user_id):
    inst = runtime.start_process(user_id, "timer_broken")
    clock.advance(hours=1, seconds=1)
    assert timers.run_due(runtime) == 1  # tried once; the pass ends instead of spinning on it
    assert timers.run_due(runtime) == 0
    with runtime.db.reading() as s:
        row = s.get(ProcessInstance, inst.id)
        failures = s.scalar(select(func.count()).select_from(Event).where(Event.type == "timer_failed"))
        fired = s.scalar(select(func.count()).select_from(Event).where(Event.type == "timer_fired"))
        task = s.scalar(select(Task.status).where(Task.instance_id == inst.id))
    assert "missing_name" in row.error and row.next_timer_at == clock.now() + incidents.TIMER_RETRY_BASE
    assert (failures, fired, task, row.status) == (1, 0, "open", "running")  # nothing of the failed try kept
    clock.advance(minutes=6)
    assert timers.run_due(runtime) == 1
    with runtime.db.reading() as s:
        assert [i.attempts for i in incidents.incident_list(s, org.actor(s, user_id))[0]] == [2]


def test_a_timer_that_keeps_failing_backs_off_then_becomes_an_incident(runtime, clock, user_id):
    inst = runtime.start_process(user_id, "timer_broken")
    clock.advance(hours=1, seconds=1)
    waits = []
    for _ in range(incidents.MAX_TIMER_ATTEMPTS):
        assert timers.run_due(runtime) == 1
        with runtime.db.reading() as s:
            row = s.get(ProcessInstance, inst.id)
        if row.status == "running":
            waits.append(row.next_timer_at - clock.now())
            clock.set(row.next_timer_at + SECOND)
    assert waits == [incidents.TIMER_RETRY_BASE * 2 ** n for n in range(incidents.MAX_TIMER_ATTEMPTS - 1)]
    assert row.status == "incident"
    clock.advance(days=30)
    assert timers.run_due(runtime) == 0  # left to a person: no runner takes it again
    with runtime.db.reading() as s:
        listed, total = incidents.incident_list(s, org.actor(s, user_id))
    assert total == 1 and listed[0].kind == "timer" and listed[0].attempts == incidents.MAX_TIMER_ATTEMPTS
    assert "missing_name" in listed[0].message and listed[0].process_key == "timer_broken"


def test_background_worker_thread_fires_when_the_clock_passes_a_limit(loop, clock):
    case_id = loop.report("grid1", category="garbage", source="patrol")
    worker = start_background(loop.rt, interval=0.02)
    try:
        time.sleep(0.1)
        assert loop.case(case_id).stage == "grid_handling"
        clock.set(loop.open_task(case_id).due_at + SECOND)
        deadline = time.monotonic() + 10
        while worker.done < 1 and time.monotonic() < deadline:  # counted after the commit
            time.sleep(0.02)
    finally:
        worker.stop.set()
    assert loop.case(case_id).stage == "consultation" and worker.done == 1


def test_worker_once_returns_after_one_pass(loop, clock):
    cases = [loop.report("grid1", category="garbage", source="patrol") for _ in range(3)]
    clock.set(loop.open_task(cases[0]).due_at + SECOND)
    assert Worker(loop.rt).run(once=True) == 3
    assert Worker(loop.rt).run(once=True) == 0
    assert [loop.case(c).escalation_level for c in cases] == [1, 1, 1]


def test_gridloop_worker_once_on_sqlite(loop, db):
    """The CLI in its own process, on the real clock: cases reported on the fixture's date
    (March 2026) are long overdue now."""
    cases = [loop.report("grid1", category="garbage", source="patrol") for _ in range(3)]
    env = dict(os.environ, GRIDLOOP_DATABASE_URL=db.url)
    gridloop = os.path.join(os.path.dirname(sys.executable), "gridloop")
    done = subprocess.run([gridloop, "worker", "--once"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "fired timers of 3 instances" in done.stdout
    handling = [[e.payload["element"] for e in timer_events(loop, c)].count("timer_grid_handle") for c in cases]
    assert handling == [1, 1, 1]  # beside it, each case's own deadline (long past) fired too


def test_celery_tasks_run_a_pass_and_fire_one_instance(loop, clock, monkeypatch):
    monkeypatch.setattr(celery_app, "_runtime", loop.rt)
    monkeypatch.setitem(celery_app.app.conf, "task_always_eager", True)
    first, second = (loop.report("grid1", category="garbage", source="patrol") for _ in range(2))
    clock.set(loop.open_task(first).due_at + SECOND)
    with loop.rt.db.reading() as s:
        instance_id = s.scalar(select(ProcessInstance.id).where(ProcessInstance.case_id == first))
    assert celery_app.fire_instance.delay(instance_id).get() is True
    assert celery_app.fire_instance.delay(instance_id).get() is False  # no longer due
    assert celery_app.due_pass.delay().get() == 1
    assert [len(timer_events(loop, c)) for c in (first, second)] == [1, 1]


# ------------------------------------------------------------------------------- urging

@pytest.fixture
def supervisors(loop):
    with loop.rt.db.transaction() as s:
        for username, unit in (("sup_nanshi", "210102001"), ("sup_huashan", "210105001")):
            user = org.add_user(s, username, "pw", ["supervisor"], org_unit=org.unit_by_code(s, unit))
            s.flush()
            loop.ids[username] = user.id
    return loop


def test_a_supervisor_urges_an_open_task_of_her_area(supervisors, clock):
    loop = supervisors
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    task = loop.open_task(case_id)
    loop.rt.claim(loop.ids["liaison_power"], task.id)
    clock.advance(minutes=10)
    urged = loop.rt.urge(loop.ids["sup_nanshi"], task.id, "居民反映仍无电 please hurry")
    assert (urged.urge_count, urged.urged_at) == (1, clock.now())
    clock.advance(minutes=10)
    loop.rt.urge(loop.ids["supervisor1"], task.id)  # the city's supervisor covers every area
    row = task_row(loop, task.id)
    assert (row.urge_count, row.urged_at, row.status) == (2, clock.now(), "claimed")
    [first, second] = timer_events(loop, case_id, "task_urged")
    assert (first.actor_id, first.task_id) == (loop.ids["sup_nanshi"], task.id)
    assert first.payload["note"] == "居民反映仍无电 please hurry"
    assert first.payload["holder_id"] == loop.ids["liaison_power"] and second.payload["urge_count"] == 2


def test_urging_is_for_supervisors_of_the_area_and_open_tasks_only(supervisors):
    loop = supervisors
    case_id = loop.report("grid1", category="garbage", source="patrol")
    task = loop.open_task(case_id)
    with pytest.raises(Forbidden, match="outside your area"):
        loop.rt.urge(loop.ids["sup_huashan"], task.id)
    with pytest.raises(Forbidden, match="only supervisors"):
        loop.rt.urge(loop.ids["community1"], task.id)
    with pytest.raises(InvalidInput):
        loop.rt.urge(loop.ids["sup_nanshi"], task.id, "x" * 501)
    loop.step(case_id, "grid1", RESOLVED)
    with pytest.raises(Conflict):
        loop.rt.urge(loop.ids["sup_nanshi"], task.id)
    row = task_row(loop, task.id)
    assert (row.urge_count, row.urged_at) == (0, None) and "task_urged" not in loop.events(case_id)
