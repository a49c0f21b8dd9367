"""Messages and signals an instance throws to others: in the thrower's transaction, bounded."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from gridloop.engine import org
from gridloop.engine.errors import ProcessError
from gridloop.engine.model import Event, ProcessInstance

from .conftest import MODELS

HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
        'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">\n')


def _thrower(process_id: str, throw: str, start: str = "") -> bytes:
    """start (a message start if ``start`` names a message) -> an event throwing ``throw`` -> end."""
    start_def = f'<bpmn:messageEventDefinition id="{process_id}_sd" messageRef="{start}"/>' if start else ""
    return (HEAD + '<bpmn:message id="ping" name="ping"/><bpmn:signal id="withdrawn" name="withdrawn"/>\n'
            f'<bpmn:process id="{process_id}" isExecutable="true">'
            f'<bpmn:startEvent id="s"><bpmn:outgoing>f1</bpmn:outgoing>{start_def}</bpmn:startEvent>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/>'
            f'<bpmn:intermediateThrowEvent id="t"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>'
            f'{throw}</bpmn:intermediateThrowEvent><bpmn:sequenceFlow id="f2" sourceRef="t" targetRef="e"/>'
            '<bpmn:endEvent id="e"><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>'
            '</bpmn:process></bpmn:definitions>').encode()


@pytest.fixture
def user(runtime):
    with runtime.db.transaction() as s:
        u = org.add_user(s, "alice", "pw", ["designer"])
        s.flush()
        return u.id


def test_a_thrown_signal_reaches_every_waiting_instance_in_the_throwers_transaction(runtime, user):
    with open(os.path.join(MODELS, "message_wait.bpmn"), "rb") as fh:
        runtime.deploy(sources={"message_wait.bpmn": fh.read()})
    runtime.deploy(sources={"withdraw.bpmn": _thrower(
        "withdraw_all", '<bpmn:signalEventDefinition id="sd" signalRef="withdrawn"/>')})
    waiting = [runtime.start_process(user, "order_wait", {"order_no": n}).id for n in ("1", "2")]
    thrower = runtime.start_process(user, "withdraw_all").id
    with runtime.db.reading() as s:
        status = dict(s.execute(select(ProcessInstance.id, ProcessInstance.status)).all())
        sent = s.scalars(select(Event.payload).where(Event.type == "signal_sent")).one()
        received = s.execute(select(Event.instance_id, Event.payload).where(Event.type == "signal_received")).all()
    assert {status[i] for i in [*waiting, thrower]} == {"completed"}
    assert (sent["to"], sent["started"]) == (waiting, [])
    assert sorted(i for i, _p in received) == waiting and {p["from"] for _i, p in received} == {thrower}


def test_processes_that_keep_messaging_each_other_fail_and_store_nothing(runtime, user):
    """Each echo starts with "ping" and throws "ping" as it ends: a new echo, forever."""
    runtime.deploy(sources={"echo.bpmn": _thrower(
        "echo", '<bpmn:messageEventDefinition id="md" messageRef="ping"/>', start="ping")})
    with pytest.raises(ProcessError, match="keep answering"):
        runtime.send_message(None, "ping", {}, {})
    with runtime.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(ProcessInstance)) == 0
