"""Persisted engine vs SpiffWorkflow in memory, on the same closed-loop BPMN, in one run.

Each case: a hotline report, acceptance, a whistle, the liaison escalates, the community
resolves, verification fails (one rework), the community resolves again, verification
passes, the reporter is satisfied. In memory: the same spec and the same restricted script
engine, no database. Persisted: the engine's service functions on SQLite, one transaction
per command, read model and history included.

    python bench/engine.py [N]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")
# Run as a script, this file's folder comes first on sys.path and "engine" would be this file.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # noqa: E402
from SpiffWorkflow.task import TaskState  # noqa: E402
from sqlalchemy import select  # noqa: E402

from gridloop.engine import definitions  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.model import Case, Task, User  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import all_grids, seed_demo  # noqa: E402

RESOLVED = {"outcome": "resolved", "resolution": "done"}
# (who, data) for each user task of one case, in order.
STEPS = [
    ("acceptor1", {"outcome": "accept"}),
    ("grid1", {"outcome": "whistle", "department": "power"}),
    ("liaison_power", {"outcome": "escalate", "note": "needs the community"}),
    ("community1", RESOLVED),
    ("grid1", {"outcome": "failed", "note": "not fixed"}),
    ("community1", RESOLVED),
    ("grid1", {"outcome": "passed"}),
    ("acceptor1", {"contacted": True, "resolved": True, "satisfaction": "satisfied"}),
]
REPORT = {"title": "Power cut", "description": "No power in building 3", "category": "power_outage",
          "source": "hotline", "grid": all_grids()[0], "reporter": {"name": "Li", "phone": "13900000000"},
          "location": {"address": "Heping", "lat": 41.79, "lon": 123.41}}
START_DATA = {"title": "Power cut", "description": "No power", "category": "power_outage", "urgency": "normal",
              "source": "hotline", "grid": all_grids()[0], "grid_chain": ["21010200101", "210102001", "210102", "2101"],
              "reporter_name": "Li", "reporter_phone": "13900000000", "address": "Heping", "lat": 41.79,
              "lon": 123.41, "case_number": "GL-bench"}


def in_memory(n: int, runtime: Runtime) -> float:
    with runtime.db.reading() as s:
        row = definitions.find_definition(s, "closed_loop")
        loaded = runtime.specs.get(s, row.id)
    start = time.perf_counter()
    for _ in range(n):
        wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=runtime.script_engine)
        wf.task_tree.data.update(START_DATA)
        wf.do_engine_steps()
        for _who, data in STEPS:
            task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
            task.data.update(data)
            task.run()
            wf.do_engine_steps()
        assert wf.is_completed(), "in-memory case did not finish"
    return time.perf_counter() - start


def persisted(n: int, runtime: Runtime) -> float:
    with runtime.db.reading() as s:
        ids = dict(s.execute(select(User.username, User.id)).all())
    start = time.perf_counter()
    for _ in range(n):
        case = runtime.report_case(ids["acceptor1"], REPORT)
        with runtime.db.reading() as s:
            task_id = s.scalar(select(Task.id).where(Task.case_id == case.id, Task.status == "open"))
        for who, data in STEPS:  # each completion answers with the case's next open task
            done = runtime.complete_task(ids[who], task_id, data)
            task_id = done.open_tasks[0].id if done.open_tasks else None
    elapsed = time.perf_counter() - start
    with runtime.db.reading() as s:
        closed = s.get(Case, case.id).status
    assert closed == "closed", "persisted case did not close"
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite:///{tmp}/bench.sqlite")
        db.create_schema()
        runtime = Runtime(db)
        runtime.deploy()
        with db.transaction() as s:
            seed_demo(s)
        in_memory(3, runtime), persisted(3, runtime)  # warm-up: caches, compiled expressions
        # Interleaved rounds, so both sides see the same machine load (it is shared and noisy).
        rounds = 10
        mem = db_time = 0.0
        for _ in range(rounds):
            mem += in_memory(n // rounds, runtime)
            db_time += persisted(n // rounds, runtime)
        n = n // rounds * rounds
        db.dispose()
    print(f"cases: {n}, user tasks per case: {len(STEPS)} (+ the report)")
    print(f"in-memory SpiffWorkflow: {n / mem:8.1f} cases/s  ({mem / n * 1000:6.2f} ms/case)")
    print(f"Gridloop on SQLite:      {n / db_time:8.1f} cases/s  ({db_time / n * 1000:6.2f} ms/case)")
    print(f"ratio persisted/in-memory time per case: {db_time / mem:.2f}")


if __name__ == "__main__":
    main()
