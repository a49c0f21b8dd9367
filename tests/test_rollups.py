"""The figures' rollup (engine/rollups.py) kept by the commands equals the case rows it
summarizes: cases driven through the engine over two months (rework after a failed
verification, rework after unsatisfied feedback, a case reported in October and closed in
November, a rejected one, one closed by the feedback limit, one still open); the figures
read from the rollup equal the figures computed from the case rows."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from gridloop.engine import metrics, rollups, timers
from gridloop.engine.clock import FrozenClock
from gridloop.engine.model import CaseRollup
from gridloop.engine.runtime import Runtime

from .loop_driver import LoopDriver

TZ = ZoneInfo("Asia/Shanghai")
RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}


def local(month, day, hour=10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=TZ).astimezone(timezone.utc)


@pytest.fixture
def loop(any_db):
    """The history above, driven through the engine, on each database."""
    loop = LoopDriver(Runtime(any_db, clock=FrozenClock(local(10, 28))))
    clock = loop.rt.clock
    quick = loop.report("grid1", category="garbage", source="patrol")  # closed the day it came
    loop.step(quick, "grid1", RESOLVED)
    clock.set(local(10, 28, 15))
    loop.close_after_resolution(quick, "satisfied")

    clock.set(local(10, 31, 22))  # October to November, reworked after a failed verification
    spanning = loop.report("grid1", category="water_leak", source="patrol")
    loop.step(spanning, "grid1", {"outcome": "whistle", "department": "water"})
    clock.set(local(10, 31, 22) + timedelta(minutes=30))
    loop.step(spanning, "liaison_water", RESOLVED)
    clock.set(local(10, 31, 23))
    loop.step(spanning, "grid1", {"outcome": "failed", "note": "Still leaking"})
    clock.set(local(11, 1, 0) + timedelta(minutes=30))
    loop.step(spanning, "liaison_water", RESOLVED)
    loop.close_after_resolution(spanning, "basically_satisfied")

    clock.set(local(11, 3))  # reworked after unsatisfied feedback
    reworked = loop.report("acceptor1", category="garbage", source="resident")
    loop.step(reworked, "acceptor1", {"outcome": "accept"})
    loop.step(reworked, "grid1", RESOLVED)
    loop.step(reworked, "community1", {"outcome": "passed"})
    loop.step(reworked, "acceptor1", {"contacted": True, "resolved": False, "satisfaction": "unsatisfied"})
    clock.set(local(11, 3, 16))
    loop.step(reworked, "grid1", RESOLVED)
    loop.close_after_resolution(reworked, "satisfied")

    rejected = loop.report("acceptor1", category="noise", source="hotline")
    loop.step(rejected, "acceptor1", {"outcome": "reject", "reject_reason": "duplicate"})

    clock.set(local(11, 10))
    silent = loop.report("grid1", category="street_light", source="patrol")  # closed by the feedback limit
    loop.step(silent, "grid1", RESOLVED)
    loop.step(silent, "community1", {"outcome": "passed"})
    loop.report("grid1", category="noise", source="patrol")  # still open
    clock.set(local(11, 28))
    timers.run_due(loop.rt)
    assert loop.case(silent).satisfaction == "no_feedback" and loop.case(rejected).status == "rejected"
    return loop


def snapshot(db) -> set[tuple]:
    with db.reading() as s:
        rows = s.execute(select(CaseRollup)).scalars().all()
        return {(tuple(getattr(r, k) for k in rollups.KEY), tuple(getattr(r, c) for c in rollups.COLUMNS))
                for r in rows if any(getattr(r, c) for c in rollups.COLUMNS)}


def test_the_commands_keep_the_rollup_equal_to_a_rebuild_from_the_cases(loop):
    kept = snapshot(loop.rt.db)
    with loop.rt.db.transaction() as s:
        rollups.rebuild(s, TZ)
    assert snapshot(loop.rt.db) == kept
    assert {k[1] for k, _ in kept} == {"reported", "closed"}
    city = [(k, v) for k, v in kept if k[4] == "/2101/"]  # every case counts in the city's rows too
    assert sum(v[0] for k, v in city if k[:2] == ("month", "reported")) == 5  # six reported, one rejected
    assert sum(v[0] for k, v in city if k[:2] == ("month", "closed")) == 4
    for depth in range(1, 5):  # and once at each level below: each level's rows add up to the city's
        level = [(k, v) for k, v in kept if k[4].count("/") - 2 == depth]
        for grain, kind in (("month", "reported"), ("month", "closed"), ("day", "closed")):
            assert sum(v[0] for k, v in level if k[:2] == (grain, kind)) == \
                sum(v[0] for k, v in city if k[:2] == (grain, kind))


PERIODS = [(date(2026, 10, 1), date(2026, 10, 31)), (date(2026, 11, 1), date(2026, 11, 30)),
           (date(2026, 10, 1), date(2026, 11, 30)), (date(2026, 10, 29), date(2026, 11, 5)),
           (date(2026, 10, 1), date(2026, 11, 4)), (date(2026, 11, 1), date(2026, 11, 2))]


AREAS = ("/2101/", "/2101/210102/", "/2101/210102/210102001/", "/2101/210102/210102001/21010200101/",
         "/2101/210102/210102001/21010200101/21010200101001/", "/2101/210105/")


@pytest.mark.parametrize("first,last", PERIODS)
def test_figures_from_the_rollup_equal_those_from_the_case_rows(loop, first, last):
    start, end, asof = metrics.period(first, last, TZ, loop.rt.clock.now())
    f = metrics.Filters(start, end, asof, tz=TZ)
    assert rollups.spans(start, end, TZ) is not None
    with loop.rt.db.reading() as s:
        for group_by in (None, "district", "community", "grid", "department", "category", "source"):
            assert metrics.figures(s, f, group_by=group_by) == metrics.figures(s, f, group_by=group_by, exact=True)
        narrowed = metrics.Filters(start, end, asof, "/2101/210102/", "water", None, "patrol", TZ)
        assert metrics.figures(s, narrowed) == metrics.figures(s, narrowed, exact=True)
        for area in AREAS:  # an area's own rows, and its breakdown by any level, hold its subtree
            scoped = metrics.Filters(start, end, asof, area, tz=TZ)
            for group_by in (None, "district", "street", "community", "grid", "category"):
                assert metrics.figures(s, scoped, group_by=group_by) == \
                    metrics.figures(s, scoped, group_by=group_by, exact=True)


def test_medians_from_the_histograms_stay_within_their_bucket(loop, monkeypatch):
    start, end, asof = metrics.period(date(2026, 10, 1), date(2026, 11, 30), TZ, loop.rt.clock.now())
    f = metrics.Filters(start, end, asof, tz=TZ)
    with loop.rt.db.reading() as s:
        exact = metrics.figures(s, f, group_by="category", exact=True)
        monkeypatch.setattr(metrics, "EXACT_LIMIT", 0)
        binned = metrics.figures(s, f, group_by="category")
    pairs = [(exact["figures"], binned["figures"])] + list(zip(
        [g["figures"] for g in sorted(exact["groups"], key=lambda g: g["key"])],
        [g["figures"] for g in sorted(binned["groups"], key=lambda g: g["key"])], strict=True))
    for want, got in pairs:
        for name in ("close_hours", "report_in_minutes"):
            for part in ("value", "p90"):
                if want[name][part] is None:
                    assert got[name][part] is None
                else:
                    first_bucket = 0.25 if name == "close_hours" else 1.0  # 15 min, 1 min
                    assert abs(got[name][part] - want[name][part]) <= 0.42 * want[name][part] + first_bucket
        assert {k: v for k, v in got.items() if k not in ("close_hours", "report_in_minutes")} == \
            {k: v for k, v in want.items() if k not in ("close_hours", "report_in_minutes")}


def test_a_period_is_read_as_whole_months_then_days():
    def spans(first, last):
        start, end, _ = metrics.period(first, last, TZ, datetime(2027, 1, 1, tzinfo=timezone.utc))
        return rollups.spans(start, end, TZ)
    assert spans(date(2026, 11, 1), date(2026, 11, 30)) == [("month", date(2026, 11, 1), date(2026, 11, 1))]
    assert spans(date(2026, 10, 1), date(2026, 11, 15)) == [("month", date(2026, 10, 1), date(2026, 10, 1)),
                                                            ("day", date(2026, 11, 1), date(2026, 11, 15))]
    assert spans(date(2026, 10, 15), date(2026, 11, 30)) == [("day", date(2026, 10, 15), date(2026, 11, 30))]
    assert spans(date(2026, 11, 1), date(2026, 11, 20)) == [("day", date(2026, 11, 1), date(2026, 11, 20))]
    start = datetime(2026, 11, 1, 3, tzinfo=timezone.utc)  # not a local midnight: read from the rows
    assert rollups.spans(start, start + timedelta(days=3), TZ) is None


def test_histogram_percentiles_interpolate_inside_the_bucket():
    edges = (10.0, 20.0, 40.0)
    assert rollups.percentile([0, 0, 0, 0], edges, 0.5) is None
    assert rollups.percentile([0, 1, 0, 0], edges, 0.5) == 15.0  # one value in [10, 20): its middle
    assert rollups.percentile([2, 0, 2, 0], edges, 0.5) == 16.25  # 7.5 (2nd of [0, 10)) to 25 (1st of [20, 40))
    assert rollups.percentile([0, 0, 0, 3], edges, 0.9) == 40.0  # open last bucket: its lower edge
