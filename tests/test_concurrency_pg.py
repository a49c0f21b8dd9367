"""Races against a real PostgreSQL: exactly one claim wins, exactly one completion wins, and
the case is never half-updated."""
from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text

from gridloop.engine import org
from gridloop.engine.records import TaskRow
from gridloop.engine.errors import Conflict
from gridloop.engine.model import Department, Event, ProcessInstance, Task
from gridloop.engine.runtime import Runtime
from gridloop.engine.task_commands import Completed

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
    winners = [r for r in results if isinstance(r, TaskRow)]
    assert len(winners) == 1, results
    assert all(isinstance(r, Conflict) for r in results if not isinstance(r, TaskRow))
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
    assert sum(isinstance(r, Completed) for r in results) == 1, results
    losers = [r for r in results if not isinstance(r, Completed)]
    assert all(isinstance(r, Conflict) and str(r) == "task already completed" for r in losers), results
    next_task = loop.open_task(case_id)  # exactly one open task, in the next stage
    assert next_task.stage == "verification"
    assert loop.events(case_id).count("task_completed") == 1


def test_a_claim_committed_while_a_completion_waits_for_the_lock_wins(pg_db, clock):
    """The completer read the task (unclaimed) with its lock request; while it waited, another
    liaison claimed the task. The completion must not take the claimed task from her."""
    loop = LoopDriver(Runtime(pg_db, clock=clock))
    case_id = loop.report("grid1", category="power_outage", source="patrol")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "power"})
    task = loop.open_task(case_id)
    with pg_db.transaction() as s:
        power = s.scalars(select(Department).where(Department.code == "power")).one()
        rival = org.add_user(s, "power_rival", "pw", ["dept_liaison"], org_unit=org.unit_by_code(s, "210102"),
                             department=power)
        s.flush()
        rival_id = rival.id
    result: list = []

    def complete():
        try:
            result.append(loop.rt.complete_task(loop.ids["liaison_power"], task.id,
                                                         {"outcome": "resolved", "resolution": "Fixed on site"}))
        except Exception as exc:  # noqa: BLE001 - inspected below
            result.append(exc)

    with pg_db.engine.connect() as holder:  # another command holds the instance's lock
        holder.execute(select(ProcessInstance.id).where(ProcessInstance.id == task.instance_id)
                       .with_for_update(key_share=True))
        completer = threading.Thread(target=complete)
        completer.start()
        _wait_for_a_lock_waiter(pg_db)
        loop.rt.claim(rival_id, task.id)  # claims take no instance lock: this commits now
        holder.rollback()
    completer.join()
    assert isinstance(result[0], Conflict) and str(result[0]) == "task is claimed by power_rival", result
    with pg_db.reading() as s:
        row = s.get(Task, task.id)
        assert (row.status, row.assignee_id) == ("claimed", rival_id)
    assert loop.events(case_id).count("task_completed") == 1  # grid1's only


def _wait_for_a_lock_waiter(db, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.engine.connect() as conn:
            if conn.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")):
                return
        time.sleep(0.02)
    raise AssertionError("the completion never waited for the instance lock")
