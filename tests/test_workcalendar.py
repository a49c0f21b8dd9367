"""Tests for engine.workcalendar against the real workflows/calendars/cn.json."""

import json
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[1]
try:
    from gridloop.engine.workcalendar import Limit, WorkCalendar, parse_limit
except ModuleNotFoundError:  # project not installed and no rootdir conftest
    sys.path.insert(0, str(ROOT))
    from gridloop.engine.workcalendar import Limit, WorkCalendar, parse_limit

CST = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def cst(*args):
    return datetime(*args, tzinfo=CST)


@pytest.fixture(scope="module")
def cal():
    return WorkCalendar.from_file(ROOT / "workflows" / "calendars" / "cn.json")


def check(result, expected):
    """Same instant, and the result is expressed in UTC."""
    assert result.tzinfo is UTC
    assert result == expected, f"{result.astimezone(CST)} != {expected.astimezone(CST)}"


# -- data -------------------------------------------------------------------


def test_data_file(cal):
    assert cal.covered_years == (2025, 2026)
    assert cal.tz == CST
    # make-up Saturdays/Sundays are working days
    for d in ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10",
              "2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"]:
        assert cal.is_workday(date.fromisoformat(d)), d
    # holidays on weekdays are off, ordinary weekends are off
    for d in ["2026-01-02", "2026-02-16", "2026-02-23", "2026-04-06", "2026-05-05", "2026-06-19",
              "2026-09-25", "2026-10-07", "2025-01-01", "2025-02-04", "2025-06-02", "2025-10-08",
              "2026-03-07", "2026-03-08"]:
        assert not cal.is_workday(date.fromisoformat(d)), d
    assert cal.is_workday(date(2026, 3, 9))  # ordinary Monday
    assert cal.holiday_name(date(2026, 2, 17)) == "春节 Spring Festival"


def test_is_workday_uses_calendar_timezone(cal):
    # 2026-03-06 17:00 UTC is already Saturday 01:00 in Shanghai
    assert not cal.is_workday(datetime(2026, 3, 6, 17, 0, tzinfo=UTC))
    assert cal.is_workday(datetime(2026, 3, 6, 15, 0, tzinfo=UTC))


# -- working days -------------------------------------------------------------


def test_weekend_skipping(cal):
    # Friday 10:00 + 3WD -> Mon, Tue, Wed -> Wednesday 10:00
    check(cal.add(cst(2026, 3, 6, 10, 0), "3WD"), cst(2026, 3, 11, 10, 0))
    check(cal.add(cst(2026, 3, 6, 10, 0), "1WD"), cst(2026, 3, 9, 10, 0))


def test_spring_festival_2026(cal):
    # Reported Friday 2026-02-13 10:00: Sat 14 (make-up) = 1, Feb 15-23 off,
    # Tue 24 = 2, Wed 25 = 3.
    check(cal.add(cst(2026, 2, 13, 10, 0), "3WD"), cst(2026, 2, 25, 10, 0))


@pytest.mark.parametrize("start, limit, due", [
    (cst(2026, 2, 13, 10, 0), "1WD", cst(2026, 2, 14, 10, 0)),   # make-up Saturday
    (cst(2026, 2, 27, 15, 0), "1WD", cst(2026, 2, 28, 15, 0)),   # make-up Saturday
    (cst(2026, 2, 28, 9, 30), "1WD", cst(2026, 3, 2, 9, 30)),    # start on make-up Sat
    (cst(2025, 1, 24, 10, 0), "2WD", cst(2025, 1, 27, 10, 0)),   # 2025: Sun 26 is a workday
])
def test_make_up_working_days(cal, start, limit, due):
    check(cal.add(start, limit), due)


@pytest.mark.parametrize("start, limit, due", [
    (cst(2026, 9, 18, 10, 0), "1WD", cst(2026, 9, 20, 10, 0)),   # make-up Sunday Sep 20
    (cst(2026, 9, 24, 10, 0), "1WD", cst(2026, 9, 28, 10, 0)),   # Mid-Autumn Sep 25-27
    (cst(2026, 9, 24, 10, 0), "3WD", cst(2026, 9, 30, 10, 0)),
    (cst(2026, 9, 30, 10, 0), "1WD", cst(2026, 10, 8, 10, 0)),   # National Day Oct 1-7
    (cst(2026, 9, 30, 10, 0), "3WD", cst(2026, 10, 10, 10, 0)),  # make-up Saturday Oct 10
    (cst(2026, 9, 24, 10, 0), "7WD", cst(2026, 10, 12, 10, 0)),  # whole stretch
    (cst(2026, 10, 3, 11, 0), "1WD", cst(2026, 10, 9, 9, 0)),    # start on holiday
])
def test_national_day_2026(cal, start, limit, due):
    check(cal.add(start, limit), due)


@pytest.mark.parametrize("start, due", [
    (cst(2026, 3, 7, 15, 0), cst(2026, 3, 10, 9, 0)),    # Saturday -> anchor Mon 09:00
    (cst(2026, 3, 6, 18, 0), cst(2026, 3, 10, 9, 0)),    # Friday evening -> anchor Mon 09:00
    (cst(2026, 3, 10, 7, 0), cst(2026, 3, 11, 9, 0)),    # early morning -> same day 09:00
    (cst(2026, 3, 10, 12, 30), cst(2026, 3, 11, 13, 30)),  # lunch -> 13:30
    (cst(2026, 3, 10, 17, 30), cst(2026, 3, 12, 9, 0)),  # window end is outside working time
])
def test_workdays_from_outside_working_hours(cal, start, due):
    check(cal.add(start, "1WD"), due)


# -- working hours -------------------------------------------------------------


@pytest.mark.parametrize("start, limit, due", [
    (cst(2026, 3, 10, 11, 0), "2WH", cst(2026, 3, 10, 14, 30)),   # across lunch
    (cst(2026, 3, 10, 11, 0), "1.5WH", cst(2026, 3, 10, 14, 0)),
    (cst(2026, 3, 10, 11, 0), "1WH", cst(2026, 3, 10, 12, 0)),    # ends at window end
    (cst(2026, 3, 10, 12, 15), "1WH", cst(2026, 3, 10, 14, 30)),  # starts in lunch
    (cst(2026, 3, 10, 17, 0), "1WH", cst(2026, 3, 11, 9, 30)),    # overnight
    (cst(2026, 3, 10, 20, 0), "1WH", cst(2026, 3, 11, 10, 0)),    # starts at night
    (cst(2026, 3, 10, 9, 0), "7WH", cst(2026, 3, 10, 17, 30)),    # a full day
    (cst(2026, 3, 13, 16, 30), "8WH", cst(2026, 3, 16, 17, 30)),  # Fri -> Mon (7h days)
    (cst(2026, 2, 13, 17, 0), "4WH", cst(2026, 2, 14, 14, 0)),    # into make-up Saturday
    (cst(2026, 2, 14, 17, 0), "1WH", cst(2026, 2, 24, 9, 30)),    # over Spring Festival
])
def test_working_hours(cal, start, limit, due):
    check(cal.add(start, limit), due)


# -- elapsed time --------------------------------------------------------------


@pytest.mark.parametrize("start, limit, due", [
    (cst(2026, 2, 17, 10, 0), "PT2H", cst(2026, 2, 17, 12, 0)),    # holiday: still 2 h
    (cst(2026, 3, 7, 23, 50), "PT30M", cst(2026, 3, 8, 0, 20)),    # Saturday night
    (cst(2026, 3, 7, 10, 0), "P1D", cst(2026, 3, 8, 10, 0)),       # Sat -> Sun
    (cst(2026, 9, 30, 20, 0), "P3DT4H", cst(2026, 10, 4, 0, 0)),
    (cst(2026, 3, 10, 10, 0), "PT1.5H", cst(2026, 3, 10, 11, 30)),
    (cst(2026, 3, 10, 10, 0), "P1W", cst(2026, 3, 17, 10, 0)),
])
def test_elapsed_time_ignores_calendar(cal, start, limit, due):
    check(cal.add(start, limit), due)


# -- time zones ----------------------------------------------------------------


def test_start_in_utc_is_evaluated_in_shanghai(cal):
    # 2026-03-05 23:00 UTC = Friday 07:00 in Shanghai (Thursday in UTC!):
    # before office hours -> anchor Friday 09:00 -> 1WD = Monday 09:00 CST.
    due = cal.add(datetime(2026, 3, 5, 23, 0, tzinfo=UTC), "1WD")
    check(due, datetime(2026, 3, 9, 1, 0, tzinfo=UTC))
    # 2026-03-06 08:00 UTC = Friday 16:00 CST; 2WH -> 1.5 h Fri + 0.5 h Mon = Mon 09:30 CST
    check(cal.add(datetime(2026, 3, 6, 8, 0, tzinfo=UTC), "2WH"), datetime(2026, 3, 9, 1, 30, tzinfo=UTC))
    # PT2H from UTC stays plain arithmetic
    check(cal.add(datetime(2026, 2, 17, 2, 0, tzinfo=UTC), "PT2H"), datetime(2026, 2, 17, 4, 0, tzinfo=UTC))


def test_start_in_other_zone(cal):
    # Thursday 2026-03-05 21:00 in New York (EST, UTC-5) = Friday 10:00 in Shanghai
    start = datetime(2026, 3, 5, 21, 0, tzinfo=ZoneInfo("America/New_York"))
    check(cal.add(start, "1WD"), cst(2026, 3, 9, 10, 0))


def test_naive_start_rejected(cal):
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add(datetime(2026, 3, 6, 10, 0), "1WD")


# -- parsing -------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("PT30M", Limit("elapsed", timedelta(minutes=30))),
    ("PT2H", Limit("elapsed", timedelta(hours=2))),
    ("P1D", Limit("elapsed", timedelta(days=1))),
    ("P3DT4H", Limit("elapsed", timedelta(days=3, hours=4))),
    ("PT0,5H", Limit("elapsed", timedelta(minutes=30))),
    ("PT90S", Limit("elapsed", timedelta(seconds=90))),
    ("3WD", Limit("workdays", 3)),
    (" 3wd ", Limit("workdays", 3)),
    ("8WH", Limit("workhours", timedelta(hours=8))),
    ("0.5WH", Limit("workhours", timedelta(minutes=30))),
])
def test_parse_limit(text, expected):
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", [
    "3XD", "P1M", "", "   ", "-1WD", "P1Y", "P1Y2M", "PT1M2H", "P", "PT", "P1DT", "0WD", "PT0S",
    "0.5WD", "1.5.WD", "WD", "3 WD", "P1.5DT2H", "-PT2H", "PT2H30", "3WD4", "1e3WH",
    "99999WD", "P99999999D", "99999999999WH", None, 3,
])
def test_invalid_limits(cal, text):
    with pytest.raises(ValueError):
        parse_limit(text)
    with pytest.raises(ValueError):
        cal.add(cst(2026, 3, 10, 10, 0), text)


def test_months_error_message_is_clear():
    with pytest.raises(ValueError, match="years and months"):
        parse_limit("P1M")
    with pytest.raises(ValueError, match="whole number"):
        parse_limit("0.5WD")


# -- years not covered ---------------------------------------------------------


def test_a_year_without_a_notice_uses_the_statutory_holidays(cal):
    """2027 has no State Council notice in the data: the holidays package supplies New Year
    and the lunar Spring Festival, and deadlines counting 2027 days are provisional."""
    assert 2027 not in cal.covered_years
    assert not cal.is_workday(date(2027, 1, 1)) and cal.holiday_name(date(2027, 1, 1))
    # Monday 2026-12-28 + 5WD: 29, 30, 31 Dec, (1 Jan is New Year), 4, 5 Jan -> Tuesday 2027-01-05
    due = cal.add(cst(2026, 12, 28, 10, 0), "5WD")
    check(due, cst(2027, 1, 5, 10, 0))
    assert cal.provisional_years(cst(2026, 12, 28, 10, 0), due) == [2027]
    assert cal.provisional_years(cst(2026, 3, 2, 10, 0), cst(2026, 3, 9, 10, 0)) == []
    # Spring Festival 2027 (eve 5 Feb, 6-10 Feb, lunar): Thursday 4 Feb + 3WD = 11, 12, 15 Feb
    assert not any(cal.is_workday(date(2027, 2, d)) for d in range(5, 11))
    check(cal.add(cst(2027, 2, 4, 10, 0), "3WD"), cst(2027, 2, 15, 10, 0))


def test_minimal_calendar_without_years():
    cal = WorkCalendar({"timezone": "UTC", "workday_hours": [["08:00", "16:00"]]})
    assert cal.covered_years == ()
    check(cal.add(datetime(2026, 3, 6, 15, 0, tzinfo=UTC), "2WH"), datetime(2026, 3, 9, 9, 0, tzinfo=UTC))


# -- malformed data ------------------------------------------------------------

BASE = {"timezone": "Asia/Shanghai", "workday_hours": [["09:00", "12:00"]], "weekend": [5, 6]}


@pytest.mark.parametrize("data", [
    {**BASE, "years": {"2026": {"holidays": [{"name": "x", "dates": ["2026-01-04"]}], "workdays": ["2026-01-04"]}}},
    {**BASE, "years": {"2026": {"holidays": [{"name": "x", "dates": ["2025-01-01"]}]}}},
    {**BASE, "years": {"2026": {"workdays": ["2026-02-30"]}}},
    {**BASE, "workday_hours": [["12:00", "09:00"]]},
    {**BASE, "workday_hours": [["09:00", "12:00"], ["11:00", "13:00"]]},
    {**BASE, "workday_hours": []},
    {**BASE, "weekend": [0, 1, 2, 3, 4, 5, 6]},
    {**BASE, "weekend": [7]},
    {"workday_hours": [["09:00", "12:00"]]},
    {**BASE, "timezone": "Mars/Olympus"},
])
def test_malformed_data_rejected(data):
    with pytest.raises(ValueError):
        WorkCalendar(data)


def test_a_loaded_notice_takes_precedence_over_the_shipped_year_and_the_holidays_package(cal):
    """Loaded notice > the shipped file's year > statutory holidays; the base data is kept."""
    with open(ROOT / "tests" / "models" / "notice_2027.json", encoding="utf-8") as fh:
        notice = json.load(fh)
    loaded = cal.with_notices({2027: notice, 2026: {"holidays": [], "workdays": []}}, version=7)
    assert (loaded.version, loaded.covered_years) == (7, (2025, 2026, 2027))
    assert cal.is_workday(date(2027, 2, 12))  # statutory holidays only: Friday 12 Feb is worked
    assert not loaded.is_workday(date(2027, 2, 12)) and loaded.is_workday(date(2027, 2, 20))  # the notice
    assert loaded.is_workday(date(2026, 10, 1)) and not cal.is_workday(date(2026, 10, 1))  # the loaded 2026
    assert loaded.with_notices({}, None).is_workday(date(2026, 10, 1)) is False  # the shipped file again
