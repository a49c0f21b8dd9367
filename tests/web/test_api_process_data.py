"""Generic processes through the REST API: loops that compaction must not break, the process
data an instance holds and the data each task started with."""
from __future__ import annotations

import os

import pytest

from gridloop.engine import org
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo
from tests.conftest import MODELS

from .conftest import Api, make_app

COMMUNITY = "21010200101"


def _sources(*names: str) -> dict[str, bytes]:
    sources = {}
    for name in names:
        with open(os.path.join(MODELS, name), "rb") as fh:
            sources[name] = fh.read()
    return sources


@pytest.fixture
def api_on(any_db, clock):
    """The API over SQLite and, where configured, PostgreSQL, with our test models deployed."""
    runtime = Runtime(any_db, clock=clock)
    runtime.deploy()
    runtime.deploy(sources=_sources("loop_into_parallel_merge.bpmn", "multi_review.bpmn"))
    with runtime.db.transaction() as s:
        seed_demo(s)
        org.add_user(s, "supervisor_huashan", "demo", ["supervisor"], org_unit=org.unit_by_code(s, "210105001"))
    return Api(make_app(runtime).test_client())


def test_a_loop_into_a_parallel_merge_runs_to_its_end_with_its_data(api_on):
    api = api_on
    started = api.post("/process-instances", "designer1", json={"key": "loop_into_parallel_merge"}, status=201)
    url = f"/process-instances/{started['id']}/variables"
    assert api.get(url, "designer1") == {"id": started["id"], "status": "running",
                                          "variables": {"rounds": 1, "since": "2026-03-02"}}
    [task] = started["open_tasks"]
    for rounds, note in ((1, "first"), (2, "second")):
        assert task["element_id"] == "review"
        assert api.get(f"/tasks/{task['id']}", "designer1")["input"] == {
            "rounds": rounds, "since": "2026-03-02", **({"note": "first"} if rounds == 2 else {})}
        done = api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"note": note}})
        task = done["next_tasks"][0] if done["next_tasks"] else None
        if task is not None:
            assert api.get(url, "designer1")["variables"] == {"rounds": 2, "since": "2026-03-02", "note": "first"}
    assert task is None
    assert api.get(f"/process-instances/{started['id']}", "designer1")["status"] == "completed"
    assert api.get(url, "designer1") == {"id": started["id"], "status": "completed", "variables": {
        "rounds": 3, "since": "2026-03-02", "note": "second", "summary": "3 rounds, last note: second"}}


def test_who_may_read_the_process_data(api_on):
    api = api_on
    # A process without a case, started by a community coordinator; its script numbers the
    # order with now().strftime (datetime's lazy import inside the sandbox).
    order = api.post("/process-instances", "community1", json={"key": "party_service_order",
                                                               "data": {"community": COMMUNITY}}, status=201)
    url = f"/process-instances/{order['id']}/variables"
    mine = api.get(url, "community1")
    assert mine["variables"]["order_no"] == f"DQ-{COMMUNITY}-20260302010000"
    assert mine["variables"]["community"] == COMMUNITY
    for reader in ("designer1", "supervisor1", "supervisor_huashan"):  # any supervisor: it has no case
        assert api.get(url, reader) == mine
    for outsider in ("grid1", "street2"):
        assert api.get(url, outsider, status=403)["error"]["code"] == "forbidden"
    # A case's instance: its reporter started it; supervisors only of its area.
    case = api.report("grid1")
    url = f"/process-instances/{api.case(case['id'])['instance_id']}/variables"
    variables = api.get(url, "grid1")["variables"]
    assert (variables["case_number"], variables["grid"], variables["category"]) == (
        case["number"], "21010200101001", "garbage")
    assert api.get(url, "supervisor1")["variables"] == variables == api.get(url, "designer1")["variables"]
    api.get(url, "supervisor_huashan", status=403)
    api.get(url, "grid2", status=403)
    api.get(url, "community1", status=403)  # sees the case, but did not start it
    assert api.get("/process-instances/999999/variables", "designer1", status=404)["error"]["code"] == "not_found"
    api.call("GET", url, None, status=401)


def test_each_task_of_a_multi_instance_task_shows_its_item(api_on):
    api = api_on
    started = api.post("/process-instances", "designer1", json={"key": "multi_review"}, status=201)
    inputs = {api.get(f"/tasks/{t['id']}", "designer1")["input"]["rater"]: t for t in started["open_tasks"]}
    assert sorted(inputs) == ["ann", "bob"]
    assert api.get(f"/tasks/{inputs['bob']['id']}", "designer1")["input"] == {"raters": ["ann", "bob"], "rater": "bob",
                                                                         "scores": []}
    for rater, task in inputs.items():
        api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"score": len(rater)}})
    assert api.get(f"/process-instances/{started['id']}/variables", "designer1")["variables"] == {
        "raters": ["ann", "bob"], "scores": [3, 3]}


def test_the_openapi_document_describes_process_data_and_task_input(api_on):
    spec = api_on.get("/openapi.json")
    variables = spec["paths"]["/api/v1/process-instances/{instance_id}/variables"]["get"]
    assert variables["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/InstanceVariables")
    assert "variables" in spec["components"]["schemas"]["InstanceVariables"]["properties"]
    assert "input" in spec["components"]["schemas"]["TaskDetail"]["properties"]
