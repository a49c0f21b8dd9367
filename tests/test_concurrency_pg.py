"""Races against a real PostgreSQL: exactly one claim wins, exactly one completion wins, and
the case is never half-updated."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from engine import org
from engine.errors import Conflict
from engine.model import Department, Event, Task
from engine.runtime import Runtime

from .loop_driver import LoopDriver


def race(n: int, action) -> list:
    """Run ``action(i)`` in n threads released at the same moment; return results/exceptions."""
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        barrier.wait()
        try:
            results[i] = action(i)
        except Exception as exc:  # noqa: BLE001 - the test inspects what each racer got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_twenty_threads_claim_one_task_and_exactly_one_wins(pg_db, clock):
    loop = LoopDriver(Runtime(pg_db, clock=clock))
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    task = loop.open_task(case_id)
    with pg_db.transaction() as s:  # twenty power liaisons of the district, all entitled to claim
        power = s.scalars(select(Department).where(Department.code == "power")).one()
        district = org.unit_by_code(s, "210102")
        extra = [org.add_user(s, f"power{i}", "pw", ["dept_liaison"], org_unit=district, department=power)
                 for i in range(19)]
        s.flush()
        racers = [loop.ids["liaison_power"]] + [u.id for u in extra]
    results = race(20, lambda i: loop.rt.claim(racers[i], task.id))
    winners = [r for r in results if isinstance(r, Task)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Task))
    with pg_db.reading() as s:
        claims = s.scalar(select(func.count()).select_from(Event).where(Event.task_id == task.id,
                                                                        Event.type == "task_claimed"))
    assert claims == 1


def test_ten_threads_complete_one_task_and_the_case_moves_once(pg_db, clock):
    loop = LoopDriver(Runtime(pg_db, clock=clock))
    case_id = loop.report("grid1", category="garbage", source="patrol")
    task = loop.open_task(case_id)
    data = {"outcome": "resolved", "resolution": "cleared"}
    results = race(10, lambda i: loop.rt.complete_task(loop.ids["grid1"], task.id, data))
    assert sum(isinstance(r, Task) for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, Task))
    next_task = loop.open_task(case_id)  # exactly one open task, in the next stage
    assert next_task.stage == "verification"
    assert loop.events(case_id).count("task_completed") == 1
