"""The engine is a general BPMN engine: any deployed process, versions, messages, signals,
and history that never grows the stored state."""
from __future__ import annotations

import json
import os

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridloop.engine import org, readmodel, timers
from gridloop.engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridloop.engine.model import Event, MessageWait, ProcessInstance, Task
from gridloop.engine.runtime import Runtime

from .conftest import MODELS


def _model(name: str) -> dict[str, bytes]:
    with open(os.path.join(MODELS, name), "rb") as fh:
        return {name: fh.read()}


@pytest.fixture
def users(runtime):
    with runtime.db.transaction() as s:
        alice = org.add_user(s, "alice", "pw", ["designer"])
        bob = org.add_user(s, "bob", "pw", ["designer"])
        s.flush()
        return alice.id, bob.id


def open_task(runtime, instance_id) -> Task | None:
    with runtime.db.reading() as s:
        return s.scalars(select(Task).where(Task.instance_id == instance_id, Task.status.in_(("open", "claimed")))).first()


def state_size(runtime, instance_id) -> int:
    with runtime.db.reading() as s:
        return len(s.get(ProcessInstance, instance_id).state)


def test_linear_process_runs_to_the_end_for_its_initiator(runtime, users):
    alice, bob = users
    runtime.deploy(sources=_model("peer_linear5.bpmn"))
    inst = runtime.start_process(alice, "Process_lin5", {"note": "x"})
    names = []
    for _ in range(5):
        task = open_task(runtime, inst.id)
        assert task.candidate_user_id == alice and task.role is None  # no lane: the initiator's
        with pytest.raises(Forbidden):
            runtime.complete_task(bob, task.id, {})
        names.append(task.name)
        runtime.complete_task(alice, task.id, {})
    assert names == [f"Step {i}" for i in range(1, 6)]
    with runtime.db.reading() as s:
        row = s.get(ProcessInstance, inst.id)
        assert row.status == "completed" and row.ended_at is not None
        types = [e.type for e in s.scalars(select(Event).where(Event.instance_id == inst.id).order_by(Event.id))]
    assert types[0] == "instance_started" and types[-1] == "instance_completed"
    assert types.count("task_completed") == 5


def test_parallel_branches_each_keep_their_task_until_done(runtime, users):
    alice, _bob = users
    runtime.deploy(sources=_model("parallel_review.bpmn"))
    started = runtime.start_process(alice, "parallel_review")
    assert sorted(t.element_id for t in started.open_tasks) == ["finance", "legal"]
    legal = next(t for t in started.open_tasks if t.element_id == "legal")
    runtime.claim(alice, next(t.id for t in started.open_tasks if t.element_id == "finance"))
    done = runtime.complete_task(alice, legal.id, {})
    [finance] = done.open_tasks  # the other branch's task, as it is: claimed, not re-created
    assert (finance.element_id, finance.status, finance.assignee_id) == ("finance", "claimed", alice)
    done = runtime.complete_task(alice, finance.id, {})
    assert [t.element_id for t in done.open_tasks] == ["sign"]
    with runtime.db.reading() as s:
        rows = s.execute(select(Task.element_id, Task.status).where(Task.instance_id == started.id)
                         .order_by(Task.created_at, Task.element_id)).all()
        events = [e for e in s.scalars(select(Event.type).where(Event.instance_id == started.id))]
    assert sorted(rows) == [("finance", "completed"), ("legal", "completed"), ("sign", "open")]
    assert "task_cancelled" not in events and events.count("task_created") == 3


def test_unknown_process_and_version_are_not_found(runtime, users):
    runtime.deploy(sources=_model("peer_linear5.bpmn"))
    with pytest.raises(NotFound):
        runtime.start_process(users[0], "nope")
    with pytest.raises(NotFound):
        runtime.start_process(users[0], "Process_lin5", version=7)


def test_deploy_versions_only_on_change_and_instances_keep_theirs(runtime, users):
    source = _model("peer_linear5.bpmn")
    first = runtime.deploy(sources=source)[0]
    again = runtime.deploy(sources=source)[0]
    assert (first.version, first.created) == (1, True)
    assert (again.version, again.created) == (1, False)
    old = runtime.start_process(users[0], "Process_lin5")
    changed = {"peer_linear5.bpmn": source["peer_linear5.bpmn"].replace(b'name="Step 1"', b'name="First step"')}
    second = runtime.deploy(sources=changed)[0]
    assert (second.version, second.created) == (2, True)
    new = runtime.start_process(users[0], "Process_lin5")
    assert open_task(runtime, old.id).name == "Step 1"
    assert open_task(runtime, new.id).name == "First step"
    pinned = runtime.start_process(users[0], "Process_lin5", version=1)
    assert open_task(runtime, pinned.id).name == "Step 1"


def test_a_thousand_loop_iterations_keep_the_state_small_and_restorable(db, clock, users):
    runtime = Runtime(db, clock=clock)
    runtime.deploy(sources=_model("loop1000.bpmn"))
    inst = runtime.start_process(users[0], "Process_loop1000")
    sizes = {}
    for i in range(1, 1001):
        if i == 400:  # a fresh engine on the same database continues the case
            runtime = Runtime(db, clock=clock)
        task = open_task(runtime, inst.id)
        assert task is not None, f"no open task at iteration {i}"
        runtime.complete_task(users[0], task.id, {"note": "n" * 50})
        if i in (10, 500, 999):
            sizes[i] = state_size(runtime, inst.id)
    with db.reading() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
        done = s.scalar(select(func.count()).select_from(Task).where(Task.instance_id == inst.id,
                                                                     Task.status == "completed"))
    assert done == 1000
    assert sizes[999] <= 2 * sizes[10], sizes
    assert sizes[500] <= 2 * sizes[10], sizes


def test_completing_twice_and_stale_tasks_conflict(runtime, users):
    runtime.deploy(sources=_model("peer_linear5.bpmn"))
    inst = runtime.start_process(users[0], "Process_lin5")
    task = open_task(runtime, inst.id)
    runtime.complete_task(users[0], task.id, {})
    with pytest.raises(Conflict, match="already completed"):
        runtime.complete_task(users[0], task.id, {})
    with pytest.raises(NotFound):
        runtime.complete_task(users[0], "00000000-0000-0000-0000-000000000000", {})
    with pytest.raises(InvalidInput):
        runtime.complete_task(users[0], open_task(runtime, inst.id).id, ["not", "an", "object"])


def test_message_reaches_only_the_correlated_instance(runtime, users):
    runtime.deploy(sources=_model("message_wait.bpmn"))
    a = runtime.start_process(users[0], "order_wait", {"order_no": "A-1"})
    b = runtime.start_process(users[0], "order_wait", {"order_no": "B-2"})
    with runtime.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(MessageWait)) == 4  # a message and a signal each
    with pytest.raises(NotFound):
        runtime.send_message(users[1], "order_confirmed", {"order_no": "C-3"}, {"ok": True})
    assert runtime.send_message(users[1], "order_confirmed", {"order_no": "B-2"}, {"ok": True}) == [b.id]
    task = open_task(runtime, b.id)
    assert task.name == "Review confirmation"
    assert open_task(runtime, a.id) is None
    with runtime.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(MessageWait).where(MessageWait.instance_id == b.id)) == 0
        received = s.scalars(select(Event).where(Event.instance_id == b.id, Event.type == "message_received")).one()
    assert received.payload["correlation"] == {"order_no": "B-2"} and received.actor_id == users[1]


def test_correlation_values_are_matched_by_the_database(any_db, clock):
    runtime = Runtime(any_db, clock=clock)
    runtime.deploy(sources=_model("message_wait.bpmn"))
    with any_db.transaction() as s:
        user = org.add_user(s, "sender", "pw", ["designer"])
        s.flush()
        uid = user.id
    started = {(no, batch, rush): runtime.start_process(uid, "order_wait", {"order_no": no, "batch": batch,
                                                                            "rush": rush}).id
               for no, batch, rush in [("A-1", 7, True), ("B-2", 7, False), ("C-3", 8, True), ("D-4", 7, True)]}
    assert runtime.send_message(uid, "order_confirmed", {"order_no": "B-2"}) == [started["B-2", 7, False]]
    assert runtime.send_message(uid, "order_confirmed", {"batch": 7, "rush": True}) == sorted(
        [started["A-1", 7, True], started["D-4", 7, True]])
    for unmatched in ({"batch": "8"}, {"order_no": {"nested": "C-3"}}, {"order_no": "A-1"}):  # A-1 got its message
        with pytest.raises(NotFound):
            runtime.send_message(uid, "order_confirmed", unmatched)
    with pytest.raises(InvalidInput, match="variable names"):
        runtime.send_message(uid, "order_confirmed", {"order no": "C-3"})
    assert runtime.send_message(uid, "order_confirmed", {"batch": 8.0}) == [started["C-3", 8, True]]


def test_senders_find_waiting_instances_through_the_correlation_index(pg_db, clock):
    """20,000 instances wait for the same message, each for its own order: the sender's query
    reads the one by the correlation index, not all of them."""
    runtime = Runtime(pg_db, clock=clock)
    runtime.deploy(sources=_model("message_wait.bpmn"))
    instance_id = runtime.start_process(None, "order_wait", {"order_no": "A-1"}).id
    with Session(pg_db.engine) as s, s.begin():
        s.execute(text("INSERT INTO message_wait (instance_id, name, kind, correlation) "
                       "SELECT :iid, 'order_confirmed', 'message', jsonb_build_object('order_no', 'N-' || n) "
                       "FROM generate_series(1, 20000) AS n"), {"iid": instance_id})
        s.execute(text("ANALYZE message_wait"))
        [condition] = readmodel.correlated(s, {"order_no": "N-77"})
        query = select(MessageWait.instance_id).where(MessageWait.name == "order_confirmed", condition)
        compiled = query.compile(s.get_bind())
        params = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in compiled.params.items()}
        plan = "\n".join(s.connection().exec_driver_sql("EXPLAIN " + str(compiled), params).scalars())
    assert "ix_message_wait_correlation" in plan, plan


def test_a_message_without_correlation_is_refused_not_broadcast(runtime, users):
    runtime.deploy(sources=_model("message_wait.bpmn"))
    ids = [runtime.start_process(users[0], "order_wait", {"order_no": n}).id for n in ("1", "2")]
    with pytest.raises(InvalidInput, match="correlation") as refused:
        runtime.send_message(users[0], "order_confirmed", {}, {})
    assert refused.value.fields == {"correlation": "must name at least one variable"}
    assert runtime.send_message(users[0], "order_confirmed", {}, {}, instance_id=ids[1]) == [ids[1]]
    assert open_task(runtime, ids[0]) is None and open_task(runtime, ids[1]).name == "Review confirmation"


def test_signal_reaches_every_waiting_instance(runtime, users):
    runtime.deploy(sources=_model("message_wait.bpmn"))
    ids = [runtime.start_process(users[0], "order_wait", {"order_no": n}).id for n in ("1", "2")]
    assert runtime.send_signal(users[0], "withdrawn") == ids
    with runtime.db.reading() as s:
        assert {s.get(ProcessInstance, i).status for i in ids} == {"completed"}
    with pytest.raises(NotFound):
        runtime.send_signal(users[0], "withdrawn")


def test_an_hourly_reminder_for_weeks_does_not_grow_the_state(runtime, clock, users):
    runtime.deploy(sources=_model("reminder_cycle.bpmn"))
    inst = runtime.start_process(users[0], "hourly_reminder")
    sizes = {}
    for hour in range(1, 301):  # 300 hourly reminders: twelve and a half days
        clock.advance(hours=1, seconds=1)
        assert timers.run_due(runtime) == 1, f"reminder {hour} did not fire"
        if hour in (10, 300):
            sizes[hour] = state_size(runtime, inst.id)
    assert sizes[300] <= 2 * sizes[10], sizes
    with runtime.db.reading() as s:
        fired = s.scalar(select(func.count()).select_from(Event).where(Event.instance_id == inst.id,
                                                                       Event.type == "timer_fired"))
        assert s.get(ProcessInstance, inst.id).next_timer_at > clock.now()  # still reminding
    assert fired == 300
    runtime.complete_task(users[0], open_task(runtime, inst.id).id, {})
    with runtime.db.reading() as s:
        assert s.get(ProcessInstance, inst.id).status == "completed"
