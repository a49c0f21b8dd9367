"""Generic processes through the REST API: loops that compaction must not break, and the
process data an instance holds."""
from __future__ import annotations

import os

from tests.conftest import MODELS


def _deploy(world, *names: str) -> None:
    sources = {}
    for name in names:
        with open(os.path.join(MODELS, name), "rb") as fh:
            sources[name] = fh.read()
    world.deploy(sources=sources)


def test_a_loop_into_a_parallel_merge_runs_to_its_end(api, world):
    _deploy(world, "loop_into_parallel_merge.bpmn")
    started = api.post("/process-instances", "designer1", json={"key": "loop_into_parallel_merge"}, status=201)
    [task] = started["open_tasks"]
    for note in ("first", "second"):
        assert task["element_id"] == "review"
        done = api.post(f"/tasks/{task['id']}/complete", "designer1", json={"data": {"note": note}})
        task = done["next_tasks"][0] if done["next_tasks"] else None
    assert task is None
    instance = api.get(f"/process-instances/{started['id']}", "designer1")
    assert instance["status"] == "completed" and instance["open_tasks"] == []
