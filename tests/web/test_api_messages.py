"""Messages and signals through the REST API: BPMN correlation keys, messages thrown from one
instance to another, message start events, and who may send what. On SQLite and, where
configured, PostgreSQL (delivery locks the receiving instances; correlation is matched by the
database)."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from gridloop.engine.model import MessageWait
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo

from ..conftest import MODELS

COMMUNITY = "21010200101"  # community1's community (民主社区)


@pytest.fixture
def world(any_db, clock):
    """The demo organisation and workflows, plus the message test models, on either database."""
    runtime = Runtime(any_db, clock=clock)
    runtime.deploy()
    with any_db.transaction() as s:
        seed_demo(s)
    for name in ("payment_correlation.bpmn", "order_relay.bpmn", "complaint_start.bpmn"):
        with open(os.path.join(MODELS, name), "rb") as fh:
            runtime.deploy(sources={name: fh.read()})
    return runtime


def start(api, user: str, key: str, data: dict | None = None) -> int:
    return api.post("/process-instances", user, json={"key": key, "data": data or {}}, status=201)["id"]


def instance(api, instance_id: int) -> dict:
    return api.get(f"/process-instances/{instance_id}", "designer1")


def history(api, instance_id: int, type_: str) -> list[dict]:
    return [e["payload"] for e in instance(api, instance_id)["history"] if e["type"] == type_]


def open_names(api, instance_id: int) -> list[str]:
    return [t["name"] for t in instance(api, instance_id)["open_tasks"]]


def test_a_payload_reaches_the_instance_whose_correlation_key_it_carries(api, world):
    a = start(api, "designer1", "payment_wait", {"order_id": "A-1"})
    b = start(api, "designer1", "payment_wait", {"order_id": "B-2"})
    with world.db.reading() as s:
        waits = dict(s.execute(select(MessageWait.instance_id, MessageWait.correlation)
                               .where(MessageWait.kind == "message")).all())
    assert waits[a]["@keys"] == {"order": {"order_ref": "A-1"}}  # what the database matches senders with

    payment = {"reference": "B-2", "amount": 12}
    assert api.post("/messages", "designer1", json={"name": "payment_received", "payload": payment}) == {
        "instances": [b], "started": []}
    assert open_names(api, b) == ["Check the payment"] and open_names(api, a) == []
    [received] = history(api, b, "message_received")
    assert received["keys"] == {"order": {"order_ref": "B-2"}} and received["payload"] == payment

    api.post("/messages", "designer1", json={"name": "payment_received", "payload": {"reference": "B-2"}},
             status=404)  # B-2 has its payment
    api.post("/messages", "designer1", json={"name": "payment_received", "payload": {"reference": "Z-9"}},
             status=404)
    error = api.post("/messages", "designer1", json={"name": "payment_received", "payload": {"amount": 3}},
                     status=400)["error"]  # nothing says which instance it is for
    assert error["code"] == "validation_error" and "correlation" in error["fields"]
    assert api.post("/messages", "designer1", json={"name": "payment_received", "correlation": {"order_id": "A-1"},
                                                    "payload": {"reference": "A-1"}})["instances"] == [a]


def test_an_instance_waiting_only_for_its_own_key_is_reached_by_id(api, world):
    a = start(api, "designer1", "payment_wait", {"order_id": "A-1"})
    start(api, "designer1", "payment_wait", {"order_id": "A-1"})
    api.post("/messages", "designer1", json={"name": "payment_received", "instance_id": a,
                                             "payload": {"reference": "Z-9"}}, status=404)
    assert api.post("/messages", "designer1", json={"name": "payment_received", "instance_id": a,
                                                    "payload": {"reference": "A-1"}})["instances"] == [a]


def test_a_thrown_message_reaches_the_waiting_instance_it_correlates_with(api, world):
    a = start(api, "designer1", "order_tracking", {"order_id": "A-1"})
    b = start(api, "designer1", "order_tracking", {"order_id": "B-2"})
    dispatch = start(api, "designer1", "order_dispatch", {"order_id": "B-2", "note": "fragile"})
    [approve] = instance(api, dispatch)["open_tasks"]
    api.post(f"/tasks/{approve['id']}/complete", "designer1", json={"data": {}})

    assert instance(api, dispatch)["status"] == "completed"
    assert open_names(api, b) == ["Ship the order"] and open_names(api, a) == []
    [sent] = history(api, dispatch, "message_sent")
    assert (sent["name"], sent["to"], sent["started"]) == ("order_approved", [b], [])
    assert sent["correlation"] == {"order": {"order_ref": "B-2"}}
    [received] = history(api, b, "message_received")
    assert received["from"] == dispatch and received["payload"] == {"order_id": "B-2", "note": "fragile"}
    assert history(api, a, "message_received") == []

    nobody = start(api, "designer1", "order_dispatch", {"order_id": "C-3", "note": ""})
    [approve] = instance(api, nobody)["open_tasks"]
    api.post(f"/tasks/{approve['id']}/complete", "designer1", json={"data": {}})  # nobody waits: not an error
    assert instance(api, nobody)["status"] == "completed"
    assert [(p["to"], p["started"]) for p in history(api, nobody, "message_sent")] == [([], [])]


def test_a_message_start_event_starts_its_process(api, world):
    body = {"name": "complaint_filed", "payload": {"text": "Noise at night"}}
    for user in ("grid1", "designer1"):  # the start event's senders: acceptors
        assert api.post("/messages", user, json=body, status=403)["error"]["code"] == "forbidden"
    sent = api.post("/messages", "acceptor1", json=body)
    assert sent["instances"] == sent["started"] and len(sent["started"]) == 1
    intake = instance(api, sent["started"][0])
    assert intake["key"] == "complaint_intake" and [t["name"] for t in intake["open_tasks"]] == ["Triage the complaint"]
    assert api.inbox_ids("acceptor1") == [intake["open_tasks"][0]["id"]]  # lane-less: the sender started it
    assert history(api, intake["id"], "message_received")[0]["payload"] == {"text": "Noise at night"}

    form = start(api, "grid1", "complaint_form")  # thrown by an instance (the engine sends it): allowed
    [write] = instance(api, form)["open_tasks"]
    api.post(f"/tasks/{write['id']}/complete", "grid1", json={"data": {"text": "Broken lamp"}})
    [sent] = history(api, form, "message_sent")
    [started] = sent["started"]
    assert sent["to"] == [] and history(api, started, "message_received")[0]["from"] == form
    assert instance(api, started)["key"] == "complaint_intake"


def test_who_may_send_a_message_to_a_party_service_order(api, world):
    order = start(api, "community1", "party_service_order", {"community": COMMUNITY, "order_no": "DQ-7"})
    api.post(f"/tasks/{instance(api, order)['open_tasks'][0]['id']}/complete", "community1", json={"data": {
        "service_type": "cleanup", "title": "Clean the yard", "needed_by": "2026-03-20"}})
    api.post(f"/tasks/{instance(api, order)['open_tasks'][0]['id']}/complete", "party1", json={"data": {
        "branch_name": "机关党支部", "planned_date": "2026-03-15"}})
    confirm = {"name": "order_confirmed", "correlation": {"order_no": "DQ-7"}, "payload": {"ok": True}}

    api.post("/messages", "community1", json={"name": "order_confirmed", "correlation": {}}, status=400)  # not all
    for user in ("grid1", "party1", "designer1"):  # only community coordinators may confirm
        assert api.post("/messages", user, json=confirm, status=403)["error"]["code"] == "forbidden"
    assert instance(api, order)["status"] == "running"
    assert api.post("/messages", "community1", json=confirm)["instances"] == [order]
    assert instance(api, order)["status"] == "completed"


def test_who_may_send_a_signal(api, world):
    a = start(api, "designer1", "payment_wait", {"order_id": "A-1"})
    for user in ("grid1", "designer1"):  # the boundary signal's senders: supervisors
        assert api.post("/signals", user, json={"name": "payments_halted"}, status=403)["error"]["code"] == "forbidden"
    assert instance(api, a)["status"] == "running"
    assert api.post("/signals", "supervisor1", json={"name": "payments_halted"}) == {"instances": [a], "started": []}
    assert instance(api, a)["status"] == "completed"
    api.post("/signals", "grid1", json={"name": "nobody_listens"}, status=404)
