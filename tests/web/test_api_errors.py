"""The API's error paths: 401 without a token, 403 outside one's area, 400 naming each bad field
(engine validation, marshmallow and malformed JSON alike), 404, 409 and 422."""
from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import select, update

from gridloop.engine import org
from gridloop.engine.model import Department, User
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo
from gridloop.web import create_app

from ..conftest import MODELS
from .conftest import GRID2, RESOLVED, Api, make_app, report_body

PROTECTED = [("GET", "/me"), ("GET", "/categories"), ("GET", "/cases"), ("POST", "/cases"), ("GET", "/cases/1"),
             ("GET", "/tasks"), ("GET", "/tasks/x"), ("POST", "/tasks/x/claim"), ("POST", "/tasks/x/unclaim"),
             ("POST", "/tasks/x/complete"), ("POST", "/tasks/x/urge"), ("POST", "/process-instances"), ("GET", "/process-instances/1"),
             ("POST", "/messages"), ("POST", "/signals"), ("GET", "/groups"), ("POST", "/groups"),
             ("PUT", "/groups/x/members/y"), ("DELETE", "/groups/x/members/y")]

FAILING_SCRIPT = b"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="Defs_fail" targetNamespace="t">
  <bpmn:process id="fails_after_input" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="ask" />
    <bpmn:userTask id="ask" name="Give a divisor"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:sequenceFlow id="f2" sourceRef="ask" targetRef="divide" />
    <bpmn:scriptTask id="divide" name="Divide"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>share = 100 / divisor</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f3" sourceRef="divide" targetRef="end" />
    <bpmn:endEvent id="end"><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
  </bpmn:process>
</bpmn:definitions>"""


def _model(name: str) -> dict[str, bytes]:
    with open(os.path.join(MODELS, name), "rb") as fh:
        return {name: fh.read()}


@pytest.mark.parametrize("method,path", PROTECTED)
def test_every_endpoint_but_token_feedback_and_spec_needs_a_token(api, method, path):
    missing = api.call(method, path, status=401)
    assert missing["error"]["code"] == "unauthorized"
    forged = api.call(method, path, headers={"Authorization": "Bearer not-a-token"}, status=401)
    assert forged["error"]["message"] == "invalid or expired token"


def test_public_endpoints_and_the_openapi_document(api):
    spec = api.get("/openapi.json")
    assert spec["openapi"].startswith("3.") and "/api/v1/tasks/{task_id}/complete" in spec["paths"]
    assert spec["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["delete"]  # signing out needs the token
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert api.get("/feedback/nope", status=404)["error"]["code"] == "not_found"
    assert api.post("/auth/token", json={"username": "grid1", "password": "wrong"}, status=401)["error"]["code"] == "unauthorized"
    assert api.post("/auth/token", json={"username": "nobody", "password": "demo"}, status=401)
    assert api.client.get("/api/v1/tasks", headers={"Authorization": "Basic Z3JpZDE6ZGVtbw=="}).status_code == 401


def test_expired_token_is_refused(api, world, clock):
    api.get("/me", "grid1")  # resolved and remembered by this process
    clock.advance(days=8)
    api.get("/me", "grid1", status=401)


def test_a_revoked_token_stops_working_at_once(api):
    api.get("/me", "grid1")  # resolved and remembered
    token = api.token("grid1")
    assert api.call("DELETE", "/auth/token", "grid1", status=204) is None
    api.get("/me", "grid1", status=401)
    api.call("DELETE", "/auth/token", "grid1", status=401)
    api.tokens.clear()
    assert api.token("grid1") != token and api.get("/me", "grid1")["username"] == "grid1"  # signs in anew


def test_a_burst_of_requests_resolves_the_token_once(api, monkeypatch):
    lookups = []
    original = org.actor_for_token
    monkeypatch.setattr(org, "actor_for_token", lambda *a: lookups.append(1) or original(*a))
    for _ in range(5):
        api.get("/me", "grid1")
    assert len(lookups) == 1


@pytest.mark.parametrize("seconds, status", [(5.0, 200), (0, 401)])
def test_a_deactivated_users_token_works_at_most_the_cache_time(world, seconds, status):
    api = Api(create_app({"TESTING": True, "RUNTIME": world, "SECRET_KEY": "k", "API_TOKEN_CACHE_SECONDS": seconds}
                         ).test_client())
    api.get("/me", "grid1")
    with world.db.transaction() as s:
        s.execute(update(User).where(User.username == "grid1").values(active=False))
    api.get("/me", "grid1", status=status)


@pytest.mark.parametrize("path", ["/auth/token", "/cases", "/tasks/x/complete", "/tasks/x/urge", "/process-instances", "/messages",
                                  "/signals", "/feedback/x"])
def test_malformed_json_is_400_on_every_endpoint_with_a_body(api, path):
    bad = api.call("POST", path, "grid1", data="{not json", headers={"Content-Type": "application/json"}, status=400)
    assert bad["error"]["code"] == "validation_error" and bad["error"]["fields"] == {"body": "not valid JSON"}


def test_schema_errors_are_400_naming_each_field(api):
    missing = api.post("/cases", "grid1", json={"description": "no title"}, status=400)["error"]
    assert missing["code"] == "validation_error"
    assert set(missing["fields"]) == {"title", "category", "source", "grid"}
    wrong_types = api.post("/cases", "grid1", json=report_body(reporter={"phone": 13800000000}, colour="red"),
                           status=400)["error"]["fields"]
    assert set(wrong_types) == {"reporter.phone", "colour"}
    assert api.post("/auth/token", json=["grid1", "demo"], status=400)["error"]["fields"] == {"body": "Invalid input type."}
    assert "page" in api.get("/tasks", "grid1", query_string={"page": 0}, status=400)["error"]["fields"]
    assert "per_page" in api.get("/cases", "grid1", query_string={"per_page": 1000}, status=400)["error"]["fields"]
    assert "scope" in api.get("/tasks", "grid1", query_string={"scope": "everything"}, status=400)["error"]["fields"]
    assert api.post("/messages", "grid1", json={"payload": {}}, status=400)["error"]["fields"] == {
        "name": "Missing data for required field."}


def test_engine_validation_names_the_fields_and_areas_are_enforced(api):
    fields = api.post("/cases", "grid1", json=report_body(category="alien_landing", source="hotline", reporter={}),
                      status=400)["error"]["fields"]
    assert set(fields) >= {"category", "reporter.phone"}  # hotline reports need the reporter's phone
    assert "grid" in api.post("/cases", "grid1", json=report_body(grid="nowhere"), status=400)["error"]["fields"]
    assert api.post("/cases", "grid1", json=report_body(grid=GRID2), status=403)["error"]["code"] == "forbidden"
    case = api.report("grid1")
    api.get(f"/cases/{case['id']}", "grid2", status=403)
    api.get(f"/cases/{case['id']}", "street2", status=403)  # another street
    task = api.open_task(case["id"])
    incomplete = api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": {"outcome": "whistle", "x": 1}},
                          status=400)["error"]
    assert set(incomplete["fields"]) == {"department", "x"}
    assert api.post(f"/tasks/{task['id']}/complete", "grid1", json={"data": ["resolved"]}, status=400)
    assert api.open_task(case["id"])["id"] == task["id"]  # nothing moved


def test_unknown_ids_are_404(api):
    for method, path in [("GET", "/cases/999999"), ("GET", "/tasks/nope"), ("POST", "/tasks/nope/claim"),
                         ("POST", "/tasks/nope/unclaim"), ("GET", "/process-instances/999999")]:
        assert api.call(method, path, "supervisor1", status=404)["error"]["code"] == "not_found"
    assert api.post("/tasks/nope/complete", "grid1", json={"data": {}}, status=404)
    assert api.post("/feedback/nope", json={"contacted": False}, status=404)
    assert api.get("/no-such-endpoint", "grid1", status=404)["error"]["code"] == "not_found"
    assert api.call("DELETE", "/cases", "grid1", status=405)["error"]["code"] == "method_not_allowed"


def test_claims_completions_and_unclaims_that_conflict(api, world):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    assert api.post(f"/tasks/{task_id}/unclaim", "grid1", status=409)["error"]["message"] == "task is not claimed"
    api.post(f"/tasks/{task_id}/claim", "grid1")
    assert "already claimed" in api.post(f"/tasks/{task_id}/claim", "grid1", status=409)["error"]["message"]
    api.post(f"/tasks/{task_id}/claim", "community1", status=403)  # a coordinator is not a grid worker
    assert api.post(f"/tasks/{task_id}/unclaim", "grid2", status=403)["error"]["code"] == "forbidden"
    unclaimed = api.post(f"/tasks/{task_id}/unclaim", "supervisor1")  # a supervisor of the area may
    assert (unclaimed["assignee"], unclaimed["form_name"]) == (None, "grid_handle.json")
    api.post(f"/tasks/{task_id}/claim", "grid1")
    api.post(f"/tasks/{task_id}/complete", "grid1", json={"data": RESOLVED})
    again = api.post(f"/tasks/{task_id}/complete", "grid1", json={"data": RESOLVED}, status=409)["error"]
    assert again == {"code": "conflict", "reason": "task_completed", "message": "task already completed"}
    assert api.get(f"/tasks/{task_id}", "grid1")["status"] == "completed"  # its completer may still read it

    api.step(case["id"], "community1", {"outcome": "failed", "note": "Not done"})
    rework = api.open_task(case["id"])
    api.post(f"/tasks/{rework['id']}/claim", "grid1")
    with world.db.transaction() as s:  # a second grid worker on grid 1
        org.add_user(s, "grid1b", "demo", ["grid_worker"], org_unit=org.unit_by_code(s, case["grid"]))
    held = api.post(f"/tasks/{rework['id']}/complete", "grid1b", json={"data": RESOLVED}, status=409)["error"]
    assert held["message"] == "task is claimed by grid1"


def test_the_holder_of_a_claimed_task_is_named_only_to_those_who_may_see_it(api):
    case = api.report("grid1")
    task_id = api.open_task(case["id"])["id"]
    api.post(f"/tasks/{task_id}/claim", "grid1")
    for outsider in ("grid2", "liaison_power", "street2", "acceptor1"):
        for action, body in (("complete", {"data": RESOLVED}), ("claim", None)):
            error = api.post(f"/tasks/{task_id}/{action}", outsider, json=body, status=403)["error"]
            assert error["code"] == "forbidden" and "grid1" not in error["message"], (outsider, action)
    held = api.post(f"/tasks/{task_id}/complete", "supervisor1", json={"data": RESOLVED}, status=409)["error"]
    assert held["message"] == "task is claimed by grid1"  # a supervisor of the area sees the task


def test_a_failing_script_is_422_and_nothing_is_saved(api, world):
    world.deploy(sources={"fails.bpmn": FAILING_SCRIPT})
    started = api.post("/process-instances", "designer1", json={"key": "fails_after_input"}, status=201)
    task = started["open_tasks"][0]
    error = api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"divisor": 0}}, status=422)["error"]
    assert error["code"] == "process_error" and "division by zero" in error["message"]
    assert api.get(f"/process-instances/{started['id']}", "designer1")["open_tasks"][0]["id"] == task["id"]
    api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"divisor": 4}})
    assert api.get(f"/process-instances/{started['id']}", "designer1")["status"] == "completed"


def test_a_script_result_json_cannot_hold_is_422_naming_the_element_and_nothing_is_saved(any_world):
    api = Api(make_app(any_world).test_client())
    any_world.deploy(sources={"ranged.bpmn": FAILING_SCRIPT.replace(b"share = 100 / divisor", b"share = range(divisor)")})
    started = api.post("/process-instances", "designer1", json={"key": "fails_after_input"}, status=201)
    task = started["open_tasks"][0]
    error = api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"divisor": 3}}, status=422)["error"]
    assert error == {"code": "process_error", "reason": "process_error", "message": "element 'divide' left 'share' as a range, which cannot be "
                                                         "stored: process data holds JSON values only"}
    instance = api.get(f"/process-instances/{started['id']}", "designer1")
    assert [t["id"] for t in instance["open_tasks"]] == [task["id"]] and instance["status"] == "running"
    assert "task_completed" not in [e["type"] for e in instance["history"]]
    assert api.get(f"/tasks/{task['id']}", "designer1")["status"] == "open"


def test_process_instances_messages_and_signals(api, world):
    world.deploy(sources=_model("message_wait.bpmn"))
    assert api.post("/process-instances", "designer1", json={"key": "nope"}, status=404)
    assert api.post("/process-instances", "designer1", json={"key": "order_wait", "version": 9}, status=404)
    assert api.post("/process-instances", "designer1", json={"key": "closed_loop"}, status=400)  # report a case instead
    a = api.post("/process-instances", "designer1", json={"key": "order_wait", "data": {"order_no": "A-1"}}, status=201)
    b = api.post("/process-instances", "designer1", json={"key": "order_wait", "data": {"order_no": "B-2"}}, status=201)
    assert (a["key"], a["version"], a["status"], a["open_tasks"]) == ("order_wait", 1, "running", [])
    assert "history" not in a  # the answer to a start is lean; the history is at its Location
    assert api.last.headers["Location"] == f"/api/v1/process-instances/{b['id']}"
    assert api.get(f"/process-instances/{a['id']}", "designer1")["history"][0]["type"] == "instance_started"
    api.get(f"/process-instances/{a['id']}", "grid2", status=403)  # not hers
    listed = api.get("/process-instances", "designer1", query_string={"key": "order_wait", "per_page": 1})
    assert ([i["id"] for i in listed["items"]], listed["total"], listed["total_capped"]) == ([b["id"]], 2, False)
    assert api.get("/process-instances", "grid2", query_string={"key": "order_wait"})["total"] == 0  # none hers
    assert api.get("/process-instances", "designer1", query_string={"status": "stuck"}, status=400)

    assert api.post("/messages", "designer1", json={"name": "order_confirmed", "correlation": {"order_no": "C-3"}},
                    status=404)["error"]["code"] == "not_found"
    reached = api.post("/messages", "designer1", json={"name": "order_confirmed", "correlation": {"order_no": "B-2"},
                                                       "payload": {"ok": True}})
    assert reached == {"instances": [b["id"]], "started": []}
    review = api.get(f"/process-instances/{b['id']}", "designer1")["open_tasks"]
    assert [t["name"] for t in review] == ["Review confirmation"]
    assert api.inbox_ids("designer1") == [review[0]["id"]]  # a lane-less task is its initiator's

    assert api.post("/signals", "designer1", json={"name": "withdrawn"}) == {"instances": [a["id"]], "started": []}
    assert api.get(f"/process-instances/{a['id']}", "designer1")["status"] == "completed"
    done = api.get("/process-instances", "designer1", query_string={"key": "order_wait", "status": "completed"})
    assert [i["id"] for i in done["items"]] == [a["id"]] and done["items"][0]["ended_at"]
    assert api.post("/signals", "designer1", json={"name": "withdrawn"}, status=404)


def test_twenty_concurrent_claims_one_wins(pg_db, clock):
    """Twenty power liaisons report in for the same whistle at once, each through its own client."""
    runtime = Runtime(pg_db, clock=clock)
    runtime.deploy()
    with runtime.db.transaction() as s:
        seed_demo(s)
        district = org.unit_by_code(s, "210102")
        power = s.scalars(select(Department).where(Department.code == "power")).one()
        for n in range(2, 21):
            org.add_user(s, f"liaison_power{n}", "demo", ["dept_liaison"], org_unit=district, department=power)
    app = make_app(runtime)
    api = Api(app.test_client())
    case = api.report("grid1", category="power_outage")
    api.step(case["id"], "grid1", {"outcome": "whistle", "department": "power"})
    task_id = api.open_task(case["id"])["id"]
    racers = ["liaison_power"] + [f"liaison_power{n}" for n in range(2, 21)]
    tokens = {user: api.token(user) for user in racers}
    start, statuses = threading.Barrier(len(racers)), {}

    def claim(user):
        client = app.test_client()
        start.wait()
        statuses[user] = client.post(f"/api/v1/tasks/{task_id}/claim",
                                     headers={"Authorization": f"Bearer {tokens[user]}"}).status_code

    threads = [threading.Thread(target=claim, args=(user,)) for user in racers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses.values()) == [200] + [409] * 19
    winner = next(user for user, status in statuses.items() if status == 200)
    assert api.get(f"/tasks/{task_id}", winner)["assignee"] == winner
