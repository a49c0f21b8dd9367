"""Due work at scale: 10k cases due at once among 100k stored, drained by 1 and by 4
`gridloop worker --once` processes; and the cost of finding due work with 100k vs 1M stored.

PostgreSQL only: the point is concurrent runners claiming with FOR UPDATE SKIP LOCKED, and
SQLite admits one writer at a time. The due cases are real closed-loop instances (one
reported through the engine on 2 March 2026, then copied with fresh task ids), overdue on
the workers' real clock, so each fires its grid handling limit and escalates. The stored
but not-due background is bulk-inserted process_instance rows (finished, or waiting for a
timer in the future): the due-work query reads only that table.

    python bench/timers.py [DUE] [STORED]      # defaults 10000 100000; 1M for the ratio
    GRIDLOOP_BENCH_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres   # the server

The run creates its own database on that server and drops it at the end (bench/scratch_db.py).
"""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")
# Run as a script, this file's folder comes first on sys.path and "engine" would be bench/engine.py.
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sqlalchemy import bindparam, delete, func, insert, select, text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from gridloop.engine.clock import FrozenClock  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.model import Case, Event, MessageWait, ProcessInstance, Task, User  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import all_grids, seed_demo  # noqa: E402

from bench.scratch_db import scratch_database  # noqa: E402

URL = os.environ.get("GRIDLOOP_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
GRIDLOOP = os.path.join(os.path.dirname(sys.executable), "gridloop")
REPORTED = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # Monday 09:00 in Shenyang
BATCH = 1000
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# The runners' claim query (engine.timers._due), timed on its own.
CLAIM = text("SELECT id FROM process_instance WHERE status = 'running' AND next_timer_at < now() "
             "ORDER BY next_timer_at LIMIT 1 FOR UPDATE SKIP LOCKED")


def fresh_database(url: str) -> Database:
    db = Database(url)
    db.create_schema()
    return db


def template_case(db: Database) -> tuple[dict, dict, list[dict]]:
    """The rows (instance, case, tasks) of one closed-loop case reported through the engine,
    whose grid task's limit is long past; the case itself is removed again."""
    rt = Runtime(db, clock=FrozenClock(REPORTED))
    rt.deploy()
    with db.transaction() as s:
        seed_demo(s)
        grid1 = s.scalar(select(User.id).where(User.username == "grid1"))
    instance_id = rt.report_case(grid1, {"title": "Bins overflowing", "category": "garbage", "source": "patrol",
                                         "grid": all_grids()[0], "location": {"address": "Heping", "lat": 41.79,
                                                                              "lon": 123.41}}).instance_id
    with db.engine.connect() as conn:
        inst = dict(conn.execute(select(ProcessInstance.__table__).where(ProcessInstance.id == instance_id))
                    .mappings().one())
        case = dict(conn.execute(select(Case.__table__).where(Case.id == inst["case_id"])).mappings().one())
        tasks = [dict(t) for t in conn.execute(select(Task.__table__).where(Task.instance_id == instance_id))
                 .mappings()]
    remove(db, [instance_id])
    for row in (inst, case):
        del row["id"]
    case["instance_id"] = None
    return inst, case, tasks


def add_due(db: Database, template: tuple[dict, dict, list[dict]], n: int) -> list[int]:
    """``n`` copies of the template's case, instance and task rows, each with fresh task ids."""
    inst, case, tasks = template
    with db.engine.begin() as conn:
        new_ids = []
        for start in range(0, n, BATCH):
            count = min(BATCH, n - start)
            suffix = uuid.uuid4().hex[:8]
            case_ids = conn.execute(insert(Case).returning(Case.id, sort_by_parameter_order=True),
                                    [{**case, "number": f"{case['number']}-{suffix}-{i}"} for i in range(count)]
                                    ).scalars().all()
            maps = [{old: str(uuid.uuid4()) for old in set(_UUID.findall(inst["state"]))} for _ in range(count)]
            inst_ids = conn.execute(
                insert(ProcessInstance).returning(ProcessInstance.id, sort_by_parameter_order=True),
                [{**inst, "case_id": c, "state": _UUID.sub(lambda m, ids=ids: ids[m[0]], inst["state"])}
                 for c, ids in zip(case_ids, maps, strict=True)]).scalars().all()
            conn.execute(update(Case).where(Case.id == bindparam("cid")).values(instance_id=bindparam("iid"))
                         .execution_options(synchronize_session=False),
                         [{"cid": c, "iid": i} for c, i in zip(case_ids, inst_ids, strict=True)])
            conn.execute(insert(Task), [{**t, "id": ids[t["id"]], "instance_id": i, "case_id": c}
                                        for c, i, ids in zip(case_ids, inst_ids, maps, strict=True) for t in tasks])
            new_ids += inst_ids
    return new_ids


def remove(db: Database, instance_ids: list[int]) -> None:
    with db.engine.begin() as conn:
        case_ids = select(ProcessInstance.case_id).where(ProcessInstance.id.in_(instance_ids)).scalar_subquery()
        conn.execute(delete(Event).where(Event.instance_id.in_(instance_ids)))
        conn.execute(delete(Task).where(Task.instance_id.in_(instance_ids)))
        conn.execute(delete(MessageWait).where(MessageWait.instance_id.in_(instance_ids)))
        conn.execute(update(Case).where(Case.id.in_(case_ids)).values(instance_id=None))
        conn.execute(delete(Case).where(Case.id.in_(case_ids)))
        conn.execute(delete(ProcessInstance).where(ProcessInstance.id.in_(instance_ids)))


def add_background(db: Database, n: int, definition_id: int) -> None:
    """``n`` stored instances that are not due: 70% finished, 30% waiting up to a year ahead."""
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO process_instance (definition_id, key, status, state, revision, next_timer_at, started_at) "
            "SELECT :d, 'closed_loop', CASE WHEN g % 10 < 7 THEN 'completed' ELSE 'running' END, '', 3, "
            "CASE WHEN g % 10 < 7 THEN NULL ELSE now() + (g % 525600) * interval '1 minute' + interval '1 day' END, "
            "now() - interval '30 days' FROM generate_series(1, :n) AS g"), {"d": definition_id, "n": n})
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE process_instance"))


def stored(db: Database) -> int:
    with db.reading() as s:
        return s.scalar(select(func.count()).select_from(ProcessInstance))


def claim_query_cost(db: Database, reps: int = 300) -> tuple[float, int]:
    """Median milliseconds of the claim query (in a transaction rolled back each time), and
    the shared buffers its plan touches."""
    times = []
    with db.engine.connect() as conn:
        for _ in range(reps):
            with conn.begin() as tx:
                start = time.perf_counter()
                conn.execute(CLAIM).first()
                times.append(time.perf_counter() - start)
                tx.rollback()
        with conn.begin() as tx:
            plan = "\n".join(conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + CLAIM.text)).scalars())
            tx.rollback()
    top = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", plan)  # the plan's top node
    return statistics.median(times) * 1000, int(top[1]) + int(top[2] or 0)


def drain(db: Database, workers: int) -> tuple[float, list[int]]:
    """Wall-clock seconds until ``workers`` `gridloop worker --once` processes have all
    exited (process start included), and how many instances each fired."""
    env = dict(os.environ, GRIDLOOP_DATABASE_URL=db.url)
    start = time.perf_counter()
    procs = [subprocess.Popen([GRIDLOOP, "worker", "--once"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True) for _ in range(workers)]
    outputs = [p.communicate()[0] for p in procs]
    elapsed = time.perf_counter() - start
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker failed: {[p.returncode for p in procs]}")
    return elapsed, [int(re.search(r"fired timers of (\d+)", out).group(1)) for out in outputs]


def check_fired_once(db: Database, instance_ids: list[int]) -> None:
    with db.reading() as s:
        fired = dict(s.execute(select(Event.instance_id, func.count()).where(
            Event.type == "timer_fired", Event.instance_id.in_(instance_ids)).group_by(Event.instance_id)).all())
    if fired != {i: 1 for i in instance_ids}:
        raise SystemExit(f"timers not fired exactly once: {len(fired)} of {len(instance_ids)} fired, "
                         f"max {max(fired.values(), default=0)} times")


def main() -> None:
    with scratch_database(URL, "gridloop_bench_timers") as url:
        measure(url)


def measure(url: str) -> None:
    due = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    total = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    big = 10 * total
    print(f"PostgreSQL {make_url(URL).render_as_string(hide_password=True)} -- SQLite admits one writer "
          "at a time, so the worker figures are PostgreSQL's", flush=True)
    db = fresh_database(url)
    template = template_case(db)
    definition_id = template[0]["definition_id"]
    t = time.perf_counter()
    add_background(db, total - due, definition_id)
    due_ids = add_due(db, template, due)
    print(f"setup: {stored(db):,} stored instances, {due:,} due ({time.perf_counter() - t:.1f}s)")

    small = stored(db), *claim_query_cost(db)
    results = []
    for workers in (1, 4):
        if results:
            remove(db, due_ids)
            due_ids = add_due(db, template, due)
        elapsed, counts = drain(db, workers)
        check_fired_once(db, due_ids)
        results.append((workers, elapsed, counts))
        print(f"{workers} worker{'s' if workers > 1 else ' '}: {due:,} due instances drained in {elapsed:6.1f}s "
              f"= {due / elapsed:6.0f} instances/s  (per worker: {counts}; each timer fired exactly once)")
    print(f"speed-up 4 vs 1 workers: {results[0][1] / results[1][1]:.2f}x on {os.cpu_count()} CPUs")

    remove(db, due_ids)
    due_ids = add_due(db, template, due)
    add_background(db, big - stored(db), definition_id)
    large = stored(db), *claim_query_cost(db)
    for n, ms, buffers in (small, large):
        print(f"finding due work (the claim query, {due:,} due) with {n:>9,} stored: {ms:.3f} ms median, "
              f"{buffers} buffers")
    print(f"ratio {large[0]:,} / {small[0]:,} stored: {large[1] / small[1]:.2f}x time, "
          f"{large[2] / max(small[2], 1):.2f}x buffers")
    db.dispose()


if __name__ == "__main__":
    main()
