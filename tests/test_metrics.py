"""The bureau's figures (engine/metrics.py) on a small fixed history with hand-computed values.

November 2026 in Shenyang (UTC+8) is [2026-10-31 16:00Z, 2026-11-30 16:00Z). The cases:

| case | grid  | reported   | due        | closed       | answer      | contacted/resolved | counts |
|------|-------|------------|------------|--------------|-------------|--------------------|--------|
| c1   | 和平1 | 11-02 00:00 | 11-03 00:00 | 11-02 12:00 | satisfied   | yes / yes | whistled 01:00, claimed 01:30 (power) |
| c2   | 和平1 | 11-05      | 11-12      | 11-14 (late) | basically   | yes / yes | rework 1, extended once |
| c3   | 和平2 | 11-10      | 11-17      | 11-11        | unsatisfied | no / no   | return 1, escalation 2; whistled 02:00, claimed 04:00 (gas) |
| c4   | 皇姑1 | 11-20      | 11-27      | 11-21        | no_feedback | –         | |
| c5   | 皇姑1 | 10-25      | 11-01      | 11-03 (late) | satisfied   | yes / no  | spans two periods |
| c6   | 和平1 | 11-28      | 12-05      | 12-02        | satisfied   | yes / yes | closed after the period |
| c7   | 和平2 | 11-15      | 11-22      | open         |             |           | overdue 8 d 16 h at the period's end |
| c8   | 皇姑1 | 11-29      | 11-30 00:00 | open        |             |           | overdue 16 h at the period's end |
| c9   | 和平1 | 11-03      |            | rejected     |             |           | never counted |
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from gridloop.engine import metrics, org, rollups
from gridloop.engine.errors import Forbidden, InvalidInput
from gridloop.engine.model import Case, OrgUnit, User
from gridloop.engine.seed import seed_demo

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 10, tzinfo=timezone.utc)
HEPING1, HEPING2, HUANGGU1 = "21010200101001", "21010200101002", "21010500101001"


def utc(month, day, hour=0, minute=0):
    return datetime(2026, month, day, hour, minute, tzinfo=timezone.utc)


HISTORY = {
    "c1": dict(grid=HEPING1, department="power", category="power_outage", source="hotline",
               reported_at=utc(11, 2), due_at=utc(11, 3), closed_at=utc(11, 2, 12), satisfaction="satisfied",
               feedback_contacted=True, feedback_resolved=True, whistled_at=utc(11, 2, 1),
               claimed_at=utc(11, 2, 1, 30)),
    "c2": dict(grid=HEPING1, category="garbage", source="patrol", reported_at=utc(11, 5), due_at=utc(11, 12),
               closed_at=utc(11, 14), satisfaction="basically_satisfied", feedback_contacted=True,
               feedback_resolved=True, rework_count=1, extension_count=1),
    "c3": dict(grid=HEPING2, department="gas", category="noise", source="hotline", reported_at=utc(11, 10),
               due_at=utc(11, 17), closed_at=utc(11, 11), satisfaction="unsatisfied", feedback_contacted=False,
               feedback_resolved=False, return_count=1, escalation_level=2, whistled_at=utc(11, 10, 2),
               claimed_at=utc(11, 10, 4)),
    "c4": dict(grid=HUANGGU1, category="garbage", source="patrol", reported_at=utc(11, 20), due_at=utc(11, 27),
               closed_at=utc(11, 21), satisfaction="no_feedback"),
    "c5": dict(grid=HUANGGU1, category="garbage", source="resident", reported_at=utc(10, 25), due_at=utc(11, 1),
               closed_at=utc(11, 3), satisfaction="satisfied", feedback_contacted=True, feedback_resolved=False),
    "c6": dict(grid=HEPING1, category="garbage", source="patrol", reported_at=utc(11, 28), due_at=utc(12, 5),
               closed_at=utc(12, 2), satisfaction="satisfied", feedback_contacted=True, feedback_resolved=True),
    "c7": dict(grid=HEPING2, category="noise", source="hotline", reported_at=utc(11, 15), due_at=utc(11, 22),
               status="open"),
    "c8": dict(grid=HUANGGU1, category="noise", source="hotline", reported_at=utc(11, 29), due_at=utc(11, 30),
               status="open"),
    "c9": dict(grid=HEPING1, category="garbage", source="resident", reported_at=utc(11, 3),
               closed_at=utc(11, 3, 1), status="rejected"),
}


def insert_history(db) -> dict[str, int]:
    """The table above as case rows (the figures read nothing else); returns {name: id}."""
    ids = {}
    with db.transaction() as s:
        seed_demo(s)
        grids = dict(s.execute(select(OrgUnit.code, OrgUnit.id)).all())
        paths = dict(s.execute(select(OrgUnit.code, OrgUnit.path)).all())
        for name, fields in HISTORY.items():
            fields = dict(fields)
            grid = fields.pop("grid")
            fields.setdefault("status", "closed")
            row = Case(title=name, category=fields.pop("category"), source=fields.pop("source"), grid_id=grids[grid],
                       org_path=paths[grid], updated_at=fields["reported_at"],
                       stage="closed" if fields["status"] != "open" else "grid_handling", **fields)
            s.add(row)
            s.flush()
            ids[name] = row.id
        rollups.rebuild(s, TZ)  # rows written directly: counted as a bulk load is
    return ids


@pytest.fixture
def history(any_db):
    return any_db, insert_history(any_db)


def november(**filters):
    start, end, asof = metrics.period(date(2026, 11, 1), date(2026, 11, 30), TZ, NOW)
    return metrics.Filters(start, end, asof, tz=TZ, **filters)


def read(db, filters, **kwargs):
    with db.reading() as s:
        return metrics.figures(s, filters, **kwargs)


def drill(db, filters, figure, part):
    with db.reading() as s:
        rows, total = metrics.figure_cases(s, filters, figure, part, per_page=200)
        return {r.title for r in rows}, total


def test_every_figure_by_hand(history):
    db, _ = history
    f = read(db, november())["figures"]
    ratio = lambda fig: (fig["value"], fig["numerator"], fig["denominator"])  # noqa: E731
    assert ratio(f["response_rate"]) == (0.75, 3, 4)          # c1 c2 c5 of c1 c2 c3 c5 (c4 gave no feedback)
    assert ratio(f["resolution_rate"]) == (0.5, 2, 4)         # c1 c2
    assert ratio(f["satisfaction_rate"]) == (0.725, 2.9, 4)   # 2 satisfied + 0.9 × 1 basically
    assert ratio(f["composite_score"]) == (0.615, 2.46, 4)    # 0.1×0.75 + 0.5×0.5 + 0.4×0.725
    assert ratio(f["closure_rate"]) == (round(4 / 7, 6), 4, 7)  # reported c1-c4 c6-c8; c6 closed in December
    assert ratio(f["on_time_closure_rate"]) == (0.6, 3, 5)    # c1 c3 c4; c2 and c5 late
    assert ratio(f["rework_rate"]) == (0.2, 1, 5)
    assert ratio(f["return_rate"]) == (0.2, 1, 5) and f["return_rate"]["returns"] == 1
    assert ratio(f["escalation_rate"]) == (0.2, 1, 5) and f["escalation_rate"]["max_level"] == 2
    assert ratio(f["extension_rate"]) == (0.2, 1, 5)          # c2
    assert f["report_in_minutes"] == {"value": 75.0, "p90": 111.0, "numerator": None, "denominator": 2}
    assert f["close_hours"] == {"value": 24.0, "p90": 216.0, "numerator": None, "denominator": 5}
    assert ratio(f["overdue_open"]) == (round(2 / 3, 6), 2, 3)  # c6 c7 c8 open on Nov 30; c7 c8 overdue
    assert f["overdue_open"]["bands"] == {"lt_1d": 1, "1d_3d": 0, "3d_7d": 0, "ge_7d": 1}


def test_an_empty_period_has_no_values(history):
    db, _ = history
    start, end, asof = metrics.period(date(2026, 9, 1), date(2026, 9, 30), TZ, NOW)
    f = read(db, metrics.Filters(start, end, asof))["figures"]
    for name, fig in f.items():
        assert fig["value"] is None, name
        assert fig["denominator"] == 0, name
    assert f["escalation_rate"]["max_level"] is None and f["close_hours"]["p90"] is None


def test_the_previous_period_holds_the_case_reported_before_it(history):
    db, _ = history
    october = read(db, november().previous())["figures"]
    assert october["closure_rate"]["numerator"] == 0 and october["closure_rate"]["denominator"] == 1  # c5
    assert october["on_time_closure_rate"]["denominator"] == 0  # c5 closed in November


def test_filters_and_area_subtrees(history):
    db, _ = history
    with db.reading() as s:
        huanggu = s.scalar(select(OrgUnit.path).where(OrgUnit.code == "210105"))
    f = read(db, november(area_path=huanggu))["figures"]
    assert (f["on_time_closure_rate"]["numerator"], f["on_time_closure_rate"]["denominator"]) == (1, 2)  # c4; c5 late
    assert f["response_rate"]["denominator"] == 1  # c5
    f = read(db, november(department="power"))["figures"]
    assert f["on_time_closure_rate"]["denominator"] == 1 and f["report_in_minutes"]["value"] == 30.0
    f = read(db, november(category="noise", source="hotline"))["figures"]
    assert f["overdue_open"]["numerator"] == 2 and f["return_rate"]["numerator"] == 1


def test_groups_are_ranked_and_sum_to_the_whole(history):
    db, _ = history
    result = read(db, november(), group_by="district")
    keys = [(g["key"], g["name"], g["rank"]) for g in result["groups"]]
    assert keys == [("210102", "和平区", 1), ("210105", "皇姑区", 2)]  # composite 0.653333 > 0.5
    heping = result["groups"][0]["figures"]
    assert heping["composite_score"]["value"] == round(1.96 / 3, 6)
    assert result["groups"][1]["figures"]["composite_score"]["value"] == 0.5
    for name in ("response_rate", "closure_rate", "on_time_closure_rate", "overdue_open"):
        assert sum(g["figures"][name]["denominator"] for g in result["groups"]) == result["figures"][name]["denominator"]
    grids = read(db, november(), group_by="grid", rank_by="close_hours")["groups"]
    assert [g["key"] for g in grids] == [HEPING2, HEPING1, HUANGGU1]  # medians 24 h, 114 h, 120 h
    assert [g["rank"] for g in grids] == [1, 2, 3]
    by_department = {g["key"]: g for g in read(db, november(), group_by="department")["groups"]}
    assert by_department["power"]["name_en"] == "Power supply"
    assert by_department[None]["figures"]["rework_rate"]["numerator"] == 1  # c2: no department


def test_weights_are_configurable(history):
    db, _ = history
    f = read(db, november(), weights=metrics.weights_from("0.3,0.35,0.35"))["figures"]
    assert f["composite_score"]["value"] == round(0.3 * 0.75 + 0.35 * 0.5 + 0.35 * 0.725, 6)
    for bad in ("0.5,0.5", "a,b,c", "0.5,0.5,0.5", "-0.1,0.6,0.5"):
        with pytest.raises(InvalidInput):
            metrics.weights_from(bad)


EXPECTED_CASES = {
    ("response_rate", "numerator"): {"c1", "c2", "c5"},
    ("response_rate", "denominator"): {"c1", "c2", "c3", "c5"},
    ("resolution_rate", "numerator"): {"c1", "c2"},
    ("satisfaction_rate", "numerator"): {"c1", "c2", "c5"},
    ("closure_rate", "numerator"): {"c1", "c2", "c3", "c4"},
    ("closure_rate", "denominator"): {"c1", "c2", "c3", "c4", "c6", "c7", "c8"},
    ("on_time_closure_rate", "numerator"): {"c1", "c3", "c4"},
    ("on_time_closure_rate", "denominator"): {"c1", "c2", "c3", "c4", "c5"},
    ("rework_rate", "numerator"): {"c2"},
    ("return_rate", "numerator"): {"c3"},
    ("escalation_rate", "numerator"): {"c3"},
    ("report_in_minutes", "denominator"): {"c1", "c3"},
    ("close_hours", "denominator"): {"c1", "c2", "c3", "c4", "c5"},
    ("overdue_open", "numerator"): {"c7", "c8"},
    ("overdue_open", "denominator"): {"c6", "c7", "c8"},
}


def test_drill_down_lists_exactly_the_counted_cases(history):
    db, _ = history
    figures = read(db, november())["figures"]
    for (figure, part), expected in EXPECTED_CASES.items():
        titles, total = drill(db, november(), figure, part)
        assert titles == expected, (figure, part)
        if figure != "satisfaction_rate":  # its numerator weighs "basically satisfied" 0.9
            assert total == len(expected) == figures[figure][part], (figure, part)
    with pytest.raises(InvalidInput):
        drill(db, november(), "close_hours", "numerator")
    with pytest.raises(InvalidInput):
        drill(db, november(), "happiness", "numerator")
    with db.reading() as s:
        page, total = metrics.figure_cases(s, november(), "closure_rate", "denominator", page=2, per_page=5)
    assert total == 7 and len(page) == 2


def _actor(db, username):
    with db.reading() as s:
        return org.actor(s, s.scalar(select(User.id).where(User.username == username)))


def test_who_reads_which_figures(history):
    db, _ = history
    with db.reading() as s:
        supervisor, street2 = _actor(db, "supervisor1"), _actor(db, "street2")
        liaison, grid1 = _actor(db, "liaison_power"), _actor(db, "grid1")
        assert metrics.scope(s, supervisor, None, None) == ("/2101/", None)
        assert metrics.scope(s, supervisor, "210105", "gas") == ("/2101/210105/", "gas")
        path, department = metrics.scope(s, street2, None, None)  # 华山街道's subtree
        assert path.endswith("/210105001/") and department is None
        with pytest.raises(Forbidden):
            metrics.scope(s, street2, "210102", None)
        assert metrics.scope(s, liaison, None, None)[1] == "power"
        with pytest.raises(Forbidden):
            metrics.scope(s, liaison, None, "gas")
        with pytest.raises(Forbidden):
            metrics.scope(s, grid1, None, None)
        with pytest.raises(InvalidInput):
            metrics.scope(s, supervisor, "nowhere", None)
    f = read(db, november(area_path=path))["figures"]
    assert f["close_hours"]["denominator"] == 2  # c4 c5 in 牡丹社区


def test_period_and_month_parsing():
    assert metrics.month("2026-02") == (date(2026, 2, 1), date(2026, 2, 28))
    start, end, asof = metrics.period(date(2026, 11, 1), date(2026, 11, 30), TZ, utc(11, 15))
    assert (start, end, asof) == (utc(10, 31, 16), utc(11, 30, 16), utc(11, 15))
    with pytest.raises(InvalidInput):
        metrics.month("2026-13")
    with pytest.raises(InvalidInput):
        metrics.period(date(2026, 11, 2), date(2026, 11, 1), TZ, NOW)


def test_the_process_sets_the_case_deadline_and_the_figures_follow(runtime, clock):
    """due_at comes from time_limits.dmn (case_limit) through the process; whistle and
    report-in times reach the figures through the case row."""
    from .loop_driver import LoopDriver
    loop = LoopDriver(runtime)
    reported = clock.now()
    power = loop.report("acceptor1", category="power_outage", source="hotline")
    garbage = loop.report("grid1", category="garbage", source="patrol")
    assert loop.case(power).due_at == reported + timedelta(hours=24)  # 水电气热 24 h
    assert loop.case(garbage).due_at == runtime.calendar.add(reported, "7WD")  # general: 7 working days
    loop.step(power, "acceptor1", {"outcome": "accept"})
    loop.step(power, "grid1", {"outcome": "whistle", "department": "power"})
    clock.advance(minutes=40)
    loop.step(power, "liaison_power", {"outcome": "resolved", "resolution": "Fixed"})
    loop.close_after_resolution(power)
    clock.advance(minutes=1)
    start, end, asof = metrics.period(date(2026, 3, 1), date(2026, 3, 31), TZ, clock.now())
    with runtime.db.reading() as s:
        f = metrics.figures(s, metrics.Filters(start, end, asof))["figures"]
    assert f["report_in_minutes"]["value"] == 40.0
    assert (f["on_time_closure_rate"]["numerator"], f["on_time_closure_rate"]["denominator"]) == (1, 1)
    assert (f["overdue_open"]["numerator"], f["overdue_open"]["denominator"]) == (0, 1)  # garbage, not yet due


def test_the_case_deadline_timer_marks_the_case_overdue_once(runtime, clock):
    from gridloop.engine import timers
    from gridloop.engine.model import Event
    from .loop_driver import LoopDriver
    loop = LoopDriver(runtime)
    case_id = loop.report("acceptor1", category="garbage", source="hotline")  # waits at acceptance
    due = loop.case(case_id).due_at
    clock.set(due - timedelta(seconds=1))
    timers.run_due(runtime)
    assert loop.case(case_id).overdue_at is None
    clock.set(due + timedelta(seconds=1))
    timers.run_due(runtime)
    case = loop.case(case_id)
    assert case.overdue_at == clock.now() and case.stage == "acceptance" and case.status == "open"
    loop.step(case_id, "acceptor1", {"outcome": "accept"})  # the next step's case timer is already due
    timers.run_due(runtime)
    assert loop.events(case_id).count("case_overdue") == 1 and loop.case(case_id).overdue_at == case.overdue_at
    with runtime.db.reading() as s:
        payload = s.scalar(select(Event.payload).where(Event.case_id == case_id, Event.type == "case_overdue"))
    assert payload == {"limit": "Case deadline 办结时限", "due": due.isoformat()}
