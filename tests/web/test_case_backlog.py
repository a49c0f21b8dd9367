"""The figures' backlog (engine/rollups.py, ``case_backlog``: the closed cases open at each
local midnight, overdue and by age band) kept by the commands equals a recount from the case
rows, through every command that moves what it counts: report, close, an approved extension
(the deadline moves), a suspension and its resumption, a void, a merge and the original's
closing, rework after unsatisfied feedback; and the figures at each midnight cut-off read
from it equal those counted from the case rows alone."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from gridloop.engine import metrics, rollups, timers
from gridloop.engine.model import CASE_BACKLOG_COUNTS, CaseBacklog

from .conftest import RESOLVED
from .test_api_exceptions import _approval, _ask, _at, _whistled

SATISFIED = {"contacted": True, "resolved": True, "satisfaction": "satisfied"}


def _approve(api, case_id):
    api.post(f"/tasks/{_approval(api, case_id)['id']}/complete", "street1", json={"data": {"outcome": "approve"}})


def _verified_and_closed(api, case_id, verifier, answer):
    """Verified (by the community what its grid resolved) and answered."""
    api.step(case_id, verifier, {"outcome": "passed"}, stage="verification")
    api.step(case_id, "acceptor1", answer, stage="feedback")


def _history(api, world, clock):
    """Cases from 2026-03-02 09:00 (local) over nine days; each waits where no limit moves it."""
    start = clock.now()
    extended, task = _whistled(api)  # an approved extension, then closed by the feedback limit, late
    _ask(api, extended["id"], "liaison_water", kind="extension", task_id=task["id"], reason="Parts on order",
         until=(start + timedelta(days=2)).isoformat())
    _approve(api, extended["id"])
    api.post(f"/tasks/{task['id']}/complete", "liaison_water", json={"data": RESOLVED})
    api.step(extended["id"], "grid1", {"outcome": "passed"}, stage="verification")
    suspended, held = _whistled(api)  # suspended for five days, resumed, closed by the feedback limit
    _ask(api, suspended["id"], "liaison_water", kind="suspension", task_id=held["id"], reason="Court ruling",
         until=(start + timedelta(days=5)).isoformat())
    _approve(api, suspended["id"])
    voided = api.report("grid1", category="garbage")
    _ask(api, voided["id"], "acceptor1", kind="void", reason="Reported in error")
    _approve(api, voided["id"])
    original = api.report("grid1", category="water_leak")
    duplicate = api.report("grid1", category="water_leak", title="Same leak")
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=original["number"])
    _approve(api, duplicate["id"])
    api.step(original["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(original["id"], "liaison_water", RESOLVED)
    api.step(original["id"], "grid1", {"outcome": "passed"}, stage="verification")
    reworked = api.report("grid1", category="garbage")  # reworked after unsatisfied feedback
    api.step(reworked["id"], "grid1", RESOLVED)
    _verified_and_closed(api, reworked["id"], "community1",
                         {"contacted": True, "resolved": False, "satisfaction": "unsatisfied"})
    api.step(reworked["id"], "grid1", RESOLVED)
    api.step(reworked["id"], "community1", {"outcome": "passed"}, stage="verification")
    still_open = api.report("grid1", category="noise")

    _at(api, clock, start + timedelta(hours=20))  # the next morning: two answers close their cases
    for case in (original, reworked):
        api.step(case["id"], "acceptor1", SATISFIED, stage="feedback")  # the duplicate's reporter is called back

    _at(api, clock, start + timedelta(days=5, minutes=5))  # the review date: resumed, resolved, verified
    timers.run_due(world)
    review = next(t for t in api.case(suspended["id"])["open_tasks"] if t["element_id"] == "review_suspension")
    api.post(f"/tasks/{review['id']}/complete", "street1", json={"data": {"outcome": "resume"}})
    api.post(f"/tasks/{held['id']}/complete", "liaison_water", json={"data": RESOLVED})
    api.step(suspended["id"], "grid1", {"outcome": "passed"}, stage="verification")

    _at(api, clock, start + timedelta(days=9, hours=2))
    timers.run_due(world)
    return {"extended": extended["id"], "suspended": suspended["id"], "voided": voided["id"],
            "merged": duplicate["id"], "original": original["id"], "reworked": reworked["id"],
            "open": still_open["id"]}


def _backlog(db) -> set[tuple]:
    """The backlog's rows that count anything (a case that moved out leaves zeros)."""
    with db.reading() as s:
        return {(tuple(getattr(r, k) for k in rollups.BACKLOG_KEY), tuple(getattr(r, c) for c in CASE_BACKLOG_COUNTS))
                for r in s.scalars(select(CaseBacklog)) if any(getattr(r, c) for c in CASE_BACKLOG_COUNTS)}


def test_the_commands_keep_the_backlog_equal_to_a_recount(any_api, any_world, clock):
    ids = _history(any_api, any_world, clock)
    statuses = {name: any_api.case(case_id)["status"] for name, case_id in ids.items()}
    assert statuses == {"extended": "closed", "suspended": "closed", "voided": "voided", "merged": "merged",
                        "original": "closed", "reworked": "closed", "open": "open"}
    kept = _backlog(any_world.db)
    with any_world.db.transaction() as s:
        rollups.rebuild(s, any_world.calendar.tz)
    assert _backlog(any_world.db) == kept
    city = [dict(zip(CASE_BACKLOG_COUNTS, counts, strict=True)) for key, counts in kept if key[1] == "/2101/"]
    totals = {name: sum(row[name] for row in city) for name in CASE_BACKLOG_COUNTS}
    # Local midnights each case was open at, and overdue: the extended case (due 03-04 09:00,
    # closed by the feedback limit 03-07 09:05) 03-03..03-07, overdue < 1 day at 03-05, 1-3 days
    # at 03-06 and 03-07; the suspended one (due moved to 03-08 09:05, closed 03-11 11:00)
    # 03-03..03-11, overdue < 1 day at 03-09, 1-3 days at 03-10 and 03-11; the original and
    # the reworked case (closed 03-03 05:00) 03-03; neither the voided, the merged nor the open one.
    assert totals == {"cases": 5 + 9 + 1 + 1, "overdue": 6, "band_lt_1d": 2, "band_1d_3d": 4, "band_3d_7d": 0,
                      "band_ge_7d": 0}


def test_the_figures_at_each_midnight_equal_those_from_the_case_rows(any_api, any_world, clock):
    _history(any_api, any_world, clock)
    tz, now = any_world.calendar.tz, clock.now()
    with any_world.db.reading() as s:
        for offset in range(10):  # the last cut-off: 03-11 00:00, before now
            last = date(2026, 3, 1) + timedelta(days=offset)
            for first in (last, date(2026, 3, 1)):
                start, end, asof = metrics.period(first, last, tz, now)
                assert metrics._cutoff_day(metrics.Filters(start, end, asof, tz=tz)) is not None
                for area in (None, "/2101/210102/"):
                    f = metrics.Filters(start, end, asof, area, tz=tz)
                    for group_by in (None, "district", "grid", "department", "category"):
                        assert metrics.figures(s, f, group_by=group_by) == \
                            metrics.figures(s, f, group_by=group_by, exact=True), (first, last, area, group_by)
