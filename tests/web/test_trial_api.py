"""Try it: a draft run in memory as each role, over the REST API and the modeler's endpoint.
Nothing it does reaches the database: no instance, case, task row or history event."""
from __future__ import annotations

import os

import pytest
from sqlalchemy import func, select

from gridloop.engine.model import Case, Event, ProcessDefinition, ProcessInstance, Task
from gridloop.engine.runtime import WORKFLOWS_DIR

from .conftest import RESOLVED, SATISFIED, report_body
from .test_definitions_api import HOSTILE, HUGE


def _files(*names: str) -> dict[str, str]:
    files = {}
    for name in names:
        with open(os.path.join(WORKFLOWS_DIR, name), encoding="utf-8") as fh:
            files[os.path.basename(name)] = fh.read()
    return files


def _closed_loop() -> dict[str, str]:
    """The whole workflows/ folder as a draft: the closed loop with every decision and form it names."""
    forms = [f"forms/{n}" for n in os.listdir(os.path.join(WORKFLOWS_DIR, "forms"))]
    return _files(*[n for n in os.listdir(WORKFLOWS_DIR) if n.endswith((".bpmn", ".dmn"))], *forms)


def _counts(world) -> tuple:
    with world.db.reading() as s:
        return tuple(s.scalar(select(func.count()).select_from(t)) for t in (ProcessInstance, Case, Task, Event,
                                                                          ProcessDefinition))


def _try(api, user="designer1", status=200, **body):
    body.setdefault("files", _closed_loop())
    return api.post("/definitions/try", user, json=body, status=status)


def test_a_draft_runs_as_each_role_and_nothing_is_stored(any_api, any_world):
    before = _counts(any_world)
    start = report_body()
    first = _try(any_api, key="closed_loop", start=start)
    assert first["status"] == "running" and first["done"] == []
    [grid] = first["tasks"]
    assert (grid["element"], grid["role"], grid["form"]) == ("grid_handling", "grid_worker", "grid_handle.json")
    assert grid["schema"]["properties"]["outcome"]["enum"]  # the form to fill in comes along
    assert first["elements"] == {"grid_handling": {"state": "active", "count": 1}}  # as an instance's diagram counts
    assert {"grid_worker", "dept_liaison", "acceptor"} <= set(first["roles"])
    steps = [{"task": "grid_handling", "as": "grid_worker", "data": RESOLVED}]
    second = _try(any_api, key="closed_loop", start=start, steps=steps)
    assert [t["element"] for t in second["tasks"]] == ["verification"]
    assert second["done"] == [{"element": "grid_handling", "name": "Grid handling", "as": "grid_worker",
                               "data": RESOLVED}]
    assert second["elements"]["grid_handling"] == {"state": "completed", "count": 1}
    assert second["data"]["resolution"] == "Fixed on site"
    steps += [{"task": "verification", "as": second["tasks"][0]["role"], "data": {"outcome": "passed"}},
              {"task": "feedback", "as": "acceptor", "data": SATISFIED}]
    third = _try(any_api, key="closed_loop", start=start, steps=steps)
    assert third["status"] == "completed" and third["tasks"] == []
    assert [d["element"] for d in third["done"]] == ["grid_handling", "verification", "feedback"]
    assert _counts(any_world) == before  # no instance, case, task row, event or version


def test_a_step_is_refused_naming_what_is_wrong(api):
    start = report_body()
    wrong_role = _try(api, status=400, key="closed_loop", start=start,
                      steps=[{"task": "grid_handling", "as": "dept_liaison", "data": RESOLVED}])
    assert "offered to 'grid_worker', not 'dept_liaison'" in wrong_role["error"]["message"]
    not_open = _try(api, status=400, key="closed_loop", start=start,
                    steps=[{"task": "feedback", "as": "acceptor", "data": SATISFIED}])
    assert not_open["error"]["fields"]["steps.1"] == "open now: grid_handling"
    bad_data = _try(api, status=400, key="closed_loop", start=start,
                    steps=[{"task": "grid_handling", "as": "grid_worker", "data": {"outcome": "maybe"}}])
    assert "outcome" in bad_data["error"]["fields"]
    bad_start = _try(api, status=400, key="closed_loop", start={"title": "no category"})
    assert "category" in bad_start["error"]["fields"]
    _try(api, status=400, key="no_such_process", start=start)
    _try(api, status=400, steps=[{"task": "x"}])  # a step without its role
    _try(api, status=400, steps=[{"task": "x", "as": "grid_worker", "wait": "PT1H"}])  # two kinds at once
    bad_wait = _try(api, status=400, key="closed_loop", start=start, steps=[{"wait": "three days"}])
    assert "steps.1" in bad_wait["error"]["fields"]


def test_time_passes_only_by_a_wait_step_and_the_due_timers_fire(any_api, any_world):
    before = _counts(any_world)
    start = report_body()
    unclaimed = _try(any_api, key="closed_loop", start=start, steps=[{"wait": "PT1H"}])
    assert unclaimed["done"] == [{"wait": "PT1H", "fired": []}]  # not yet due
    assert unclaimed["data"]["escalation_level"] == 0
    late = _try(any_api, key="closed_loop", start=start, steps=[{"wait": "6WD"}])  # past the 5WD handling limit
    [waited] = late["done"]
    assert waited["fired"] and all(late["elements"][e]["state"] == "completed" for e in waited["fired"])
    assert late["data"]["timeout_count"] >= 1
    assert late["data"] != unclaimed["data"]
    assert _counts(any_world) == before


def test_a_draft_that_fails_or_does_not_compile_is_a_400(api):
    review = _files("monthly_review.bpmn", "forms/review.json")
    broken = {**review, "monthly_review.bpmn": review["monthly_review.bpmn"].replace(
        '<bpmn:userTask id="review"', '<bpmn:userTask id="review" bad="')}
    assert _try(api, status=400, files=broken)["error"]["code"]
    fails = {**review, "monthly_review.bpmn": review["monthly_review.bpmn"].replace(
        'value="review.json"', 'value="missing.json"')}
    assert "missing.json" in _try(api, status=400, files=fails)["error"]["message"]


def test_a_task_without_lane_is_the_starters_and_the_trial_ends(api):
    review = _files("monthly_review.bpmn", "forms/review.json")
    first = _try(api, files=review)
    [task] = first["tasks"]
    assert (first["key"], task["element"], task["role"]) == ("monthly_review", "review", None)
    data = {"month": "2026-02", "rating": "good", "summary": "Quiet month"}
    assert set(data) == set(task["schema"]["required"])
    done = _try(api, files=review, steps=[{"task": "review", "as": "designer", "data": data}])
    assert done["status"] == "completed"


@pytest.mark.parametrize("user", ["grid1", "supervisor1", "liaison_power", "street1"])
def test_only_designers_may_try_a_draft(api, user):
    _try(api, user, status=403, key="closed_loop", start=report_body())


@pytest.mark.parametrize("label", sorted(HOSTILE))
def test_hostile_drafts_are_refused_before_anything_runs(api, label):
    assert _try(api, status=400, files={"x.bpmn": HOSTILE[label]})["error"]["code"] == "deploy_error"


def test_oversized_odd_or_endless_trials_are_refused(api):
    _try(api, status=413, files={"x.bpmn": HUGE})
    _try(api, status=400, files={"notes.txt": "hello"})
    _try(api, status=400, files={})
    _try(api, status=400, files=_files("monthly_review.bpmn", "forms/review.json"),
         steps=[{"task": "review", "as": "designer"}] * 201)


def test_the_modeler_tries_with_the_session_and_refuses_others(as_user):
    designer = as_user("designer1")
    response = designer.client.post("/designer/try", json={"files": _files("monthly_review.bpmn", "forms/review.json")},
                                    headers={"X-CSRFToken": designer.csrf})
    assert response.status_code == 200 and response.get_json()["tasks"][0]["element"] == "review"
    grid1 = as_user("grid1")
    refused = grid1.client.post("/designer/try", json={"files": _files("monthly_review.bpmn", "forms/review.json")},
                                headers={"X-CSRFToken": grid1.csrf})
    assert refused.status_code == 403
    no_csrf = designer.client.post("/designer/try", json={"files": _files("monthly_review.bpmn")})
    assert no_csrf.status_code in (400, 403)
