"""Rolled-up case counts for the figures (engine/metrics.py), kept in the commands' transactions.

One row of ``case_rollup`` holds what the cases of one cell contribute to the figures: a
cell is a local calendar day or month (``grain``, ``period``) × org unit × department ×
category × source. A case counts in the rows of its own unit (its ``org_path``) and of every
unit above it (:func:`ancestors`: a closure by path prefix), so the figures of any area are
read from that area's own rows, and a breakdown by a level from the rows of that level's
units: a few hundred rows a month for the whole city, however many cases and grids it has.
Two kinds of rows:

* ``reported``: ``cases`` = cases reported in the period (not rejected, voided or merged);
* ``closed``: the cases closed in the period, split by ``since`` (the day or month they were
  reported: "reported in the period and closed by its end" is a ``since`` range), with the
  counts the figures are made of and two histograms, time to close and report-in time, in
  buckets √2 wide (see :data:`CLOSE_EDGES`, :data:`REPORT_IN_EDGES`).

Every command that changes a case calls :func:`change` with the case's values before and
after (``Command.save_cases``; the case's creation in ``Runtime.open_case``): the differences of
their contributions, gathered in the command's ``rollup_delta`` (engine/command.py), are added
to the rows with one upsert when the command ends (:func:`write`),
in the command's transaction, so the rollup never disagrees with the case table it summarizes.
:func:`rebuild` recomputes the whole table from the case rows with the same :func:`contributions`
(after a bulk load, or a change of the calendar's time zone, which fixes where days begin).

Beside it, ``case_backlog`` (:func:`backlog`) holds for each local midnight × unit × cell the
closed cases that were open then (reported before, closed at or after it), overdue then, and
by age band: a past cut-off's backlog is one day's rows, not the case rows open across it,
whose number grows with the volume. Cases still open are left to the case rows (their number
is the live backlog's, not the history's). The same :func:`change` keeps it, with one more
upsert when a closed case changed.

A period is read as whole months plus the days left over at its end (:func:`spans`); a
period starting inside a month is read in days. Counts are exact. Medians and p90 from the
histograms place each value evenly inside its bucket (:func:`percentile`): off by less than
42 % of the exact value (the bucket's width), typically a few per cent with many cases per
bucket; engine/metrics.py takes them exactly from the case rows instead whenever the
selection holds at most ``EXACT_LIMIT`` closed cases.
"""
from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Iterable, Mapping
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import (ColumnElement, Date, Float, and_, bindparam, case, cast, delete, func, insert, literal,
                        literal_column, or_, select, text)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from .model import (BACKLOG_BANDS, CASE_BACKLOG_COUNTS, CASE_ROLLUP_COUNTS, CLOSE_BUCKETS, REPORT_IN_BUCKETS, Case,
                    CaseBacklog, CaseRollup)

ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
# Cases that count in no figure's population but their own (engine/metrics.py): rejected at
# acceptance, voided as reported in error, merged into an original (engine/exceptions.py).
NOT_COUNTED = ("rejected", "voided", "merged")
# Lower edges (seconds) of the histogram buckets after the first: 15 min (1 min) times √2^k.
BUCKETS = len(CLOSE_BUCKETS)
CLOSE_BASE, REPORT_IN_BASE = 900.0, 60.0
CLOSE_EDGES = tuple(CLOSE_BASE * 2 ** (k / 2) for k in range(BUCKETS - 1))
REPORT_IN_EDGES = tuple(REPORT_IN_BASE * 2 ** (k / 2) for k in range(BUCKETS - 1))
COLUMNS = (*CASE_ROLLUP_COUNTS, *CLOSE_BUCKETS, *REPORT_IN_BUCKETS)
KEY = ("grain", "kind", "period", "since", "org_path", "department", "category", "source")
CASE_FIELDS = ("status", "reported_at", "closed_at", "org_path", "department", "category", "source", "satisfaction",
               "feedback_contacted", "feedback_resolved", "due_at", "rework_count", "return_count",
               "escalation_level", "extension_count", "whistled_at", "claimed_at")
BACKLOG_KEY = ("day", "org_path", "department", "category", "source")
# What the backlog counts by besides CASE_FIELDS (a suspended case is never overdue).
WATCHED = (*CASE_FIELDS, "suspended_at")
MAX_LEVEL = 4  # escalation levels above the grid: community, street, district, city
# A command's change to the rollup and the backlog, not yet written: (table, *cell) -> column -> difference.
Cell = tuple[Any, ...]  # ("case_rollup" or "case_backlog", *that table's key)
Delta = dict[Cell, dict[str, int]]
TABLES = {"case_rollup": (CaseRollup.__table__, KEY, COLUMNS),
          "case_backlog": (CaseBacklog.__table__, BACKLOG_KEY, CASE_BACKLOG_COUNTS)}


def _bucket(base: float, seconds: float) -> int:
    """The histogram bucket of a duration: 0 below ``base``, then one per factor √2 (the
    last one open); :func:`_sql_bucket` computes the same in SQL (ln in doubles on both)."""
    if seconds < base:
        return 0
    return min(BUCKETS - 1, math.floor(2 * math.log(seconds / base) / math.log(2)) + 1)


def _sql_bucket(base: float, seconds: ColumnElement[Any]) -> ColumnElement[int]:
    exact = func.floor(2 * func.ln(cast(seconds, Float) / base) / func.ln(cast(2, Float))) + 1
    return case((seconds < base, 0), else_=func.least(BUCKETS - 1, exact))


def _month(day: date) -> date:
    return day.replace(day=1)


def contributions(case: Mapping[str, Any] | RowMapping | None, tz: ZoneInfo) -> Delta:
    """What one case adds to the rollup: {row key: {column: count}} (nothing when not counted)."""
    if case is None or case["status"] in NOT_COUNTED or case["reported_at"] is None:
        return {}
    rest = (case["department"] or "", case["category"], case["source"])
    reported = case["reported_at"].astimezone(tz).date()
    paths = ancestors(case["org_path"])
    rows: Delta = {}
    for path in paths:
        rows[("day", "reported", reported, reported, path, *rest)] = {"cases": 1}
        rows[("month", "reported", _month(reported), _month(reported), path, *rest)] = {"cases": 1}
    closed_at = case["closed_at"]
    if case["status"] != "closed" or closed_at is None:
        return rows
    answer, level = case["satisfaction"], case["escalation_level"] or 0
    valid = answer in ANSWERS
    counts: dict[str, int | bool] = {
              "cases": 1, "valid": valid, "contacted": valid and case["feedback_contacted"] is True,
              "resolved": valid and case["feedback_resolved"] is True, "satisfied": answer == "satisfied",
              "basically": answer == "basically_satisfied",
              "on_time": case["due_at"] is not None and closed_at <= case["due_at"],
              "rework": (case["rework_count"] or 0) >= 1, "returned": (case["return_count"] or 0) >= 1,
              "returns": case["return_count"] or 0,
              "escalated": level >= 1, **{f"level_{k}": level >= k for k in range(2, MAX_LEVEL + 1)},
              "extended": (case["extension_count"] or 0) >= 1,
              CLOSE_BUCKETS[_bucket(CLOSE_BASE, (closed_at - case["reported_at"]).total_seconds())]: 1}
    if case["whistled_at"] is not None and case["claimed_at"] is not None:
        counts["report_in"] = 1
        counts[REPORT_IN_BUCKETS[_bucket(REPORT_IN_BASE, (case["claimed_at"] - case["whistled_at"])
                                         .total_seconds())]] = 1
    counted = {name: int(value) for name, value in counts.items() if value}
    day = closed_at.astimezone(tz).date()
    for path in paths:
        rows[("day", "closed", day, reported, path, *rest)] = counted
        rows[("month", "closed", _month(day), _month(reported), path, *rest)] = counted
    return rows


def backlog(case: Mapping[str, Any] | RowMapping | None, tz: ZoneInfo) -> Delta:
    """What one case adds to the backlog: for each local midnight ``t`` with reported_at < t
    <= closed_at (the days after the day it came, up to the day it closed), a closed case
    counts as open at ``t``, overdue when due_at < t (not suspended), in the band of t − due_at
    (engine/metrics.py's conditions, with ``t`` as the cut-off). Open cases add nothing: the
    figures read the live backlog from the case rows."""
    if case is None or case["status"] != "closed" or case["closed_at"] is None or case["reported_at"] is None:
        return {}
    rest = (case["department"] or "", case["category"], case["source"])
    due, running = case["due_at"], case["suspended_at"] is None
    day, last = case["reported_at"].astimezone(tz).date() + timedelta(days=1), case["closed_at"].astimezone(tz).date()
    paths = ancestors(case["org_path"])
    rows = {}
    while day <= last:
        cutoff = datetime.combine(day, time(), tz)
        counts = {"cases": 1}
        if running and due is not None and due < cutoff:
            counts["overdue"] = 1
            for name, low, high in BACKLOG_BANDS:
                if (due <= cutoff - timedelta(days=low) if low else True) and \
                        (high is None or due > cutoff - timedelta(days=high)):
                    counts[f"band_{name}"] = 1
        for path in paths:
            rows[(day, path, *rest)] = counts
        day += timedelta(days=1)
    return rows


def ancestors(path: str) -> list[str]:
    """A materialized org path and those of the units above it: ``/a/b/`` -> ``/a/``, ``/a/b/``."""
    codes = path.strip("/").split("/")
    return ["/" + "/".join(codes[:n]) + "/" for n in range(1, len(codes) + 1)]


def _add(total: Delta, rows: Delta, sign: int) -> None:
    for key, counts in rows.items():
        into = total[key]
        for name, value in counts.items():
            into[name] = into.get(name, 0) + sign * value


# What an open case's contributions depend on (its "reported" rows); a closed case's depend on all of WATCHED.
_OPEN_FIELDS = ("reported_at", "org_path", "department", "category", "source")


def _counted_by(case: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values :func:`contributions` and :func:`backlog` read of a case: equal before and
    after a change, the change adds nothing (a new deadline or claim of an open case)."""
    if case["status"] == "closed":
        return tuple(case[f] for f in WATCHED)
    return (case["status"] in NOT_COUNTED, *(case[f] for f in _OPEN_FIELDS))


def change(pending: Delta, tz: ZoneInfo, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> None:
    """Add to the command's pending change (a ``defaultdict(dict)``) what a case's change does
    to the rollup and the backlog (``before`` None: a new case); :func:`write` stores it when
    the command ends. Nothing when none of the values they count by changed (most saves: a new
    stage, deadline or claim of an open case)."""
    if before is not None and after is not None and _counted_by(before) == _counted_by(after):
        return
    for name, count in _COUNT.items():
        for sign, row in ((-1, before), (1, after)):
            _add(pending, {(name, *cell): counts for cell, counts in count(row, tz).items()}, sign)


def write(s: Session, delta: Delta) -> None:
    """Store the command's pending change: one upsert per table it changed, whatever cases it
    changed (the backlog's only when a closed case changed)."""
    tables: dict[str, Delta] = defaultdict(dict)
    for (name, *cell), counts in delta.items():
        if any(counts.values()):
            tables[name][tuple(cell)] = counts
    for name in TABLES:
        if tables.get(name):
            _upsert(s, name, tables[name])


def _upsert(s: Session, name: str, delta: Delta) -> None:
    """Add ``delta`` to its rows, creating the missing ones. A command changes a few of a row's
    ~80 counts, so each statement names only the counts it changes (the others start at their
    server default, 0): rows sharing those columns go in one executemany. Rows go in key order,
    so concurrent commands lock shared rows in the same order."""
    _table, key, _columns = TABLES[name]
    runs: list[tuple[tuple[str, ...], list[dict[str, Any]]]] = []
    for cell in sorted(delta, key=lambda k: tuple(str(v) for v in k)):
        counts = {c: v for c, v in delta[cell].items() if v}
        if not counts:
            continue
        columns = tuple(sorted(counts))
        if not runs or runs[-1][0] != columns:
            runs.append((columns, []))
        runs[-1][1].append({**dict(zip(key, cell, strict=True)), **counts})
    for columns, rows in runs:
        s.connection().execute(_upsert_statement(name, columns), rows)


@lru_cache(maxsize=4096)
def _upsert_statement(name: str, columns: tuple[str, ...]) -> TextClause:
    """INSERT ... ON CONFLICT (the cell) DO UPDATE SET each of ``columns`` = itself + the new
    value, in the syntax SQLite and PostgreSQL share. Written out rather than built: the
    dialects' ON CONFLICT inserts are never cached by SQLAlchemy, and a built insert would name
    every count (their Python-side default). One per set of columns (a few dozen occur), with
    the columns' typed parameters."""
    table, key, _counted = TABLES[name]
    named = (*key, *columns)
    sql = (f"INSERT INTO {table.name} ({', '.join(named)}) VALUES ({', '.join(':' + c for c in named)}) "
           f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
           + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in columns))
    return text(sql).bindparams(*(bindparam(c, type_=table.c[c].type) for c in named))


def rebuild(s: Session, tz: ZoneInfo, batch: int = 20_000, *, tables: tuple[str, ...] = tuple(TABLES)) -> int:
    """Recompute the rollup and the backlog (or only those of ``tables``: a migration fills
    the table it adds) from the case rows; returns the rows written. PostgreSQL counts in SQL
    (:func:`_rebuild_in_sql`, :func:`_backlog_in_sql`: the same rules as :func:`contributions`
    and :func:`backlog`), other databases stream the rows through those two."""
    for name in tables:
        s.execute(delete(TABLES[name][0]))
    if s.get_bind().dialect.name == "postgresql":
        for name in tables:
            _IN_SQL[name](s, tz)
            # An area's rows of a period next to each other on disk: reading a month of the city, a district
            # or a grid touches a few pages, not one per row (commands later add rows at the end).
            s.execute(text(f"CLUSTER {name} USING {_UNIT_INDEX[name]}"))
        return sum(s.scalar(select(func.count()).select_from(TABLES[name][0])) for name in tables)
    totals: dict[str, Delta] = {name: defaultdict(dict) for name in tables}
    # Only the columns counted: migrations run this against older schemas of the case table.
    columns = [getattr(Case, name) for name in (WATCHED if "case_backlog" in tables else CASE_FIELDS)]
    for row in s.execute(select(*columns).execution_options(yield_per=batch)).mappings():
        for name, total in totals.items():
            _add(total, _COUNT[name](row, tz), 1)
    written = 0
    for name, total in totals.items():
        table, key, counted = TABLES[name]
        rows = [{**dict(zip(key, cell, strict=True)), **{c: counts.get(c, 0) for c in counted}}
                for cell, counts in total.items()]
        for start in range(0, len(rows), batch):
            s.connection().execute(insert(table), rows[start:start + batch])
        written += len(rows)
    return written


def _rebuild_in_sql(s: Session, tz: ZoneInfo) -> None:
    """On PostgreSQL: the cases' own cells counted with INSERT ... SELECT ... GROUP BY per grain
    and kind into a temporary table (each case's histogram buckets computed once, in a
    subquery), then added up into the rollup for each unit and the units above it."""
    c = Case
    own = _own_cells(s, "case_rollup")
    report_in = and_(c.whistled_at.is_not(None), c.claimed_at.is_not(None))
    # Only the columns it counts: migrations run this against older schemas of the case table.
    rows = select(*(getattr(c, name) for name in CASE_FIELDS),
                  _sql_bucket(CLOSE_BASE, func.extract("epoch", c.closed_at - c.reported_at)).label("cb"),
                  case((report_in, _sql_bucket(REPORT_IN_BASE, func.extract("epoch", c.claimed_at - c.whistled_at))),
                       else_=None).label("rb")).where(c.reported_at.is_not(None)).subquery()
    r = rows.c

    def local(column: ColumnElement[datetime], grain: str) -> ColumnElement[date]:
        day = func.timezone(tz.key, column)
        return cast(func.date_trunc("month", day) if grain == "month" else day, Date)

    def n(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(condition)

    valid = r.satisfaction.in_(ANSWERS)
    level = func.coalesce(r.escalation_level, 0)
    closed_counts = {
        "cases": func.count(), "valid": n(valid), "contacted": n(and_(valid, r.feedback_contacted.is_(True))),
        "resolved": n(and_(valid, r.feedback_resolved.is_(True))), "satisfied": n(r.satisfaction == "satisfied"),
        "basically": n(r.satisfaction == "basically_satisfied"), "on_time": n(r.closed_at <= r.due_at),
        "rework": n(func.coalesce(r.rework_count, 0) >= 1), "returned": n(func.coalesce(r.return_count, 0) >= 1),
        "returns": func.coalesce(func.sum(r.return_count), 0),
        "escalated": n(level >= 1), **{f"level_{k}": n(level >= k) for k in range(2, MAX_LEVEL + 1)},
        "extended": n(func.coalesce(r.extension_count, 0) >= 1), "report_in": n(r.rb.is_not(None)),
        **{name: n(r.cb == k) for k, name in enumerate(CLOSE_BUCKETS)},
        **{name: n(r.rb == k) for k, name in enumerate(REPORT_IN_BUCKETS)}}
    cell = (r.org_path, func.coalesce(r.department, ""), r.category, r.source)
    for grain in ("day", "month"):
        reported = local(r.reported_at, grain)
        for kind, period, where, counts in (
                ("reported", reported, r.status.not_in(NOT_COUNTED), {"cases": func.count()}),
                ("closed", local(r.closed_at, grain), and_(r.status == "closed", r.closed_at.is_not(None)),
                 closed_counts)):
            keys = (literal(grain), literal(kind), period, reported, *cell)
            query = select(*keys, *counts.values()).where(where).group_by(*keys[2:])
            s.execute(insert(own).from_select([*KEY, *counts], query))
    _add_up(s, own, "case_rollup")


def _own_cells(s: Session, name: str) -> sa.Table:
    """A temporary table for the cases' own cells of ``name``'s table."""
    table, key, columns = TABLES[name]
    own = sa.Table(f"{name}_own", sa.MetaData(), *(sa.Column(c, table.c[c].type) for c in (*key, *columns)),
                   prefixes=["TEMPORARY"])
    own.create(s.connection())
    s.execute(text("SET LOCAL work_mem = '128MB'"))  # the groupings hash in memory, not sorted on disk
    return own


def _add_up(s: Session, own: sa.Table, name: str) -> None:
    """Each own cell into ``name``'s table once per unit on its path (ancestors()), one level at
    a time: the units at depth d hold the own cells of depth >= d, grouped by their path's first
    d codes; then the temporary table is dropped."""
    table, key, columns = TABLES[name]
    o = own.c
    codes = func.string_to_array(o.org_path, "/", type_=ARRAY(sa.String))
    length = func.array_length(codes, 1) - 2  # "/a/b/" -> ["", "a", "b", ""]: 2 codes
    for depth in range(1, (s.scalar(select(func.max(length))) or 0) + 1):
        unit = func.array_to_string(codes[1:depth + 1], "/").op("||")("/")
        keys = [unit if k == "org_path" else o[k] for k in key]
        query = (select(*keys, *(func.coalesce(func.sum(o[col]), 0) for col in columns))
                 .where(length >= depth).group_by(*keys))
        s.execute(insert(table).from_select([*key, *columns], query))
    own.drop(s.connection())


def _backlog_in_sql(s: Session, tz: ZoneInfo) -> None:
    """On PostgreSQL: each closed case once per local midnight it was open at (a day series
    from the day after it came to the day it closed), counted per cell as :func:`backlog`
    does, then added up for the units above."""
    c = Case
    own = _own_cells(s, "case_backlog")
    series = func.generate_series(cast(func.timezone(tz.key, c.reported_at), Date) + 1,
                                  cast(func.timezone(tz.key, c.closed_at), Date),
                                  literal_column("interval '1 day'", sa.Interval)).table_valued("day").render_derived()
    local_day = cast(series.c.day, sa.DateTime)  # the local midnight, as wall-clock time

    def cutoff_minus(days: int) -> Any:  # as Python's aware datetime - timedelta(days): on the wall clock
        return func.timezone(tz.key, local_day - literal_column(f"interval '{days} days'", sa.Interval)
                             if days else local_day)

    def n(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(condition)

    overdue = and_(c.suspended_at.is_(None), c.due_at < cutoff_minus(0))
    bands = {}
    for name, low, high in BACKLOG_BANDS:
        cond = [overdue] + ([c.due_at <= cutoff_minus(low)] if low else [])
        cond += [c.due_at > cutoff_minus(high)] if high is not None else []
        bands[f"band_{name}"] = n(and_(*cond))
    counts = {"cases": func.count(), "overdue": n(overdue), **bands}
    keys = (cast(series.c.day, Date), c.org_path, func.coalesce(c.department, ""), c.category, c.source)
    query = (select(*keys, *counts.values()).select_from(c).join(series, literal(True))
             .where(c.status == "closed", c.closed_at.is_not(None), c.reported_at.is_not(None))
             .group_by(*keys))
    s.execute(insert(own).from_select([*BACKLOG_KEY, *counts], query))
    _add_up(s, own, "case_backlog")


_COUNT = {"case_rollup": contributions, "case_backlog": backlog}
_IN_SQL = {"case_rollup": _rebuild_in_sql, "case_backlog": _backlog_in_sql}
_UNIT_INDEX = {"case_rollup": "ix_case_rollup_unit", "case_backlog": "ix_case_backlog_unit"}


# --------------------------------------------------------------------------------- reading

def spans(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[str, date, date]] | None:
    """``[start, end)`` as (grain, first, last) ranges of rollup periods: whole months from
    its first day, then the days left; None when it does not begin and end at local midnight."""
    first, after = start.astimezone(tz), end.astimezone(tz)
    if first.time() != time() or after.time() != time() or after <= first:
        return None
    first_day, last_day = first.date(), after.date() - timedelta(days=1)
    result = []
    months_end = first_day
    if first_day.day == 1:
        cursor = first_day
        while True:
            following = (cursor.replace(day=28) + timedelta(days=4)).replace(day=1)
            if following - timedelta(days=1) > last_day:
                break
            cursor = following
        if cursor > first_day:
            result.append(("month", first_day, _month(cursor - timedelta(days=1))))
            months_end = cursor
    if months_end <= last_day:
        result.append(("day", months_end, last_day))
    return result


def _in(kind: str, parts: list[tuple[str, date, date]]) -> ColumnElement[bool]:
    r = CaseRollup
    return and_(r.kind == kind, or_(*(and_(r.grain == grain, r.period >= low, r.period <= high)
                                       for grain, low, high in parts)))


def sums(s: Session, parts: list[tuple[str, date, date]], first: date, key: ColumnElement[Any],
         where: Iterable[ColumnElement[bool]]) -> dict[Any, dict[str, Any]]:
    """Per group key, the rollup's sums over the periods ``parts``: ``reported`` (cases
    reported), ``reported_closed`` (of those, closed by the end), the closed counts under
    their own names (``cases`` as ``closed``) and the two histograms as lists."""
    r = CaseRollup
    cases = CaseRollup.__table__.c.cases  # (a column the model adds in a loop: not typed on the class)
    where = list(where)
    groups: dict[Any, dict[str, Any]] = {}
    for row in s.execute(select(key.label("key"), func.sum(cases).label("reported"))
                         .where(_in("reported", parts), *where).group_by(key)
                         .having(func.sum(cases) > 0)):  # rows a case moved out of hold zeros
        groups.setdefault(row.key, {})["reported"] = int(row.reported or 0)
    closed = [func.sum(getattr(r, c)).label(c) for c in COLUMNS]
    from_start = func.sum(case((r.since >= first, cases), else_=0))
    for row in s.execute(select(key.label("key"), *closed, from_start.label("reported_closed"))
                         .where(_in("closed", parts), *where).group_by(key)
                         .having(func.sum(cases) > 0)):
        values = {c: int(getattr(row, c) or 0) for c in COLUMNS}
        group = groups.setdefault(row.key, {})
        group.update({name: values[name] for name in CASE_ROLLUP_COUNTS if name != "cases"})
        group["closed"] = values["cases"]
        group["reported_closed"] = int(row.reported_closed or 0)
        group["close_histogram"] = [values[c] for c in CLOSE_BUCKETS]
        group["report_in_histogram"] = [values[c] for c in REPORT_IN_BUCKETS]
        levels = [k for k in range(MAX_LEVEL, 1, -1) if values[f"level_{k}"]]
        group["max_level"] = levels[0] if levels else (1 if values["escalated"] else 0)
    return groups


def percentile(histogram: list[int], edges: tuple[float, ...], fraction: float) -> float | None:
    """``percentile_cont`` of the values a histogram counts: the two values around the rank,
    each placed evenly inside its bucket (the open last bucket: at its lower edge), then
    interpolated between as ``percentile_cont`` does. Each placed value is off by less than
    its bucket's width: under 42 % of the value (√2 − 1), or under the first bucket's edge."""
    n = sum(histogram)
    if not n:
        return None
    position = fraction * (n - 1)
    low_rank = int(position)
    below = _ranked(histogram, edges, low_rank)
    if position == low_rank:
        return below
    return below + (_ranked(histogram, edges, low_rank + 1) - below) * (position - low_rank)


def _ranked(histogram: list[int], edges: tuple[float, ...], rank: int) -> float:
    """The value of 0-based ``rank``, placed inside its bucket."""
    seen = 0
    for index, count in enumerate(histogram):
        if rank < seen + count:
            low = edges[index - 1] if index else 0.0
            if index == len(edges):
                return low
            return low + (edges[index] - low) * (rank - seen + 0.5) / count
        seen += count
    return edges[-1]
