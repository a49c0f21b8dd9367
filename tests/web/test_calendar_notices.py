"""Loading a State Council holiday notice through the API: the open provisional deadlines of
its year move (case, task, timers, history), nothing else does; a bad file or a user who is no
designer changes nothing. On SQLite and PostgreSQL."""
from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from gridloop.engine import timers
from gridloop.engine.model import CalendarNotice, Event

from ..conftest import MODELS

with open(os.path.join(MODELS, "notice_2027.json"), encoding="utf-8") as _fh:
    NOTICE = json.load(_fh)
SECOND = timedelta(seconds=1)


def at(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def set_clock(api, clock, when: datetime) -> None:
    """Time passes (by weeks): the test's users sign in again."""
    clock.set(when)
    api.tokens.clear()


def events(case: dict, kind: str) -> list[dict]:
    return [e["payload"] for e in case["history"] if e["type"] == kind]


def load(api, notice, user="designer1", status=201):
    return api.post("/calendar/notices", user, data=json.dumps(notice, ensure_ascii=False),
                    content_type="application/json", status=status)


def nothing_stored(world) -> bool:
    with world.db.reading() as s:
        return (s.scalar(select(func.count()).select_from(CalendarNotice)) == 0
                and s.scalar(select(func.count()).select_from(Event)
                             .where(Event.type.in_(("calendar_notice_loaded", "deadline_recomputed")))) == 0)


def test_a_loaded_notice_moves_the_open_provisional_deadlines_of_its_year(any_api, any_world, clock):
    api, world = any_api, any_world
    clock.set(at(2026, 12, 28, 2, 0))  # Monday 10:00 in Shenyang; 2027 has no notice yet
    new_year = api.report("grid1")  # 5WD: 29, 30, 31 Dec, (1 Jan), 4, 5 Jan
    assert api.open_task(new_year["id"])["due_at"] == "2027-01-05T02:00:00+00:00"
    set_clock(api, clock, at(2027, 2, 1, 2, 0))  # Monday 10:00, the week of the Spring Festival, still no notice
    spring = api.report("grid1")
    urgent = api.report("grid1", category="gas_leak", urgency="emergency")  # elapsed limits: never provisional
    rejected = api.report("acceptor1", source="qr", category="noise")
    api.step(rejected["id"], "acceptor1", {"outcome": "reject", "reject_reason": "duplicate"})
    # statutory holidays alone (holidays package): 5-10 Feb off, so 5WD = 2, 3, 4, 11, 12 Feb; 7WD = 16 Feb
    task = api.open_task(spring["id"])
    assert task["due_at"] == "2027-02-12T02:00:00+00:00"
    assert api.case(spring["id"])["due_at"] == "2027-02-16T02:00:00+00:00"
    listed = {p["case_id"] for p in api.get("/calendar", "designer1")["provisional"]}
    assert {new_year["id"], spring["id"], rejected["id"]} <= listed and urgent["id"] not in listed
    urgent_before, rejected_before = api.case(urgent["id"]), api.case(rejected["id"])

    loaded = load(api, NOTICE)

    # the notice: 5-13 Feb off, Saturday 20 Feb worked: 5WD = 2, 3, 4, 15, 16 Feb; 7WD = 18 Feb
    assert loaded["year"] == 2027 and loaded["source"] == NOTICE["source"]
    task_after = api.open_task(spring["id"])
    assert task_after["id"] == task["id"] and task_after["due_at"] == "2027-02-16T02:00:00+00:00"
    case = api.case(spring["id"])
    assert case["due_at"] == "2027-02-18T02:00:00+00:00"
    moves = {(m["from"], m["to"]) for m in events(case, "deadline_recomputed")}
    assert moves == {("2027-02-12T02:00:00+00:00", "2027-02-16T02:00:00+00:00"),
                     ("2027-02-16T02:00:00+00:00", "2027-02-18T02:00:00+00:00")}
    assert all(m["year"] == 2027 and m["notice"] == NOTICE["source"] for m in events(case, "deadline_recomputed"))
    assert {m["case_id"] for m in loaded["moved"]} == {spring["id"]}
    # New Year 2027 falls on Friday to Sunday: the notice agrees with the statutory count
    assert api.open_task(new_year["id"])["due_at"] == "2027-01-05T02:00:00+00:00"
    assert events(api.case(new_year["id"]), "deadline_recomputed") == []
    assert api.case(urgent["id"])["history"] == urgent_before["history"]  # not provisional: untouched
    assert api.case(rejected["id"]) == rejected_before  # closed before the notice: untouched
    status = api.get("/calendar", "designer1")
    assert 2027 in status["published_years"] and status["notices"][0]["loaded_by"] == "designer1"
    assert not [p for p in status["provisional"] if 2027 in p["years"]]

    # the timers moved too: nothing at the old due time, the grid's limit passes at the new one
    set_clock(api, clock, at(2027, 2, 12, 2, 0) + SECOND)
    timers.run_due(world)
    assert api.open_task(spring["id"])["id"] == task["id"]
    set_clock(api, clock, at(2027, 2, 16, 2, 0) + SECOND)
    timers.run_due(world)
    escalated = api.case(spring["id"])
    assert escalated["stage"] == "consultation" and escalated["overdue_at"] is None
    fired = [e for e in events(escalated, "timer_fired") if e["element"] == "timer_grid_handle"]
    assert [e["due"] for e in fired] == ["2027-02-16T02:00:00+00:00"]
    set_clock(api, clock, at(2027, 2, 18, 2, 0) + SECOND)  # the case's own deadline, moved with it
    timers.run_due(world)
    assert api.case(spring["id"])["overdue_at"] is not None


def test_loading_the_same_year_again_moves_from_where_the_last_load_put_it(api, world, clock):
    clock.set(at(2027, 2, 1, 2, 0))
    case = api.report("grid1")
    load(api, NOTICE)
    assert api.open_task(case["id"])["due_at"] == "2027-02-16T02:00:00+00:00"
    corrected = {**NOTICE, "workdays": [*NOTICE["workdays"], "2027-02-14"]}  # Sunday 14 Feb worked as well
    again = load(api, corrected)
    assert [(m["from"], m["to"]) for m in again["moved"] if m["tasks"]] == [
        ("2027-02-16T02:00:00+00:00", "2027-02-15T02:00:00+00:00")]
    assert api.open_task(case["id"])["due_at"] == "2027-02-15T02:00:00+00:00"
    assert [n["sha256"] for n in api.get("/calendar", "designer1")["notices"]] == [again["sha256"], load_sha(world)]


def load_sha(world) -> str:
    with world.db.reading() as s:
        return s.scalar(select(CalendarNotice.sha256).order_by(CalendarNotice.id).limit(1))


BAD = [
    ("not json", "{2027", {"file"}),
    ("wrong shape", {"year": "2027", "holidays": [], "extra": 1},
     {"year", "source", "holidays", "workdays", "extra"}),
    ("nested too deep", "[" * 50000 + "]" * 50000, {"file"}),
    ("too big", json.dumps({**NOTICE, "source": "x" * 70000}), {"file"}),
    ("not an object", "[2027]", {"notice"}),
    ("a year that is no integer", {**NOTICE, "year": 2027.5}, {"year"}),
    ("impossible date", {**NOTICE, "workdays": ["2027-02-30"]}, {"workdays[0]"}),
    ("badly written date", {**NOTICE, "workdays": ["2027-2-20"]}, {"workdays[0]"}),
    ("another year", {**NOTICE, "workdays": ["2026-12-27"]}, {"workdays[0]"}),
    ("make-up day on a weekday", {**NOTICE, "workdays": ["2027-02-17"]}, {"workdays[0]"}),
    ("make-up day that is a holiday", {**NOTICE, "workdays": ["2027-02-06"]}, {"workdays[0]"}),
    ("overlapping holidays", {**NOTICE, "holidays": [*NOTICE["holidays"],
                                                     {"name": "x", "dates": ["2027-02-13", "2027-02-14"]}]},
     {"holidays[7].dates[0]"}),
    ("holiday with a gap", {**NOTICE, "holidays": [{"name": "x", "dates": ["2027-03-01", "2027-03-03"]}]},
     {"holidays[0].dates[1]"}),
]


@pytest.mark.parametrize("why,notice,fields", BAD, ids=[b[0] for b in BAD])
def test_a_bad_notice_is_refused_field_by_field_and_changes_nothing(api, world, clock, why, notice, fields):
    clock.set(at(2027, 2, 1, 2, 0))
    case = api.report("grid1")
    body = notice if isinstance(notice, str) else json.dumps(notice)
    refused = api.post("/calendar/notices", "designer1", data=body, content_type="application/json", status=400)
    assert set(refused["error"]["fields"]) == fields, refused
    assert api.open_task(case["id"])["due_at"] == "2027-02-12T02:00:00+00:00"
    assert nothing_stored(world) and 2027 not in api.get("/calendar", "designer1")["published_years"]


def test_the_messages_say_what_is_wrong(api):
    refused = load(api, {**NOTICE, "workdays": ["2027-02-17", "2026-12-27", "2027-02-06"]}, status=400)
    fields = refused["error"]["fields"]
    assert "2027-02-17 is a Wednesday, a working day already" in fields["workdays[0]"]
    assert "2026-12-27 is not in 2027" in fields["workdays[1]"]
    assert "also a day of 春节 Spring Festival" in fields["workdays[2]"]


def test_only_designers_load_notices(any_api, any_world):
    for user in ("grid1", "supervisor1", "admin1"):
        assert "designers" in any_api.post("/calendar/notices", user, data=json.dumps(NOTICE),
                                           content_type="application/json", status=403)["error"]["message"]
    assert nothing_stored(any_world)


EN, ZH = {"Accept-Language": "en"}, {"Accept-Language": "zh-CN"}


def _upload(notice) -> dict:
    return {"notice": (io.BytesIO(json.dumps(notice, ensure_ascii=False).encode("utf-8")), "notice.json")}


def test_the_designer_page_lists_provisional_deadlines_and_loads_a_notice(api, world, as_user, clock):
    clock.set(at(2027, 2, 1, 2, 0))
    case = api.report("grid1")
    designer = as_user("designer1")
    page = designer.get("/designer/calendar", headers=EN).get_data(True)
    assert f'href="/cases/{case["id"]}"' in page and "<code>5WD</code>" in page and "2027-02-12 10:00" in page
    assert 'href="/designer/calendar"' in designer.get("/designer", headers=EN).get_data(True)

    weekday = {**NOTICE, "workdays": ["2027-02-17"]}
    refused = designer.post("/designer/calendar", _upload(weekday), status=400, headers=EN).get_data(True)
    assert "<code>workdays[0]</code>: 2027-02-17 is a working day already" in refused
    refused = designer.post("/designer/calendar", _upload(weekday), status=400, headers=ZH).get_data(True)
    assert "2027-02-17 本来就是工作日" in refused and "working day" not in refused
    assert nothing_stored(world)

    designer.post("/designer/calendar", _upload(NOTICE), headers=EN)
    page = designer.get("/designer/calendar", headers=EN).get_data(True)
    assert "The 2027 notice is loaded; 2 due time(s) moved" in page
    assert NOTICE["source"] in page and "designer1" in page and "No provisional due times" in page
    assert api.open_task(case["id"])["due_at"] == "2027-02-16T02:00:00+00:00"

    grid = as_user("grid1")
    grid.get("/designer/calendar", status=403)
    grid.post("/designer/calendar", _upload(NOTICE), status=403)
