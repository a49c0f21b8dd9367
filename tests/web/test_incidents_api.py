"""Incidents over the REST API: a hostile start answers 422 naming the element, the incident
is listed for designers and supervisors, and a retry after a fix moves the instance on."""
from __future__ import annotations

import os

import pytest

from gridloop.engine.budget import Limits

from ..conftest import MODELS


@pytest.fixture
def hostile(world):
    world.script_engine.environment.limits = Limits(steps=20_000)
    with open(os.path.join(MODELS, "hostile_script.bpmn"), "rb") as fh:
        world.deploy(sources={"hostile_script.bpmn": fh.read()})
    return world


def test_a_start_over_budget_answers_422_and_is_listed(api, hostile):
    body = api.post("/process-instances", "designer1", json={"key": "hostile_start", "data": {"n": 10**9}},
                    status=422)
    assert body["error"]["code"] == "incident" and "'spin'" in body["error"]["message"]
    listed = api.get("/incidents", "designer1")
    assert listed["total"] == 1
    [incident] = listed["items"]
    assert (incident["kind"], incident["element"], incident["process_key"]) == ("budget", "spin", "hostile_start")
    assert api.get(f"/incidents/{incident['id']}", "supervisor1")["id"] == incident["id"]
    instance = api.get(f"/process-instances/{incident['instance_id']}", "designer1")
    assert instance["status"] == "incident"
    assert [i["id"] for i in api.get("/process-instances", "designer1",
                                     query_string={"status": "incident"})["items"]] == [incident["instance_id"]]
    # everyone else is still served
    assert api.get("/tasks/counts", "grid1")


def test_incidents_are_for_designers_and_supervisors(api, hostile):
    api.post("/process-instances", "designer1", json={"key": "hostile_start", "data": {"n": 10**9}}, status=422)
    incident_id = api.get("/incidents", "designer1")["items"][0]["id"]
    for user in ("grid1", "liaison_power", "acceptor1"):
        assert api.get("/incidents", user, status=403)["error"]["code"] == "forbidden"
        api.get(f"/incidents/{incident_id}", user, status=403)
        api.post(f"/incidents/{incident_id}/retry", user, status=403)
    api.get("/incidents/999999", "designer1", status=404)
    assert api.get("/incidents", "designer1", query_string={"kind": "nonsense"}, status=400)["error"]["fields"]


def test_retry_after_a_fix(api, hostile):
    api.post("/process-instances", "designer1", json={"key": "hostile_start", "data": {"n": 50_000}}, status=422)
    incident = api.get("/incidents", "designer1")["items"][0]
    again = api.post(f"/incidents/{incident['id']}/retry", "designer1", status=422)
    assert again["error"]["code"] == "incident"
    hostile.script_engine.environment.limits = Limits()
    done = api.post(f"/incidents/{incident['id']}/retry", "supervisor1")
    assert done["status"] == "resolved" and done["attempts"] == 2
    instance = api.get(f"/process-instances/{incident['instance_id']}", "designer1")
    assert instance["status"] == "running" and [t["element_id"] for t in instance["open_tasks"]] == ["check"]
    assert api.get("/incidents", "designer1")["total"] == 0
    assert api.get("/incidents", "designer1", query_string={"status": "resolved"})["total"] == 1
    api.post(f"/incidents/{incident['id']}/retry", "designer1", status=409)


def test_the_incidents_page_lists_and_retries(api, hostile, as_user):
    api.post("/process-instances", "designer1", json={"key": "hostile_start", "data": {"n": 50_000}}, status=422)
    incident_id = api.get("/incidents", "designer1")["items"][0]["id"]
    supervisor = as_user("supervisor1")
    page = supervisor.get("/incidents").get_data(True)
    assert "hostile_start" in page and "脚本超出资源限额" in page and f"/incidents/{incident_id}/retry" in page
    failed = supervisor.post(f"/incidents/{incident_id}/retry", follow_redirects=True, status=200).get_data(True)
    assert "重试仍然失败" in failed
    hostile.script_engine.environment.limits = Limits()
    done = supervisor.post(f"/incidents/{incident_id}/retry", follow_redirects=True, status=200).get_data(True)
    assert f"异常 {incident_id} 已解决" in done and "没有流程异常" in done
    assert as_user("grid1").get("/incidents", status=403)
    assert "流程异常" not in as_user("grid1").get("/inbox/mine").get_data(True)
