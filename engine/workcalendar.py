"""Working calendar: turns a time limit (时限) into an absolute due time.

Community-issue SLAs in China are written in three ways, and they mean
different things, so the limit string says which one is meant:

* ``PT2H``, ``P1D``, ``P3DT4H`` -- ISO 8601 duration, **plain elapsed time**.
  Emergencies run around the clock, so the calendar is ignored entirely.
  Years and months are rejected: their length varies, so a deadline would be
  ambiguous.  Weeks (``P1W``) are 7 days.  A decimal fraction is allowed on
  the last component only (``PT1.5H``), as ISO 8601 says.
* ``<n>WD`` -- n **working days**.  See :meth:`WorkCalendar.add` for the rule.
  Only whole numbers: "half a working day" has no single obvious meaning
  (half a calendar day? half the office hours?), so write it as ``WH``.
* ``<n>WH`` -- n **working hours**, counted only inside the ``workday_hours``
  windows of working days.  Fractions are fine (``1.5WH`` = 90 minutes).

Limits must be positive and at most about ten years (3660 days, 2600WD,
20000WH): anything longer is almost certainly a typo in a DMN table, and
rejecting it up front beats a deadline in the year 9999 or a hung worker.
Designators are case-insensitive.  Every invalid
limit raises ``ValueError``, so :func:`parse_limit` can be used at deploy
time to validate DMN outputs before a process ever runs.

The calendar data (see ``workflows/calendars/cn.json``) lists, per year,
public holidays and make-up working days (调休上班), because China's weekend is
moved around holidays and no rule can compute it: it is published each year by
the State Council.  For a year without a published notice the statutory
holidays come from the ``holidays`` package (lunar festivals computed, for the
data's ``country``), and deadlines that count days of such a year are
*provisional*: :meth:`WorkCalendar.provisional_years` says which, and the
engine records it in the instance's history.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Literal, Mapping
from zoneinfo import ZoneInfo

import holidays
from holidays.registry import EntityLoader

__all__ = ["Limit", "WorkCalendar", "parse_limit"]

_NUM = r"\d+(?:[.,]\d+)?"
_ISO_RE = re.compile(
    rf"P(?:(?P<Y>{_NUM})Y)?(?:(?P<MO>{_NUM})M)?(?:(?P<W>{_NUM})W)?(?:(?P<D>{_NUM})D)?"
    rf"(?:T(?:(?P<H>{_NUM})H)?(?:(?P<MI>{_NUM})M)?(?:(?P<S>{_NUM})S)?)?"
)
_ISO_SECONDS = {"W": 604800, "D": 86400, "H": 3600, "MI": 60, "S": 1}
_WORK_RE = re.compile(r"(?P<n>\d+(?:\.\d+)?)(?P<unit>WD|WH)")
_MAX_ELAPSED, _MAX_WD, _MAX_WH = timedelta(days=3660), 2600, 20000


@dataclass(frozen=True)
class Limit:
    """A parsed time limit.

    ``kind`` is ``"elapsed"`` (amount: timedelta), ``"workdays"`` (amount: int)
    or ``"workhours"`` (amount: timedelta of working time).
    """

    kind: Literal["elapsed", "workdays", "workhours"]
    amount: timedelta | int


def parse_limit(limit: str) -> Limit:
    """Parse and validate a limit string; raise ``ValueError`` if invalid."""
    if not isinstance(limit, str):
        raise ValueError(f"time limit must be a string, got {type(limit).__name__}")
    text = limit.strip().upper()
    if not text:
        raise ValueError("time limit is empty")
    if text.startswith("P"):
        return _parse_iso(limit, text)
    m = _WORK_RE.fullmatch(text)
    if not m:
        raise ValueError(
            f"invalid time limit {limit!r}: expected an ISO 8601 duration "
            "(e.g. 'PT2H', 'P3DT4H'), '<n>WD' (working days) or '<n>WH' (working hours)"
        )
    n, unit = m["n"], m["unit"]
    if unit == "WD":
        if "." in n:
            raise ValueError(
                f"invalid time limit {limit!r}: working days must be a whole number; "
                "use working hours ('WH') for parts of a day"
            )
        _check_range(limit, int(n), _MAX_WD)
        return Limit("workdays", int(n))
    _check_range(limit, float(n), _MAX_WH)
    return Limit("workhours", timedelta(hours=float(n)))


def _check_range(original: str, value: float, maximum: float) -> None:
    if value <= 0:
        raise ValueError(f"invalid time limit {original!r}: must be positive")
    if value > maximum:
        raise ValueError(f"invalid time limit {original!r}: longer than about ten years")


def _parse_iso(original: str, text: str) -> Limit:
    m = _ISO_RE.fullmatch(text)
    if not m or text.endswith("T") or not any(m.groupdict().values()):
        raise ValueError(f"invalid ISO 8601 duration {original!r}")
    if m["Y"] or m["MO"]:
        raise ValueError(
            f"invalid time limit {original!r}: years and months have no fixed length; "
            "use days ('P30D') or working days ('20WD')"
        )
    present = [(k, v) for k, v in m.groupdict().items() if v is not None]
    if any(("," in v or "." in v) for _, v in present[:-1]):
        raise ValueError(
            f"invalid ISO 8601 duration {original!r}: only the last component may have a fraction"
        )
    seconds = sum(float(v.replace(",", ".")) * _ISO_SECONDS[k] for k, v in present)
    _check_range(original, seconds, _MAX_ELAPSED.total_seconds())
    return Limit("elapsed", timedelta(seconds=seconds))


class WorkCalendar:
    """Working days and office hours of one jurisdiction.

    ``data`` has the shape of ``workflows/calendars/cn.json``::

        {"timezone": "Asia/Shanghai",
         "workday_hours": [["09:00", "12:00"], ["13:30", "17:30"]],
         "weekend": [5, 6],                     # date.weekday(): 5=Sat, 6=Sun
         "years": {"2026": {"holidays": [{"name": "...", "dates": ["2026-01-01"]}],
                            "workdays": ["2026-01-04"]}}}

    Malformed data raises ``ValueError`` when the calendar is built, not when
    a deadline is computed in the middle of a running process.
    """

    def __init__(self, data: Mapping[str, Any], notices: Mapping[int, Mapping[str, Any]] | None = None,
                 version: int | None = None):
        # ``notices`` (year -> a loaded notice's ``holidays`` and ``workdays``) replace the data's
        # years; ``version`` says which loads they are (engine/calendars.py).
        self.data, self.notices, self.version = data, dict(notices or {}), version
        try:
            self.tz = ZoneInfo(data["timezone"])
            self.windows = [(time.fromisoformat(a), time.fromisoformat(b)) for a, b in data["workday_hours"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"calendar needs 'timezone' and 'workday_hours' [[start, end], ...]: {exc}") from exc
        if not self.windows or any(a >= b for a, b in self.windows) or any(
            self.windows[i][1] > self.windows[i + 1][0] for i in range(len(self.windows) - 1)
        ):
            raise ValueError("workday_hours must be non-empty, ordered, non-overlapping [start, end] windows")
        self.weekend = frozenset(data.get("weekend", (5, 6)))
        if not self.weekend <= set(range(7)) or len(self.weekend) == 7:
            raise ValueError("weekend must be weekday numbers 0-6 (Monday=0) and leave at least one working day")

        self._holidays: dict[date, str] = {}
        self._workdays: set[date] = set()
        years = {**data.get("years", {}), **{str(y): notice for y, notice in self.notices.items()}}
        for key, year in years.items():
            def day(s: str, key: str = key) -> date:
                d = date.fromisoformat(s)
                if str(d.year) != key:
                    raise ValueError(f"date {s} is listed under year {key}")
                return d

            for h in year.get("holidays", []):
                self._holidays.update((day(s), h.get("name", "")) for s in h["dates"])
            self._workdays.update(day(s) for s in year.get("workdays", []))
        clash = self._workdays & self._holidays.keys()
        if clash:
            raise ValueError(f"dates both holiday and make-up workday: {sorted(map(str, clash))}")
        self.covered_years: tuple[int, ...] = tuple(sorted(int(y) for y in years))
        """Years with a published notice; other years are provisional."""
        self.country: str | None = data.get("country")
        # The registry's codes, not list_supported_countries(), which imports every country's module
        if self.country is not None and self.country not in set(EntityLoader.get_country_codes()):
            raise ValueError(f"country {self.country!r} is not known to the holidays package")
        self._statutory_years: set[int] = set(self.covered_years)
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> WorkCalendar:
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def with_notices(self, notices: Mapping[int, Mapping[str, Any]], version: int | None) -> WorkCalendar:
        """This calendar's data with ``notices`` over its years (the data's own years stay the
        defaults for the years no notice names)."""
        return WorkCalendar(self.data, notices, version)

    def is_workday(self, d: date) -> bool:
        """Holidays are off, make-up workdays are on, otherwise weekends are off.

        An aware ``datetime`` is first converted to the calendar's timezone,
        because "which day is it" depends on where the office is.
        """
        if isinstance(d, datetime):
            d = (d.astimezone(self.tz) if d.tzinfo else d).date()
        if d.year not in self._statutory_years:
            self._load_statutory(d.year)
        if d in self._holidays:
            return False
        return d in self._workdays or d.weekday() not in self.weekend

    def _load_statutory(self, year: int) -> None:
        """A year without a published notice: the statutory holidays (and any make-up days the
        package knows) from the ``holidays`` package; plain weekends without a country."""
        with self._lock:
            if year in self._statutory_years:
                return
            if self.country is not None:
                days = holidays.country_holidays(self.country, years=year)
                self._holidays.update((d, name) for d, name in days.items() if d.year == year)
                self._workdays.update(d for d in getattr(days, "weekend_workdays", ()) if d.year == year)
            self._statutory_years.add(year)

    def provisional_years(self, start: datetime, end: datetime) -> list[int]:
        """Years between ``start`` and ``end`` (local dates) that have no published notice."""
        first, last = start.astimezone(self.tz).year, end.astimezone(self.tz).year
        return [y for y in range(first, last + 1) if y not in self.covered_years]

    def holiday_name(self, d: date) -> str | None:
        """Name of the public holiday on ``d`` (for display), else ``None``."""
        return self._holidays.get(d)

    def add(self, start: datetime, limit: str | Limit) -> datetime:
        """Return the due time (aware, UTC) of ``limit`` counted from ``start``.

        ``start`` may be in any timezone; working time is evaluated in the
        calendar's timezone.  Rules:

        * Elapsed (ISO 8601) limits: ``start + duration``, calendar ignored.
          PT2H during Spring Festival is still two hours.
        * ``nWD``: if ``start`` is inside working hours it is the anchor;
          otherwise the anchor is the next start of working time (Friday 18:00
          or Saturday -> Monday 09:00; lunch 12:30 -> 13:30).  The due time is
          the anchor's local clock time on the n-th working day after the
          anchor's day.  E.g. 3WD from Friday 10:00 before a normal weekend =
          Wednesday 10:00; 1WD from Saturday 15:00 = Tuesday 09:00.  This keeps
          "n working days" meaning n full days of office time in every case.
        * ``nWH``: n hours counted only inside the ``workday_hours`` windows of
          working days; lunch, nights, weekends and holidays do not count.  A
          limit that uses up a window exactly ends at that window's end
          (7WH from 09:00 = 17:30 the same day, not 09:00 the next morning).
          With 09:00-12:00 + 13:30-17:30, 8WH from Friday 16:30 = Monday 17:30.
        """
        if not isinstance(start, datetime) or start.utcoffset() is None:
            raise ValueError("start must be a timezone-aware datetime")
        lim = limit if isinstance(limit, Limit) else parse_limit(limit)
        start_utc = start.astimezone(timezone.utc)
        amount = lim.amount
        if lim.kind == "elapsed":
            assert isinstance(amount, timedelta)
            return start_utc + amount
        if lim.kind == "workdays":
            assert isinstance(amount, int)
            anchor = self._next_working_instant(start.astimezone(self.tz))
            day = anchor.date()
            for _ in range(amount):
                day = self._next_workday(day)
            return datetime.combine(day, anchor.time(), tzinfo=self.tz).astimezone(timezone.utc)
        assert isinstance(amount, timedelta)
        return self._add_work_hours(start_utc, amount)

    # -- internals ----------------------------------------------------------

    def _next_workday(self, d: date) -> date:
        d += timedelta(days=1)
        while not self.is_workday(d):
            d += timedelta(days=1)
        return d

    def _window_bounds(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """UTC bounds of each working window of ``day``.

        Durations are measured in UTC so that a DST change inside a window
        (not in China, but in other calendars) does not distort them.
        """
        for a, b in self.windows:
            yield (
                datetime.combine(day, a, tzinfo=self.tz).astimezone(timezone.utc),
                datetime.combine(day, b, tzinfo=self.tz).astimezone(timezone.utc),
            )

    def _next_working_instant(self, local: datetime) -> datetime:
        """``local`` itself if inside working time, else the next window start (local)."""
        day = local.date()
        if self.is_workday(day):
            for a, b in self.windows:
                if local.time() < b:
                    return max(local, datetime.combine(day, a, tzinfo=self.tz))
        day = self._next_workday(day)
        return datetime.combine(day, self.windows[0][0], tzinfo=self.tz)

    def _add_work_hours(self, start_utc: datetime, remaining: timedelta) -> datetime:
        day = start_utc.astimezone(self.tz).date()
        while True:
            if self.is_workday(day):
                for a, b in self._window_bounds(day):
                    a = max(a, start_utc)
                    if a < b:
                        if remaining <= b - a:
                            return a + remaining
                        remaining -= b - a
            day += timedelta(days=1)
