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


def _verified_and_closed(api, case_id, verifier="grid1", answer=SATISFIED):
    """Verified (by the grid what a department resolved, by the community what its grid did) and
    answered."""
    api.step(case_id, verifier, {"outcome": "passed"}, stage="verification")
    api.step(case_id, "acceptor1", answer, stage="feedback")


def _history(api, world, clock):
    """Two weeks of cases from 2026-03-02 (times on the engine's clock)."""
    start = clock.now()
    extended, task = _whistled(api)  # an approved extension, then closed past even the new deadline
    _ask(api, extended["id"], "liaison_water", kind="extension", task_id=task["id"], reason="Parts on order",
         until=(start + timedelta(days=2)).isoformat())
    _approve(api, extended["id"])
    suspended, held = _whistled(api)  # suspended for five days, resumed, closed
    _ask(api, suspended["id"], "liaison_water", kind="suspension", task_id=held["id"], reason="Court ruling",
         until=(start + timedelta(days=5)).isoformat())
    _approve(api, suspended["id"])
    voided = api.report("grid1", category="garbage")
    original = api.report("grid1", category="water_leak")
    duplicate = api.report("grid1", category="water_leak", title="Same leak")
    reworked = api.report("grid1", category="garbage")
    still_open = api.report("grid1", category="noise")

    _at(api, clock, start + timedelta(days=1, hours=3))
    api.step(reworked["id"], "grid1", RESOLVED)
    _verified_and_closed(api, reworked["id"], "community1",
                         {"contacted": True, "resolved": False, "satisfaction": "unsatisfied"})
    _ask(api, duplicate["id"], "grid1", kind="merge", reason="Same leak", original=original["number"])
    _approve(api, duplicate["id"])
    _ask(api, voided["id"], "acceptor1", kind="void", reason="Reported in error")
    _approve(api, voided["id"])

    _at(api, clock, start + timedelta(days=3, hours=5))
    api.step(original["id"], "grid1", {"outcome": "whistle", "department": "water"})
    api.step(original["id"], "liaison_water", RESOLVED)
    _verified_and_closed(api, original["id"])  # the duplicate's reporter is called back
    api.step(reworked["id"], "grid1", RESOLVED)
    _verified_and_closed(api, reworked["id"], "community1")

    _at(api, clock, start + timedelta(days=5, minutes=5))
    timers.run_due(world)
    review = next(t for t in api.case(suspended["id"])["open_tasks"] if t["element_id"] == "review_suspension")
    api.post(f"/tasks/{review['id']}/complete", "street1", json={"data": {"outcome": "resume"}})

    _at(api, clock, start + timedelta(days=9, hours=2))
    for case in (extended, suspended):
        api.post(f"/tasks/{api.open_task(case['id'])['id']}/complete", "liaison_water", json={"data": RESOLVED})
        _verified_and_closed(api, case["id"])
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
    # The extended case, due 03-04 09:00 and closed 03-11: overdue at the midnights of 03-05
    # (< 1 day), 03-06 and 03-07 (1-3 days), 03-08 to 03-11 (3-7 days), among others.
    assert totals["band_lt_1d"] and totals["band_1d_3d"] and totals["band_3d_7d"]
    assert totals["overdue"] == sum(totals[f"band_{name}"] for name, _l, _h in metrics.BANDS) < totals["cases"]


def test_the_figures_at_each_midnight_equal_those_from_the_case_rows(any_api, any_world, clock):
    _history(any_api, any_world, clock)
    tz, now = any_world.calendar.tz, clock.now()
    with any_world.db.reading() as s:
        for offset in range(12):
            last = date(2026, 3, 1) + timedelta(days=offset)
            for first in (last, date(2026, 3, 1)):
                start, end, asof = metrics.period(first, last, tz, now)
                assert metrics._cutoff_day(metrics.Filters(start, end, asof, tz=tz)) is not None
                for area in (None, "/2101/210102/"):
                    f = metrics.Filters(start, end, asof, area, tz=tz)
                    for group_by in (None, "district", "grid", "department", "category"):
                        assert metrics.figures(s, f, group_by=group_by) == \
                            metrics.figures(s, f, group_by=group_by, exact=True), (first, last, area, group_by)
