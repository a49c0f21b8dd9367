"""Patrols that matter: a hazard found on a safety-inspection round becomes a case (source
patrol) linked to the round both ways; the round checks the seven self-check categories."""
from __future__ import annotations

import json
import os

from gridloop.engine.runtime import WORKFLOWS_DIR

from .conftest import GRID1

HAZARD = {"category": "fire_hazard", "urgency": "urgent", "description": "Bikes block the stairwell",
          "measures_taken": "Owners told"}


def _round(api, user: str = "grid1") -> dict:
    return api.post("/process-instances", user, json={"key": "hazard_inspection", "data": {"grid": GRID1}},
                    status=201)


def _complete(api, user: str, task_id: str, data: dict) -> dict:
    api.post(f"/tasks/{task_id}/claim", user)
    return api.post(f"/tasks/{task_id}/complete", user, json={"data": data})


def test_a_hazard_found_on_a_round_becomes_a_case_linked_both_ways(any_api):
    api = any_api
    round_ = _round(api)
    inspect = round_["open_tasks"][0]
    _complete(api, "grid1", inspect["id"], {"outcome": "hazard_found", "place": "3号楼2单元",
                                             "items_checked": ["fire_exits", "heating"]})
    report, = api.get(f"/process-instances/{round_['id']}", "grid1")["open_tasks"]
    assert report["element_id"] == "report_hazard"
    _complete(api, "grid1", report["id"], HAZARD)

    finished = api.get(f"/process-instances/{round_['id']}", "grid1")
    assert finished["status"] == "completed" and len(finished["reported_cases"]) == 1
    opened = [e["payload"] for e in finished["history"] if e["type"] == "case_opened"]
    case_id = finished["reported_cases"][0]["id"]
    assert opened == [{"case_id": case_id, "number": finished["reported_cases"][0]["number"], "key": "closed_loop"}]

    case = api.case(case_id)
    assert (case["source"], case["category"], case["urgency"], case["source_instance_id"]) == \
        ("patrol", "fire_hazard", "urgent", round_["id"])
    assert case["title"].endswith("3号楼2单元") and case["address"] == "3号楼2单元"
    assert "Owners told" in case["description"]
    assert [e["payload"] for e in case["history"] if e["type"] == "reported_from"] == \
        [{"instance_id": round_["id"], "key": "hazard_inspection"}]
    reported = next(e for e in case["history"] if e["type"] == "case_reported")
    assert reported["actor"] == "grid1"
    task = api.open_task(case_id)  # a patrol's case skips acceptance
    assert task["stage"] == "grid_handling" and task["id"] in api.inbox_ids("grid1")
    api.get(f"/process-instances/{round_['id']}", "grid2", status=403)  # not hers: no link either way


def test_a_round_without_hazard_opens_no_case(any_api):
    api = any_api
    round_ = _round(api)
    _complete(api, "grid1", round_["open_tasks"][0]["id"], {"outcome": "no_hazard", "place": "5号楼"})
    finished = api.get(f"/process-instances/{round_['id']}", "grid1")
    assert finished["status"] == "completed" and finished["reported_cases"] == []


def test_the_self_check_list_has_the_seven_categories():
    with open(os.path.join(WORKFLOWS_DIR, "forms", "inspect.json"), encoding="utf-8") as f:
        items = json.load(f)["properties"]["items_checked"]
    labels = [items["items"]["x-enum-labels"][code]["zh"] for code in items["items"]["enum"]]
    assert items["maxItems"] == len(labels) == 7
    for kind in ("用气", "用电", "用梯", "用热", "防火", "防坠物"):
        assert any(kind in label for label in labels), kind
