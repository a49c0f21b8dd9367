"""Incidents: a script over its budget or a process that stalls is recorded, listed and
retryable; it never hangs silently and never stalls anything else."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select

from gridloop.engine import incidents, org, timers
from gridloop.engine.budget import Limits
from gridloop.engine.errors import Conflict, Forbidden, IncidentOpened
from gridloop.engine.model import Event, ProcessInstance, Task
from gridloop.engine.runtime import Runtime

from .conftest import MODELS

SMALL = Limits(cpu_seconds=2.0, memory_bytes=16 * 2**20, steps=20_000)


def _deploy(runtime: Runtime, *names: str) -> None:
    sources = {}
    for name in names:
        with open(os.path.join(MODELS, name), "rb") as fh:
            sources[name] = fh.read()
    runtime.deploy(sources=sources)


@pytest.fixture
def people(runtime):
    runtime.script_engine.environment.limits = SMALL
    _deploy(runtime, "hostile_script.bpmn", "deadlock.bpmn")
    with runtime.db.transaction() as s:
        users = {name: org.add_user(s, name, "pw", roles) for name, roles in
                 (("designer", ["designer"]), ("super", ["supervisor"]), ("worker", ["grid_worker"]))}
        s.flush()
        return {name: user.id for name, user in users.items()}


def _instance(runtime, instance_id):
    with runtime.db.reading() as s:
        return s.get(ProcessInstance, instance_id)


def _incidents(runtime, user_id, **filters):
    with runtime.db.reading() as s:
        return incidents.incident_list(s, org.actor(s, user_id), **filters)[0]


def test_a_script_over_its_step_budget_makes_the_start_an_incident(runtime, people):
    with pytest.raises(IncidentOpened) as raised:
        runtime.start_process(people["designer"], "hostile_start", {"n": 10**9})
    assert raised.value.element == "spin" and "over budget" in raised.value.message
    inst = _instance(runtime, raised.value.instance_id)
    assert inst.status == "incident" and inst.next_timer_at is None
    [incident] = _incidents(runtime, people["designer"])
    assert (incident.kind, incident.element, incident.instance_id) == ("budget", "spin", inst.id)
    assert "20,000 steps" in incident.message
    # The service goes on: the same process with sane data runs to its user task.
    fine = runtime.start_process(people["designer"], "hostile_start", {"n": 3})
    assert fine.status == "running" and [t.element_id for t in fine.open_tasks] == ["check"]


def test_a_script_that_catches_the_budget_still_fails(runtime, people):
    runtime.deploy(sources={"catch.bpmn": open(os.path.join(MODELS, "hostile_script.bpmn"), "rb").read()
                   .replace(b"while n &gt; 0:\n    n = n - 1", b"try:\n    while True:\n        pass\n"
                            b"except BaseException:\n    pass")})
    with pytest.raises(IncidentOpened):
        runtime.start_process(people["designer"], "hostile_start", {"n": 1})


def test_retry_after_the_budget_is_raised_resolves_the_incident(runtime, people):
    with pytest.raises(IncidentOpened) as raised:
        runtime.start_process(people["designer"], "hostile_start", {"n": 50_000})
    [incident] = _incidents(runtime, people["designer"])
    with pytest.raises(IncidentOpened):  # nothing fixed yet: fails again, counted
        runtime.retry_incident(people["designer"], incident.id)
    assert _incidents(runtime, people["designer"])[0].attempts == 2
    runtime.script_engine.environment.limits = Limits()  # the fix: a budget that fits
    retried = runtime.retry_incident(people["designer"], incident.id)
    assert retried.status == "resolved" and retried.resolved_at is not None
    inst = _instance(runtime, raised.value.instance_id)
    assert inst.status == "running"
    with runtime.db.reading() as s:
        task = s.scalar(select(Task).where(Task.instance_id == inst.id))
        types = list(s.scalars(select(Event.type).where(Event.instance_id == inst.id).order_by(Event.id)))
    assert task.element_id == "check" and task.status == "open"
    assert types.count("incident_opened") == 2 and types[-1] == "incident_resolved" and "incident_retried" in types
    with pytest.raises(Conflict):
        runtime.retry_incident(people["designer"], incident.id)


def test_a_timer_branch_over_budget_is_not_retried_by_the_runner(runtime, clock, people):
    started = runtime.start_process(people["designer"], "hostile_timer")
    clock.advance(hours=1, seconds=1)
    assert timers.run_due(runtime) == 1
    assert _instance(runtime, started.id).status == "incident"
    clock.advance(days=1)
    assert timers.run_due(runtime) == 0  # after a restart too: the runner skips incidents
    [incident] = _incidents(runtime, people["super"])  # caseless: every supervisor sees it
    assert incident.element == "t_blow" and "100,000" in incident.message


def test_a_process_that_stalls_is_an_incident_not_a_silent_hang(runtime, people):
    started = runtime.start_process(people["designer"], "deadlock", {"path": "a"})
    [task] = started.open_tasks
    runtime.complete_task(people["designer"], task.id, {})  # the completion itself is fine
    inst = _instance(runtime, started.id)
    assert inst.status == "incident"
    [incident] = _incidents(runtime, people["designer"], kind="stuck")
    assert incident.element == "both" and "can no longer arrive" in incident.message


def test_only_designers_and_supervisors_see_and_retry_incidents(runtime, people):
    with pytest.raises(IncidentOpened):
        runtime.start_process(people["designer"], "hostile_start", {"n": 10**9})
    incident_id = _incidents(runtime, people["designer"])[0].id
    with runtime.db.reading() as s, pytest.raises(Forbidden):
        incidents.incident_list(s, org.actor(s, people["worker"]))
    with pytest.raises(Forbidden):
        runtime.retry_incident(people["worker"], incident_id)
    assert _incidents(runtime, people["designer"], status="resolved") == []


def test_a_hostile_script_does_not_stall_other_commands(any_db, clock, tmp_path):
    """While one start spins to the end of its budget, another instance is started and worked
    on; both commands end, the hostile one as an incident."""
    runtime = Runtime(any_db, clock=clock)
    runtime.script_engine.environment.limits = Limits(cpu_seconds=0.5, steps=10**9)
    _deploy(runtime, "hostile_script.bpmn")
    with runtime.db.transaction() as s:
        user = org.add_user(s, "designer", "pw", ["designer"])
        s.flush()
        user_id = user.id
    outcome = {}

    def hostile():
        try:
            runtime.start_process(user_id, "hostile_start", {"n": 10**12})
        except IncidentOpened as exc:
            outcome["hostile"] = exc.instance_id

    thread = threading.Thread(target=hostile)
    thread.start()
    fine = runtime.start_process(user_id, "hostile_start", {"n": 2})
    runtime.complete_task(user_id, fine.open_tasks[0].id, {})
    thread.join(timeout=60)
    assert not thread.is_alive() and "hostile" in outcome
    assert _instance(runtime, fine.id).status == "completed"
    with runtime.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)
                        .where(ProcessInstance.status == "incident")) == 1


def test_a_decision_cell_over_budget_is_an_incident_too(runtime, people):
    _deploy(runtime, "hostile_decision.bpmn", "hostile_decision.dmn")
    assert runtime.start_process(people["designer"], "hostile_decide", {"n": 10}).status == "completed"
    with pytest.raises(IncidentOpened) as raised:
        runtime.start_process(people["designer"], "hostile_decide", {"n": 10**12})
    assert raised.value.element == "decide"
    assert _instance(runtime, raised.value.instance_id).status == "incident"
