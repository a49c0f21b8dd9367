"""Inbox query at scale: ``inbox_plan.inbox`` and ``inbox_plan.inbox_counts`` for the realistic user
shapes with ~100k open tasks and 1M stored cases, on SQLite and (if reachable) PostgreSQL.

The read model is bulk-inserted with Core ``executemany`` in batches (not through the engine;
secondary indexes dropped during the load and built after it; on PostgreSQL without the
foreign-key triggers): the inbox only reads those rows. The demo organisation comes from
``engine.seed.seed_demo``; the schema is made by the migrations (as `gridloop init-db` makes
it). ANALYZE (PostgreSQL: VACUUM ANALYZE) runs after each load, as deployments do.

What is stored (defaults):

* the open set: 110k open cases, one task each: 100k ``open`` + 10k ``claimed``. grid1's grid
  holds 10k open grid_worker tasks (a hot grid); the other 90k are spread over all 24 grids:
  grid_worker 45 %, acceptor 20 %, dept_liaison 25 % (12 departments), coordinator 10 % (at the
  case's community 50 % / street 30 % / district 15 % / city 5 %); 1 % have no due time; 40
  lane-less tasks are offered to grid1 personally (``candidate_user_id``); 300 are claimed by grid1;
* the history: closed cases (up to ``--cases`` in all) with three completed tasks each.

The figures (median and p95 of ``--runs`` calls, each in a fresh read session, after a warm-up)
are taken twice, with the open set only (~110k cases) and with the history added (``--cases``);
the ratio shows whether the query cost stays flat as history grows. "1000+" is a total capped at
``paging.COUNT_CAP``. About 3 minutes of loading on SQLite and 5 on PostgreSQL (2 cores).

    .venv/bin/python bench/inbox_query.py [--cases 1000000] [--runs 200] [--later-page 25]
        [--no-sqlite] [--no-pg] [--sqlite-cases N] [--dir DIR] [--reuse] [--explain]

``--dir DIR --reuse`` keeps the SQLite file (and the ``gridloop_bench`` PostgreSQL database)
between runs and only reconciles the ``task``/``case`` indexes with ``engine/model.py`` (then
ANALYZE): quick before/after comparisons of index or query changes on the same data; only the
final stage is measured then. The PostgreSQL database is ``gridloop_bench`` (dropped and
created by this script); the ``test`` databases are never touched.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")  # the demo users are seeded, not benchmarked
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sqlalchemy import create_engine, event, func, inspect, select, text  # noqa: E402
from sqlalchemy.schema import CreateIndex  # noqa: E402

from gridloop.engine import definitions, inbox_plan, org  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.model import Case, OrgUnit, ProcessInstance, Task, User, UTCDateTime  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import DEPARTMENTS, all_grids, seed_demo  # noqa: E402

PG_ADMIN = os.environ.get("GRIDLOOP_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_DB = "gridloop_bench"
NOW = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
BATCH = 10_000
OPEN_TASKS, CLAIMED_TASKS, HOT_GRID_TASKS, GRID1_CLAIMED, PERSONAL = 100_000, 10_000, 10_000, 300, 40
CATEGORIES = ["garbage", "noise", "water_leak", "power_outage", "gas_leak", "road_damage", "lift_fault",
              "illegal_construction", "heating", "greening"]
DEPTS = [code for code, _n, _e in DEPARTMENTS]
# (element, name, stage, form) per role of an open task
ELEMENTS = {"grid_worker": [("grid_handling", "Grid handling", "grid_handling", "grid_handle.json"),
                            ("verification", "Verification", "verification", "verify.json")],
            "acceptor": [("acceptance", "Acceptance", "acceptance", "accept.json"),
                         ("feedback", "Feedback", "feedback", "feedback.json")],
            "dept_liaison": [("department_handling", "Department handling", "department_handling", "dept_handle.json")],
            "coordinator": [("consult_level", "Consultation", "consultation", "consult.json")]}
ROLE_MIX = [("grid_worker", 45), ("acceptor", 20), ("dept_liaison", 25), ("coordinator", 10)]
LEVEL_MIX = [(4, 50), (3, 30), (2, 15), (1, 5)]  # depth of the coordinator's unit: community, street, district, city


def task_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class World:
    """What the generator needs to know about the seeded organisation."""

    def __init__(self, s):
        self.units = {u.code: (u.id, u.path) for u in s.scalars(select(OrgUnit))}
        self.users = dict(s.execute(select(User.username, User.id)).all())
        self.definition_id = definitions.find_definition(s, "closed_loop").id
        self.grids = all_grids()
        self.grid1 = self.grids[0]

    def ancestor(self, grid: str, depth: int) -> str:
        """The code of ``grid``'s ancestor at ``depth`` (1 city ... 4 community)."""
        return self.units[grid][1].strip("/").split("/")[depth - 1]


def _pick(rng: random.Random, mix):
    return rng.choices([v for v, _w in mix], weights=[w for _v, w in mix])[0]


def open_set(world: World, rng: random.Random):
    """Yield (instances, cases, tasks) batches of the open set: one open case per task."""
    specs = ([("hot", None)] * HOT_GRID_TASKS + [("any", None)] * (OPEN_TASKS - HOT_GRID_TASKS - PERSONAL)
             + [("personal", None)] * PERSONAL)
    claimed_specs = [("mine", None)] * GRID1_CLAIMED + [("any", "claimed")] * (CLAIMED_TASKS - GRID1_CLAIMED)
    rng.shuffle(specs)
    everything = [(k, "open") for k, _ in specs] + [(k, "claimed") for k, _ in claimed_specs]
    rng.shuffle(everything)
    grid1_id = world.users["grid1"]
    batch = ([], [], [])
    for n, (kind, status) in enumerate(everything, start=1):
        grid = world.grid1 if kind in ("hot", "mine", "personal") else rng.choice(world.grids)
        role = "grid_worker" if kind in ("hot", "mine") else None if kind == "personal" else _pick(rng, ROLE_MIX)
        unit, department, candidate, assignee = grid, None, None, None
        if role == "coordinator":
            unit = world.ancestor(grid, _pick(rng, LEVEL_MIX))
        elif role == "dept_liaison":
            department = rng.choice(DEPTS)
        if role is None:
            element = ("inspect", "Hazard inspection", None, "inspection.json")
            candidate, unit, process_key = grid1_id, None, "hazard_inspection"
        else:
            element, process_key = rng.choice(ELEMENTS[role]), "closed_loop"
        if status == "claimed":
            if kind == "mine":
                assignee = grid1_id
            elif role == "grid_worker":
                assignee = world.users[f"grid{world.grids.index(grid) + 1}"]
            elif role == "dept_liaison":
                assignee = world.users[f"liaison_{department}"]
            elif role == "coordinator":
                assignee = world.users["street1"]
            else:
                assignee = world.users["acceptor1"]
        created = NOW - timedelta(seconds=rng.randrange(10 * 86400))
        due = None if rng.random() < 0.01 else NOW + timedelta(seconds=rng.randrange(-3 * 86400, 10 * 86400))
        category = rng.choice(CATEGORIES)
        batch[0].append({"id": n, "definition_id": world.definition_id, "key": process_key, "case_id": n,
                         "status": "running", "state": "{}", "revision": 1, "started_at": created,
                         "started_by_id": candidate})
        batch[1].append({"id": n, "number": f"GL{n:09d}", "instance_id": n, "title": f"Case {n}",
                         "description": "", "category": category, "urgency": "normal", "source": "patrol",
                         "grid_id": world.units[grid][0], "org_path": world.units[grid][1],
                         "department": department, "stage": element[2] or "inspection", "status": "open",
                         "reported_at": created, "updated_at": created})
        batch[2].append({"id": task_id(n), "instance_id": n, "case_id": n, "process_key": process_key,
                         "element_id": element[0], "name": element[1], "name_zh": None, "form": element[3],
                         "stage": element[2], "role": role, "org_unit_code": unit,
                         "org_path": world.units[unit][1] if unit else None, "department": department,
                         "candidate_user_id": candidate, "assignee_id": assignee, "status": status,
                         "priority": rng.randrange(3), "category": category, "due_at": due, "created_at": created,
                         "claimed_at": created if assignee else None, "urge_count": 0})
        if len(batch[0]) >= BATCH:
            yield batch
            batch = ([], [], [])
    if batch[0]:
        yield batch


def history(world: World, rng: random.Random, first: int, last: int):
    """Yield batches of closed cases ``first..last`` with three completed tasks each."""
    acceptor = world.users["acceptor1"]
    batch = ([], [], [])
    for n in range(first, last + 1):
        grid = rng.choice(world.grids)
        gid, path = world.units[grid]
        worker = world.users[f"grid{world.grids.index(grid) + 1}"]
        reported = NOW - timedelta(seconds=rng.randrange(10, 3 * 365 * 86400))
        category = rng.choice(CATEGORIES)
        batch[0].append({"id": n, "definition_id": world.definition_id, "key": "closed_loop", "case_id": n,
                         "status": "completed", "state": "{}", "revision": 8, "started_at": reported,
                         "started_by_id": None})
        closed = reported + timedelta(days=3)
        batch[1].append({"id": n, "number": f"GL{n:09d}", "instance_id": n, "title": f"Case {n}",
                         "description": "", "category": category, "urgency": "normal", "source": "hotline",
                         "grid_id": gid, "org_path": path, "department": None, "stage": "closed",
                         "status": "closed", "reported_at": reported, "updated_at": closed})
        for k, (role, element, who) in enumerate((("acceptor", ELEMENTS["acceptor"][0], acceptor),
                                                  ("grid_worker", ELEMENTS["grid_worker"][0], worker),
                                                  ("acceptor", ELEMENTS["acceptor"][1], acceptor))):
            at = reported + timedelta(days=k)
            batch[2].append({"id": task_id(n * 4 + k), "instance_id": n, "case_id": n, "process_key": "closed_loop",
                             "element_id": element[0], "name": element[1], "name_zh": None, "form": element[3],
                             "stage": element[2], "role": role, "org_unit_code": grid, "org_path": path,
                             "department": None, "candidate_user_id": None, "assignee_id": who,
                             "status": "completed", "priority": 0, "category": category,
                             "due_at": at + timedelta(days=1), "created_at": at, "claimed_at": at,
                             "urge_count": 0})
        if len(batch[0]) >= BATCH:
            yield batch
            batch = ([], [], [])
    if batch[0]:
        yield batch


BULK_TABLES = (ProcessInstance.__table__, Case.__table__, Task.__table__)


def executemany(conn, table, rows: list[dict]) -> None:
    """Core executemany of ``rows`` (dicts with the same keys) into ``table``. The values are
    converted once here as the column types would store them (UTC datetimes: naive text on
    SQLite), not through SQLAlchemy's per-parameter processing, which costs more than SQLite."""
    keys = list(rows[0])
    defaults = {c.key: c.default.arg for c in table.columns
                if c.key not in keys and c.default is not None and c.default.is_scalar}
    keys += list(defaults)
    rows = [{**row, **defaults} for row in rows] if defaults else rows
    sqlite = conn.dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    columns = ", ".join('"%s"' % k for k in keys)
    sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({", ".join([mark] * len(keys))})'
    times = [i for i, k in enumerate(keys) if isinstance(table.c[k].type, UTCDateTime)]
    values = [[row[k] for k in keys] for row in rows]
    if sqlite:
        for row in values:
            for i in times:
                if row[i] is not None:
                    row[i] = row[i].astimezone(timezone.utc).isoformat(" ", "microseconds")[:26]
    conn.exec_driver_sql(sql, [tuple(row) for row in values])


def load(db: Database, batches) -> int:
    """Insert the batches with the secondary indexes dropped, then build them (as bulk loads do)."""
    dropped = [ix for table in BULK_TABLES for ix in table.indexes if not ix.unique]
    with db.engine.begin() as conn:
        for ix in dropped:
            ix.drop(conn)
    # The generated rows are consistent: PostgreSQL may skip the foreign-key triggers (superuser only).
    with db.engine.connect() as conn:
        replica = db.dialect == "postgresql" and conn.exec_driver_sql("SHOW is_superuser").scalar() == "on"
    count, started = 0, time.perf_counter()
    for instances, cases, tasks in batches:
        with db.engine.begin() as conn:
            if replica:
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for table, rows in zip(BULK_TABLES, (instances, cases, tasks), strict=True):
                executemany(conn, table, rows)
        count += len(cases)
    inserted = time.perf_counter()
    with db.engine.begin() as conn:
        for ix in dropped:
            ix.create(conn)
    print(f"  (rows generated and inserted in {inserted - started:.1f} s, indexes built in "
          f"{time.perf_counter() - inserted:.1f} s)", flush=True)
    return count


def analyze(db: Database) -> None:
    if db.dialect == "sqlite":
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        raw = db.engine.raw_connection()  # outside a transaction (the engine's connections begin one)
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    else:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")


# -- indexes: --reuse keeps the data and makes the task/case indexes match engine/model.py ----------

def reconcile_indexes(db: Database) -> None:
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_index (name VARCHAR(200) PRIMARY KEY, ddl TEXT)")
        recorded = dict(conn.exec_driver_sql("SELECT name, ddl FROM bench_index").all())
    for table in (Task.__table__, Case.__table__):
        wanted = {ix.name: (ix, str(CreateIndex(ix).compile(dialect=db.engine.dialect)).strip())
                  for ix in table.indexes}
        present = {ix["name"] for ix in inspect(db.engine).get_indexes(table.name) if not ix.get("unique")}
        for name in sorted(present):
            if name not in wanted or recorded.get(name, wanted[name][1]) != wanted[name][1]:
                print(f"  drop index {name}")
                with db.engine.begin() as conn:
                    conn.exec_driver_sql(f'DROP INDEX "{name}"')
                    conn.execute(text("DELETE FROM bench_index WHERE name = :n"), {"n": name})
                present.discard(name)
        for name, (ix, ddl) in wanted.items():
            if name not in present:
                started = time.perf_counter()
                with db.engine.begin() as conn:
                    ix.create(conn)
                print(f"  create index {name} ({time.perf_counter() - started:.1f} s)")
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM bench_index WHERE name = :n"), {"n": name})
                conn.execute(text("INSERT INTO bench_index (name, ddl) VALUES (:n, :d)"), {"n": name, "d": ddl})


def record_indexes(db: Database) -> None:
    """Remember the DDL of the indexes created with the schema (for a later --reuse)."""
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS bench_index (name VARCHAR(200) PRIMARY KEY, ddl TEXT)")
        for table in (Task.__table__, Case.__table__):
            for ix in table.indexes:
                ddl = str(CreateIndex(ix).compile(dialect=db.engine.dialect)).strip()
                conn.execute(text("INSERT INTO bench_index (name, ddl) VALUES (:n, :d)"), {"n": ix.name, "d": ddl})


# -- measuring ------------------------------------------------------------------------------------

def shapes(later: int):
    """(label, username, callable(session, actor))."""
    def box(scope, page=1, **kw):
        return lambda s, a: inbox_plan.inbox(s, a, scope, now=NOW, page=page, per_page=20, **kw)

    def counts(s, a):
        return inbox_plan.inbox_counts(s, a)
    return [
        ("grid1 claimable p1", "grid1", box("claimable")),
        (f"grid1 claimable p{later}", "grid1", box("claimable", later)),
        ("grid1 claimable cat p1", "grid1", box("claimable", category="garbage")),
        ("grid1 mine p1", "grid1", box("mine")),
        ("grid1 counts", "grid1", counts),
        ("street1 claimable p1", "street1", box("claimable")),
        (f"street1 claimable p{later}", "street1", box("claimable", later)),
        ("street1 counts", "street1", counts),
        ("liaison claimable p1", "liaison_power", box("claimable")),
        (f"liaison claimable p{later}", "liaison_power", box("claimable", later)),
        ("liaison counts", "liaison_power", counts),
        ("supervisor area p1", "supervisor1", box("area")),
        (f"supervisor area p{later}", "supervisor1", box("area", later)),
        ("supervisor counts", "supervisor1", counts),
        ("supervisor unassignable", "supervisor1", lambda s, a: inbox_plan.unassignable_count(s, a)),
    ]


def describe(result) -> str:
    if isinstance(result, dict):
        return " ".join(f"{k}={v}" for k, v in result.items())
    if isinstance(result, int):  # a lone count (a Total)
        return f"{result} tasks"
    items, total = result
    return f"{len(items)} items of {total}"


def measure(db: Database, runs: int, later: int, explain: bool) -> dict[str, tuple[float, float]]:
    with db.reading() as s:
        ids = dict(s.execute(select(User.username, User.id)).all())
        actors = {name: org.actor(s, uid) for name, uid in ids.items()}
    figures = {}
    for label, username, call in shapes(later):
        actor = actors[username]
        for _ in range(max(5, runs // 20)):  # warm up (and let psycopg prepare its statements)
            with db.reading() as s:
                result = call(s, actor)
        if explain:
            show_plans(db, call, actor, label)
        times = []
        for _ in range(runs):
            with db.reading() as s:
                started = time.perf_counter()
                call(s, actor)
                times.append((time.perf_counter() - started) * 1000)
        med, p95 = statistics.median(times), statistics.quantiles(times, n=20)[18]
        figures[label] = (med, p95)
        print(f"  {label:26} median {med:7.2f} ms   p95 {p95:7.2f} ms   ({describe(result)})", flush=True)
    return figures


def show_plans(db: Database, call, actor, label: str) -> None:
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))
    event.listen(db.read_engine, "before_cursor_execute", capture)
    try:
        with db.reading() as s:
            call(s, actor)
    finally:
        event.remove(db.read_engine, "before_cursor_execute", capture)
    print(f"  -- plans for {label}")
    with db.read_engine.connect() as conn:
        for statement, parameters in statements:
            print("    " + " ".join(statement.split())[:600])
            if db.dialect == "sqlite":
                rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
                for row in rows:
                    print(f"      {row[1]:>3} {row[3]}")
            else:
                rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
                for row in rows:
                    print("      " + row[0])


# -- one backend ----------------------------------------------------------------------------------

def fresh_pg(reuse: bool) -> str | None:
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_DB}).first()
            if not (reuse and exists):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)")
                conn.exec_driver_sql(f"CREATE DATABASE {PG_DB}")
        admin.dispose()
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional here
        print(f"PostgreSQL not reachable ({exc.__class__.__name__}: {str(exc).splitlines()[0]}); skipped")
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + PG_DB


def run_backend(name: str, url: str, total_cases: int, args) -> None:
    print(f"\n=== {name}: {url}", flush=True)
    db = Database(url)
    runtime = Runtime(db)
    with db.reading() as s:
        stored = s.scalar(select(func.count()).select_from(Case)) if inspect(db.engine).has_table("case") else 0
    rng = random.Random(42)
    stages = {}
    if args.reuse and stored:
        print(f"reusing {stored} stored cases; reconciling indexes with engine/model.py")
        reconcile_indexes(db)
        analyze(db)
        stages[stored] = measure(db, args.runs, args.later_page, args.explain)
    else:
        db.create_schema()  # the indexes of engine/model.py, by its migrations
        record_indexes(db)
        runtime.deploy()
        with db.transaction() as s:
            seed_demo(s)
        with db.reading() as s:
            world = World(s)
        started = time.perf_counter()
        n_open = load(db, open_set(world, rng))
        analyze(db)
        print(f"stored the open set: {n_open} cases, {n_open} tasks ({OPEN_TASKS} open) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        stages[n_open] = measure(db, args.runs, args.later_page, args.explain)
        if total_cases > n_open:
            started = time.perf_counter()
            load(db, history(world, rng, n_open + 1, total_cases))
            analyze(db)
            print(f"stored the history: now {total_cases} cases ({3 * (total_cases - n_open)} completed tasks more) "
                  f"in {time.perf_counter() - started:.1f} s", flush=True)
            stages[total_cases] = measure(db, args.runs, args.later_page, args.explain)
    if len(stages) == 2:
        small, large = sorted(stages)
        print(f"  time at {large} / time at {small} stored cases:")
        for label in stages[large]:
            (med, p95), (med0, p950) = stages[large][label], stages[small][label]
            print(f"  {label:26} median {med / med0:5.2f}   p95 {p95 / p950:5.2f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases stored in the end (both backends)")
    parser.add_argument("--sqlite-cases", type=int, help="cases stored in the end on SQLite (default --cases)")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--later-page", type=int, default=25)
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--dir", help="keep the SQLite file here (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true", help="reuse stored data; reconcile indexes only")
    parser.add_argument("--explain", action="store_true", help="print the query plans of each shape")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or tmp
        if not args.no_sqlite:
            path = os.path.join(folder, "inbox_bench.sqlite")
            if not args.reuse:
                for suffix in ("", "-wal", "-shm"):
                    if os.path.exists(path + suffix):
                        os.remove(path + suffix)
            run_backend("SQLite", f"sqlite:///{path}", args.sqlite_cases or args.cases, args)
        if not args.no_pg:
            url = fresh_pg(args.reuse)
            if url:
                run_backend("PostgreSQL", url, args.cases, args)


if __name__ == "__main__":
    main()
