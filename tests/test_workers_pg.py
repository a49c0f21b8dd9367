"""Due work at scale on PostgreSQL: real `gridloop worker` processes (and a real Celery
worker) racing over hundreds of due cases; workers stopped and killed half-way.

The cases are reported with a frozen clock on the fixture's date (March 2026), so on the
workers' real clock every grid task's handling limit has long passed: each case has exactly
one due timer, whose firing escalates it to the community consultation (whose own timer the
worker sets from the real clock, so nothing further is due). One case is reported through
the engine; the others are copies of its rows with fresh task ids (real instances, whose
timers really fire), which keeps the setup to a second.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from celery import Celery
from sqlalchemy import func, insert, select, update

from gridloop.engine.model import Case, Event, ProcessInstance, Task

from .loop_driver import LoopDriver

DUE = 500
GRIDLOOP = os.path.join(os.path.dirname(sys.executable), "gridloop")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def pg_runtime(pg_db, clock):
    from gridloop.engine.runtime import Runtime
    return Runtime(pg_db, clock=clock)


def seed_due_cases(runtime, n: int) -> list[int]:
    """Report one case, then copy its case, instance and task rows ``n - 1`` times."""
    case_id = LoopDriver(runtime).report("grid1", category="garbage", source="patrol")
    with runtime.db.transaction() as s:
        case = s.execute(select(Case.__table__).where(Case.id == case_id)).mappings().one()
        inst = s.execute(select(ProcessInstance.__table__).where(ProcessInstance.case_id == case_id)).mappings().one()
        tasks = s.execute(select(Task.__table__).where(Task.instance_id == inst["id"])).mappings().all()
        case = {k: v for k, v in case.items() if k not in ("id", "instance_id")}
        inst = {k: v for k, v in inst.items() if k != "id"}
        for i in range(1, n):
            ids = {old: str(uuid.uuid4()) for old in set(_UUID.findall(inst["state"]))}
            new_case = s.execute(insert(Case).values({**case, "number": f"{case['number']}-{i}"})
                                 .returning(Case.id)).scalar_one()
            new_inst = s.execute(insert(ProcessInstance).values(
                {**inst, "case_id": new_case, "state": _UUID.sub(lambda m, ids=ids: ids[m[0]], inst["state"])})
                .returning(ProcessInstance.id)).scalar_one()
            s.execute(update(Case).where(Case.id == new_case).values(instance_id=new_inst))
            s.execute(insert(Task), [{**t, "id": ids[t["id"]], "instance_id": new_inst, "case_id": new_case}
                                     for t in tasks])
    with runtime.db.reading() as s:
        return list(s.scalars(select(ProcessInstance.id).order_by(ProcessInstance.id)))


class Workers:
    """Starts `gridloop worker` processes (output to files: a full pipe must never block
    one) and kills whatever is still running when the test ends."""

    def __init__(self, db, tmp_path):
        self.env = dict(os.environ, GRIDLOOP_DATABASE_URL=db.url)
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self, *args) -> subprocess.Popen:
        n = len(self.procs)
        with open(self.tmp_path / f"worker{n}.out", "w") as out, open(self.tmp_path / f"worker{n}.err", "w") as err:
            proc = subprocess.Popen([GRIDLOOP, "worker", *args], env=self.env, stdout=out, stderr=err)
        proc.out, proc.err = self.tmp_path / f"worker{n}.out", self.tmp_path / f"worker{n}.err"
        self.procs.append(proc)
        return proc

    def finish(self, proc: subprocess.Popen, timeout: float = 120) -> tuple[str, str]:
        proc.wait(timeout=timeout)
        return proc.out.read_text(), proc.err.read_text()

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(pg_runtime, tmp_path):
    spawned = Workers(pg_runtime.db, tmp_path)
    yield spawned
    spawned.kill_all()


def fired_per_instance(db) -> dict[int, int]:
    with db.reading() as s:
        # The handling limit's firings; each case's own deadline (long past too) fires beside it.
        return dict(s.execute(select(Event.instance_id, func.count())
                              .where(Event.type == "timer_fired",
                                     Event.payload["element"].as_string() == "timer_grid_handle")
                              .group_by(Event.instance_id)).all())


def wait_for_fired(db, at_least: int, proc: subprocess.Popen, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fired = sum(fired_per_instance(db).values())
        if fired >= at_least:
            return fired
        assert proc.poll() is None, f"the worker exited early: {proc.err.read_text()}"
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} timers fired in {timeout}s")


def assert_consistent(db, instance_ids: list[int]) -> int:
    """Every instance is either untouched or completely escalated, never in between;
    returns how many were escalated."""
    fired = fired_per_instance(db)
    assert set(fired.values()) <= {1}, "a timer fired twice"
    with db.reading() as s:
        rows = s.execute(select(ProcessInstance.id, ProcessInstance.revision, Case.stage, Case.escalation_level,
                                Case.timeout_count)
                         .join(Case, Case.id == ProcessInstance.case_id)).all()
        open_tasks = dict(s.execute(select(Task.instance_id, func.string_agg(Task.element_id, ","))
                                    .where(Task.status == "open").group_by(Task.instance_id)).all())
    assert sorted(r.id for r in rows) == sorted(instance_ids)
    for r in rows:
        if r.id in fired:
            assert (r.revision, r.stage, r.escalation_level, r.timeout_count, open_tasks[r.id]) == \
                (2, "consultation", 1, 1, "consult_level"), r
        else:
            assert (r.revision, r.stage, r.escalation_level, r.timeout_count, open_tasks[r.id]) == \
                (1, "grid_handling", 0, 0, "grid_handling"), r
    return len(fired)


def test_four_worker_processes_fire_every_timer_exactly_once(pg_runtime, workers):
    instances = seed_due_cases(pg_runtime, DUE)
    procs = [workers.start("--once") for _ in range(4)]
    outputs = [workers.finish(p) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], [err for _, err in outputs]
    counts = [int(re.search(r"fired timers of (\d+) instances", out).group(1)) for out, _ in outputs]
    assert sum(counts) == DUE and sum(1 for c in counts if c) >= 2  # shared out, none twice
    assert assert_consistent(pg_runtime.db, instances) == DUE
    assert fired_per_instance(pg_runtime.db) == {i: 1 for i in instances}


def test_stopped_and_killed_workers_lose_nothing_and_fire_nothing_twice(pg_runtime, workers):
    instances = seed_due_cases(pg_runtime, DUE)
    db = pg_runtime.db

    graceful = workers.start("--interval", "0.1")  # runs until told to stop
    wait_for_fired(db, 20, graceful)
    graceful.send_signal(signal.SIGTERM)  # finishes the instance in hand, then exits
    out, err = workers.finish(graceful, timeout=30)
    assert graceful.returncode == 0, err
    stopped_at = assert_consistent(db, instances)
    assert 20 <= stopped_at < DUE and f"fired timers of {stopped_at} instances" in out

    killed = workers.start("--once")
    wait_for_fired(db, stopped_at + 50, killed)
    killed.send_signal(signal.SIGKILL)  # mid-batch, most likely mid-transaction
    killed.wait(timeout=30)
    assert killed.returncode == -signal.SIGKILL
    killed_at = assert_consistent(db, instances)
    assert killed_at < DUE, "the worker finished before it could be killed"

    restarted = [workers.start("--once") for _ in range(2)]
    errors = [workers.finish(p)[1] for p in restarted]
    assert [p.returncode for p in restarted] == [0, 0], errors
    assert assert_consistent(db, instances) == DUE
    assert fired_per_instance(db) == {i: 1 for i in instances}


def test_a_celery_worker_runs_the_due_pass(pg_runtime, tmp_path):
    redis = pytest.importorskip("redis")
    broker = os.environ.get("GRIDLOOP_TEST_CELERY_BROKER", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(broker).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):  # .ci/run starts Redis: there its absence is a failure
            raise
        pytest.skip(f"no Redis at {broker}")
    instances = seed_due_cases(pg_runtime, 50)
    queue = f"gridloop-test-{uuid.uuid4().hex[:8]}"
    env = dict(os.environ, GRIDLOOP_DATABASE_URL=pg_runtime.db.url, GRIDLOOP_CELERY_BROKER=broker)
    celery = os.path.join(os.path.dirname(sys.executable), "celery")
    with open(tmp_path / "celery.log", "w") as log:
        proc = subprocess.Popen([celery, "-A", "gridloop.engine.celery_app", "worker", "--pool", "solo", "-Q", queue,
                                 "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    proc.err = tmp_path / "celery.log"
    try:
        with Celery(broker=broker) as sender:
            sender.send_task("gridloop.due_pass", queue=queue)  # as beat would
        wait_for_fired(pg_runtime.db, len(instances), proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        client = redis.Redis.from_url(broker)
        for key in client.scan_iter(f"*{queue}*"):
            client.delete(key)
    assert fired_per_instance(pg_runtime.db) == {i: 1 for i in instances}
