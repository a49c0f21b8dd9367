"""The bureau's figures at scale: the dashboard's queries for the city, a district and a grid
with 100k and then 1M closed cases over 12 months, on PostgreSQL, and their ratio.

A sample of cases is driven through the engine (report, acceptance, grid handling or a whistle
to the department and the liaison's report-in, verification, feedback; some reworked, some
closed without feedback), each on the engine's clock somewhere in the 12 months. The rest is
bulk-loaded with COPY into the case table in the sample's shape: the same grids, categories,
sources and departments (from the routing decision table), deadlines from the case limits of
time_limits.dmn (plain time; working-day limits as calendar days x 7/5), stage timestamps in
the same order, 2 % extended once. The figures read the case table, its rollup and its
backlog, so after each load both are recounted from all case rows (``rollups.rebuild``, the
same counting the commands do; the sample's rows, kept by the commands, come out the same).

Measured (median of ``--runs`` calls, each a fresh read session, after a warm-up), as the
dashboard asks: ``figures`` = November 2026 (the last of the 12 months) grouped one level down
plus October's figures; ``page`` adds the six-month trend of the page's first chart; ``mtd``
is 1-20 November grouped plus the 20 days before (read from the day rows of the rollup).

    .venv/bin/python bench/metrics.py [--cases 1000000] [--sample 100] [--runs 5] [--keep | --reuse]

Works in a PostgreSQL database of its own (bench/scratch_db.py), created and dropped by this
script; the server is GRIDLOOP_BENCH_PG_ADMIN (default postgres@127.0.0.1:5432). Loading 1M
cases takes long on a busy machine: ``--keep`` keeps the two states as databases
``gridloop_bench_metrics_<small>`` and ``gridloop_bench_metrics_<cases>``, and ``--reuse``
measures them again (``--recount``: after recounting their rollups and backlogs, when those
changed; a new table comes with ``gridloop init-db``, whose migration fills it).
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")  # the demo users are seeded, not benchmarked
sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.scratch_db import scratch_database  # noqa: E402
from gridloop.engine import metrics, rollups  # noqa: E402
from gridloop.engine.clock import FrozenClock  # noqa: E402
from gridloop.engine.db import Database  # noqa: E402
from gridloop.engine.model import OrgUnit, Task, User  # noqa: E402
from gridloop.engine.runtime import Runtime  # noqa: E402
from gridloop.engine.seed import seed_demo  # noqa: E402

PG_ADMIN = os.environ.get("GRIDLOOP_BENCH_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
FIRST = datetime(2025, 12, 1, tzinfo=timezone.utc)  # 12 months: December 2025 .. November 2026
DAYS = 365
NOW = datetime(2026, 12, 10, tzinfo=timezone.utc)
ANSWERS = (("satisfied", 0.78), ("basically_satisfied", 0.12), ("unsatisfied", 0.04), ("no_feedback", 0.06))
SOURCES = ("patrol", "resident", "hotline", "qr_code")
COLUMNS = ("title", "description", "category", "urgency", "source", "grid_id", "org_path", "department", "stage",
           "status", "escalation_level", "rework_count", "return_count", "timeout_count", "reported_at",
           "dispatched_at", "whistled_at", "claimed_at", "resolved_at", "verified_at", "closed_at", "due_at",
           "updated_at", "satisfaction", "feedback_contacted", "feedback_resolved", "feedback_at", "extension_count")


def _limit_hours(limit: str) -> float:
    if limit.startswith("PT") and limit.endswith("H"):
        return float(limit[2:-1])
    if limit.endswith("WD"):
        return float(limit[:-2]) * 24 * 7 / 5
    raise ValueError(limit)


def drive_sample(rt: Runtime, clock: FrozenClock, n: int, rng: random.Random) -> None:
    """``n`` cases through the engine, spread over the 12 months."""
    with rt.db.reading() as s:
        ids = dict(s.execute(select(User.username, User.id)).all())
        grids = list(s.scalars(select(OrgUnit.code).where(OrgUnit.level == "grid", OrgUnit.code.like("210102001%"))))
    categories = [c for c in rt.categories() if c["code"] in ("garbage", "power_outage", "noise", "water_leak")]

    def step(case_id, username, data):
        with rt.db.reading() as s:
            task = s.scalars(select(Task).where(Task.case_id == case_id, Task.status.in_(("open", "claimed")))).first()
        rt.claim(ids[username], task.id)
        clock.advance(minutes=rng.randint(10, 300))
        rt.complete_task(ids[username], task.id, data)

    def verifier(case_id, worker):  # verification.dmn: the community verifies what its grid resolved
        with rt.db.reading() as s:
            role = s.scalar(select(Task.role).where(Task.case_id == case_id, Task.status == "open"))
        return "community1" if role == "coordinator" else worker

    for i in range(n):
        clock.set(FIRST + timedelta(days=DAYS * i / n, hours=rng.randint(0, 23)))
        category = categories[i % len(categories)]
        grid = grids[0] if i % 3 else grids[min(1, len(grids) - 1)]
        worker = "grid1" if grid == grids[0] else "grid2"
        case_id = rt.report_case(ids["acceptor1"], {
            "title": f"sample {i}", "description": "bench", "category": category["code"], "source": "hotline",
            "grid": grid, "reporter": {"name": "张三", "phone": "13800000000"},
            "location": {"address": "和平区", "lat": 41.79, "lon": 123.4}}).id
        step(case_id, "acceptor1", {"outcome": "accept"})
        if category["department"] and i % 2:
            step(case_id, worker, {"outcome": "whistle", "department": category["department"]})
            step(case_id, f"liaison_{category['department']}", {"outcome": "resolved", "resolution": "fixed"})
        else:
            step(case_id, worker, {"outcome": "resolved", "resolution": "fixed"})
        if i % 10 == 0:  # one in ten fails verification once: rework
            step(case_id, verifier(case_id, worker), {"outcome": "failed", "note": "not fixed"})
            with rt.db.reading() as s:
                stage = s.scalar(select(Task.stage).where(Task.case_id == case_id, Task.status == "open"))
            step(case_id, worker if stage == "grid_handling" else f"liaison_{category['department']}",
                 {"outcome": "resolved", "resolution": "fixed again"})
        step(case_id, verifier(case_id, worker), {"outcome": "passed"})
        answer = ANSWERS[i % 3][0]
        step(case_id, "acceptor1", {"contacted": True, "resolved": answer != "unsatisfied", "satisfaction": answer})


def bulk_rows(n: int, grids: list[tuple[int, str]], categories: list[dict], limits: dict[str, str],
              rng: random.Random):
    """``n`` closed cases in the sample's shape, as COPY rows."""
    weights = [w for _a, w in ANSWERS]
    for i in range(n):
        grid_id, path = grids[rng.randrange(len(grids))]
        category = categories[rng.randrange(len(categories))]
        reported = FIRST + timedelta(seconds=rng.randrange(DAYS * 86400))
        due = reported + timedelta(hours=_limit_hours(limits[category["code"]]))
        whistled = category["department"] is not None and not category["grid_may_handle"] or rng.random() < 0.3
        dispatched = reported + timedelta(minutes=rng.randint(5, 120))
        whistled_at = dispatched + timedelta(minutes=rng.randint(10, 600)) if whistled else None
        claimed_at = whistled_at + timedelta(minutes=rng.lognormvariate(3.4, 0.8)) if whistled else None
        resolved = (claimed_at or dispatched) + timedelta(hours=rng.lognormvariate(2.5, 1.0))
        verified = resolved + timedelta(hours=rng.uniform(0.5, 8))
        closed = verified + timedelta(hours=rng.uniform(0.5, 24))
        answer = rng.choices(ANSWERS, weights)[0][0]
        escalation = 0 if rng.random() < 0.9 else rng.randint(1, 4)
        answered = answer != "no_feedback"
        yield (f"case {i}", "", category["code"], "normal", SOURCES[i % len(SOURCES)], grid_id, path,
               category["department"] if whistled else None, "closed", "closed", escalation,
               1 if rng.random() < 0.05 else 0, 1 if rng.random() < 0.03 else 0, 0, reported, dispatched,
               whistled_at, claimed_at, resolved, verified, closed, due, closed, answer,
               (rng.random() < 0.98) if answered else None, (answer != "unsatisfied") if answered else None,
               closed if answered else None, 1 if rng.random() < 0.02 else 0)


def bulk_load(db: Database, tz, n: int, rng: random.Random, limits: dict[str, str], categories: list[dict]) -> float:
    started = time.perf_counter()
    with db.reading() as s:
        grids = s.execute(select(OrgUnit.id, OrgUnit.path).where(OrgUnit.level == "grid")).all()
    raw = db.engine.raw_connection()
    try:
        with raw.cursor() as cur:
            with cur.copy(f'COPY "case" ({", ".join(COLUMNS)}) FROM STDIN') as copy:
                for row in bulk_rows(n, [tuple(g) for g in grids], categories, limits, rng):
                    copy.write_row(row)
        raw.commit()
    finally:
        raw.close()
    with db.transaction() as s:
        rows = rollups.rebuild(s, tz)
    print(f"  rollup recounted: {rows} rows")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text('VACUUM ANALYZE "case"'))
        conn.execute(text("VACUUM ANALYZE case_rollup"))
    return time.perf_counter() - started


def dashboard(db: Database, f: metrics.Filters, tz, page: bool) -> None:
    """What /dashboard computes (web/dashboard.py): grouped figures, the previous period's,
    with ``page`` the six months of the trend chart."""
    with db.reading() as s:
        metrics.figures(s, f, group_by=metrics.grouping_below(s, f))
        metrics.figures(s, f.previous())
        if page:
            last = (f.end - timedelta(microseconds=1)).astimezone(tz).date()
            for back in range(1, 6):
                year, month = divmod(last.year * 12 + last.month - 1 - back, 12)
                first, final = metrics.month(f"{year:04d}-{month + 1:02d}")
                start, end, asof = metrics.period(first, final, tz, NOW)
                metrics.figures(s, metrics.Filters(start, end, asof, f.area_path, tz=tz))


def measure(db: Database, tz, runs: int) -> dict[tuple[str, str], float]:
    first, last = metrics.month("2026-11")
    periods = {"figures": metrics.period(first, last, tz, NOW), "page": metrics.period(first, last, tz, NOW),
               "mtd": metrics.period(first, date(2026, 11, 20), tz, NOW)}
    with db.reading() as s:
        paths = dict(s.execute(select(OrgUnit.code, OrgUnit.path).where(
            OrgUnit.code.in_(("2101", "210102", "21010200101001")))).all())
    result = {}
    for label, code in (("city", "2101"), ("district", "210102"), ("grid", "21010200101001")):
        for kind, (start, end, asof) in periods.items():
            f = metrics.Filters(start, end, asof, paths[code], tz=tz)
            dashboard(db, f, tz, kind == "page")  # warm-up
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                dashboard(db, f, tz, kind == "page")
                times.append((time.perf_counter() - t0) * 1000)
            result[(label, kind)] = statistics.median(times)
    return result


KEPT = "gridloop_bench_metrics_{}"


def _admin():
    return create_engine(make_url(PG_ADMIN).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _kept(cases: int) -> str:
    return make_url(PG_ADMIN).set(database=KEPT.format(cases)).render_as_string(hide_password=False)


@contextmanager
def _database(keep: bool, cases: int):
    """A scratch database, or with ``keep`` a new one named after ``cases`` that stays."""
    if not keep:
        with scratch_database(PG_ADMIN, "gridloop_bench_metrics") as url:
            yield url
        return
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{KEPT.format(cases)}"'))
    admin.dispose()
    yield _kept(cases)


def _copy(db: Database, cases: int, small: int) -> None:
    """Keep the database's state at ``small`` cases as a copy (a template needs no sessions)."""
    db.dispose()
    admin = _admin()
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{KEPT.format(small)}" TEMPLATE "{KEPT.format(cases)}"'))
    admin.dispose()


def generate(args, rng: random.Random) -> dict[int, dict]:
    figures = {}
    with _database(args.keep, args.cases) as url:
        db = Database(url)
        db.create_schema()
        clock = FrozenClock(FIRST)
        rt = Runtime(db, clock=clock)
        rt.deploy()
        with db.transaction() as s:
            seed_demo(s)
        t0 = time.perf_counter()
        drive_sample(rt, clock, args.sample, rng)
        print(f"sample: {args.sample} cases through the engine in {time.perf_counter() - t0:.1f} s")
        limits = _case_limits(rt)
        categories = rt.categories()
        stored = args.sample
        for target in (args.small, args.cases):
            took = bulk_load(db, rt.calendar.tz, target - stored, rng, limits, categories)
            print(f"loaded {target - stored} cases in {took:.1f} s ({target} stored)")
            stored = target
            figures[target] = measure(db, rt.calendar.tz, args.runs)
            if args.keep and target == args.small:
                _copy(db, args.cases, args.small)
        db.dispose()
    return figures


def remeasure(args) -> dict[int, dict]:
    """Measure the kept databases again, their schema (and with ``--recount`` their rollup)
    brought up to this code's."""
    figures = {}
    for cases in (args.small, args.cases):
        db = Database(_kept(cases))
        db.create_schema()
        tz = Runtime(db).calendar.tz
        if args.recount:
            t0 = time.perf_counter()
            with db.transaction() as s:
                rows = rollups.rebuild(s, tz)
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE case_rollup"))
            print(f"{cases} cases: rollup recounted ({rows} rows) in {time.perf_counter() - t0:.1f} s")
        figures[cases] = measure(db, tz, args.runs)
        db.dispose()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000, help="the first measurement's case count")
    parser.add_argument("--sample", type=int, default=100, help="cases driven through the engine")
    parser.add_argument("--runs", type=int, default=5)
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument("--keep", action="store_true", help="keep the loaded databases for --reuse")
    kept.add_argument("--reuse", action="store_true", help="measure the databases --keep kept")
    parser.add_argument("--recount", action="store_true", help="with --reuse: recount their rollups first")
    args = parser.parse_args()
    figures = remeasure(args) if args.reuse else generate(args, random.Random(12345))
    print(f"\nmedian ms, November 2026 ({args.runs} runs) | {args.small:,} cases | {args.cases:,} cases | ratio")
    for key in figures[args.small]:
        small, large = figures[args.small][key], figures[args.cases][key]
        print(f"{key[0]:8s} {key[1]:8s} | {small:8.1f} | {large:8.1f} | {large / small:5.2f}")


def _case_limits(rt: Runtime) -> dict[str, str]:
    """Each category's case limit (normal urgency), evaluated from the deployed decision table."""
    from gridloop.engine import definitions
    from gridloop.engine.runtime import _Probe
    with rt.db.reading() as s:
        loaded = rt.specs.get(s, definitions.find_definition(s, "closed_loop").id)
    decide = definitions.decision_with_output(loaded, "case_limit")
    return {c["code"]: decide(_Probe({"category": c["code"], "urgency": "normal"}, rt.script_engine))["case_limit"]
            for c in rt.categories()}


if __name__ == "__main__":
    main()
