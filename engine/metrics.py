"""The bureau's figures (评价指标), computed from the case table alone.

Each figure is a numerator over a denominator of cases, both defined here once as SQL
conditions: the same conditions count the figure and list its cases (:func:`figure_cases`),
so a drill-down always holds exactly the cases behind the number. ``value`` is ``None``
when the denominator is 0. The populations of a period ``[start, end)``:

* **closed**: ``status = 'closed'`` and ``closed_at`` in the period;
* **valid callbacks** (有效回访): closed cases whose reporter answered the callback
  (``satisfaction`` is satisfied / basically_satisfied / unsatisfied; a case closed by the
  feedback limit, ``no_feedback``, is not a valid callback);
* **received**: ``reported_at`` in the period, not rejected as invalid;
* **reported**: received, and neither voided (reported in error) nor merged into another case
  (engine/exceptions.py): those two count only in their own figures, ``void_rate`` and
  ``merge_rate``;
* **open at the cut-off** (``min(end, now)``): reported before it, not closed by then.

The counts come from the rollup (engine/rollups.py: per day or month × org unit × department
× category × source, each case counted for its unit and every unit above it, kept current by
every command; an area reads its own rows, a breakdown by level those of the level's units in
it: :func:`_rollup_units`) whenever the period begins and ends at local midnight, as every
period asked through the API, the pages and the report does; otherwise from the case rows.
Medians and p90 come from the rollup's histograms (within their √2-wide bucket) when the
selection holds more than ``EXACT_LIMIT`` closed cases, and exactly from the case rows
otherwise. Open cases at the cut-off: those still open from the case rows (``(status,
reported_at)``: the live backlog, however long the history); those closed since from the
backlog (``case_backlog``, kept with the rollup: per local midnight and cell, the closed
cases open then, overdue and by age band) when the cut-off is a local midnight, as a past
period's end is, else (the cut-off is now: hardly any) by a GiST index on PostgreSQL
(``ix_case_open_span``). Drill-down lists are case rows, paged. Nothing here
touches a workflow. Grouping by a level of the org tree reads the level's code out of the
materialized ``org_path`` (``/city/district/street/community/grid/``).
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Label, and_, case, func, literal, literal_column, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from . import policy, rollups
from .errors import Forbidden, InvalidInput
from .model import BACKLOG_BANDS, OPEN_SPAN, Case, CaseBacklog, CaseRollup, Department, OrgUnit
from .org import LEVELS, Actor

ANSWERS = ("satisfied", "basically_satisfied", "unsatisfied")
DEFAULT_WEIGHTS = {"response": 0.1, "resolution": 0.5, "satisfaction": 0.4}
BASICALLY = 0.9  # weight of 基本满意 in the satisfaction rate
GROUPINGS = (*LEVELS[1:], "department", "category", "source")
# Age bands of overdue open cases (time past their deadline at the cut-off), in days.
BANDS = BACKLOG_BANDS
RANKING = ("composite_score", "response_rate", "resolution_rate", "satisfaction_rate", "closure_rate",
           "on_time_closure_rate")
# Up to this many closed cases in a selection, medians and p90 are computed from the case rows.
EXACT_LIMIT = 2_000
LOWER_IS_BETTER = ("rework_rate", "return_rate", "escalation_rate", "extension_rate", "suspension_rate",
                   "void_rate", "merge_rate", "report_in_minutes", "close_hours", "overdue_open")


@dataclass(frozen=True)
class Filters:
    """What a figure covers: the period ``[start, end)`` (UTC), the cut-off for open cases,
    an org subtree (materialized path), and optional department, category and source;
    ``tz``, the calendar's zone, lets whole local days be read from the rollup."""

    start: datetime
    end: datetime
    asof: datetime
    area_path: str | None = None
    department: str | None = None
    category: str | None = None
    source: str | None = None
    tz: ZoneInfo | None = None

    def previous(self) -> Filters:
        """The period of the same length just before this one."""
        length = self.end - self.start
        return replace(self, start=self.start - length, end=self.start, asof=min(self.asof, self.start))


def period(first: date, last: date, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime, datetime]:
    """Local calendar days ``first``..``last`` (inclusive) as UTC ``[start, end)`` and the
    cut-off ``min(end, now)`` at which open cases are counted."""
    if last < first:
        raise InvalidInput("the period ends before it starts", fields={"to": "must not be before 'from'"})
    start = datetime.combine(first, time(), tz)
    end = datetime.combine(last + timedelta(days=1), time(), tz)
    return start, end, min(end, now)


def month(text: str) -> tuple[date, date]:
    """``YYYY-MM`` as its first and last day."""
    try:
        first = datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise InvalidInput(f"'{text}' is not a month", fields={"period": "YYYY-MM"}) from None
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


# ------------------------------------------------------------------------------- rights

def scope(s: Session, actor: Actor, area: str | None, department: str | None) -> tuple[str | None, str | None]:
    """The org path and department a user may read figures for, narrowed by what she asked.

    Which department is ``policy.figures_department``'s rule, which area ``policy.may_read_figures_of``'s."""
    department = policy.figures_department(actor, department)
    path = actor.org_path
    if area:
        area_path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == area))
        if area_path is None:
            raise InvalidInput(f"unknown org unit '{area}'", fields={"area": "unknown org unit code"})
        if not policy.may_read_figures_of(actor, area_path):
            raise Forbidden(f"org unit '{area}' is outside your area")
        path = area_path
    return path, department


# ----------------------------------------------------------------------------- figures

def _seconds(dialect: str, later: QueryableAttribute[datetime | None], earlier: QueryableAttribute[datetime | None]
             ) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.extract("epoch", later - earlier)
    return (func.julianday(later) - func.julianday(earlier)) * 86400.0


class _Populations:
    """The SQL conditions of the populations and figures for one set of filters."""

    def __init__(self, f: Filters, dialect: str):
        self.f, self.dialect = f, dialect
        self.closed = and_(Case.status == "closed", Case.closed_at >= f.start, Case.closed_at < f.end)
        self.valid = and_(self.closed, Case.satisfaction.in_(ANSWERS))
        self.received = and_(Case.reported_at >= f.start, Case.reported_at < f.end, Case.status != "rejected")
        self.reported = and_(self.received, Case.status.not_in(rollups.NOT_COUNTED))
        # Open at the cut-off: still open now, or closed only after it (rejected cases never were);
        # two arms, one per index ((status, reported_at) and closed_at), not a scan of all history.
        if dialect == "postgresql":  # said literally, so the partial GiST index applies
            closed_later = and_(Case.status == literal_column("'closed'"), OPEN_SPAN.op("@>")(f.asof))
        else:
            closed_later = and_(Case.status == "closed", Case.closed_at >= f.asof, Case.reported_at < f.asof)
        self.still_open = and_(Case.status == "open", Case.reported_at < f.asof)
        self.open = or_(self.still_open, closed_later)
        self.overdue = and_(self.open, Case.due_at < f.asof, Case.suspended_at.is_(None))  # 挂账: clock stopped
        self.measured_report_in = and_(self.closed, Case.whistled_at.is_not(None), Case.claimed_at.is_not(None))

    def filters(self) -> list[ColumnElement[bool]]:
        f, where = self.f, list[ColumnElement[bool]]()
        if f.area_path:
            where += [Case.org_path >= f.area_path, Case.org_path < f.area_path + "\uffff"]
        for column, value in ((Case.department, f.department), (Case.category, f.category),
                              (Case.source, f.source)):
            if value:
                where.append(column == value)
        return where

    def parts(self, name: str) -> tuple[ColumnElement[bool], ColumnElement[bool] | None]:
        """(denominator, numerator) conditions of a figure; the numerator is None for the
        figures that are not a share of cases (medians, the composite score)."""
        c = self
        table: dict[str, tuple[ColumnElement[bool], ColumnElement[bool] | None]] = {
            "response_rate": (c.valid, and_(c.valid, Case.feedback_contacted.is_(True))),
            "resolution_rate": (c.valid, and_(c.valid, Case.feedback_resolved.is_(True))),
            "satisfaction_rate": (c.valid, and_(c.valid, Case.satisfaction.in_(ANSWERS[:2]))),
            "composite_score": (c.valid, None),
            "closure_rate": (c.reported, and_(c.reported, Case.status == "closed", Case.closed_at < c.f.end)),
            "on_time_closure_rate": (c.closed, and_(c.closed, Case.closed_at <= Case.due_at)),
            "rework_rate": (c.closed, and_(c.closed, Case.rework_count >= 1)),
            "return_rate": (c.closed, and_(c.closed, Case.return_count >= 1)),
            "escalation_rate": (c.closed, and_(c.closed, Case.escalation_level >= 1)),
            "extension_rate": (c.closed, and_(c.closed, Case.extension_count >= 1)),
            "suspension_rate": (c.closed, and_(c.closed, Case.suspension_count >= 1)),
            "void_rate": (c.received, and_(c.received, Case.status == "voided")),
            "merge_rate": (c.received, and_(c.received, Case.status == "merged")),
            "report_in_minutes": (c.measured_report_in, None),
            "close_hours": (c.closed, None),
            "overdue_open": (c.open, c.overdue),
        }
        if name not in table:
            raise InvalidInput(f"unknown figure '{name}'", fields={"figure": f"one of {', '.join(FIGURES)}"})
        return table[name]


FIGURES = ("response_rate", "resolution_rate", "satisfaction_rate", "composite_score", "closure_rate",
           "on_time_closure_rate", "rework_rate", "return_rate", "escalation_rate", "extension_rate",
           "suspension_rate", "void_rate", "merge_rate", "report_in_minutes", "close_hours", "overdue_open")


def _group_key(grouping: str | None,
               rows: type[Case] | type[CaseRollup] | type[CaseBacklog] = Case) -> ColumnElement[Any]:
    """The group key over case rows, or over rollup rows (``rows=CaseRollup``)."""
    if grouping is None:
        return literal("all")
    if grouping in LEVELS:  # "/city/district/street/community/grid/": level i is field i + 2
        return func.split_part(rows.org_path, "/", LEVELS.index(grouping) + 2)
    if grouping in ("department", "category", "source"):
        column: ColumnElement[Any] = getattr(rows, grouping)
        return column
    raise InvalidInput(f"cannot group by '{grouping}'", fields={"group_by": f"one of {', '.join(GROUPINGS)}"})


class _Percentile:
    """SQLite aggregate ``gl_percentile(value, fraction)``: PostgreSQL's ``percentile_cont``."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: float | None, fraction: float) -> None:
        if value is not None:
            self.values.append(value)
        self.fraction = fraction

    def finalize(self) -> float | None:
        return _percentile(sorted(self.values), self.fraction)


def _percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (``percentile_cont``)."""
    if not values:
        return None
    pos = fraction * (len(values) - 1)
    low = int(pos)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (pos - low)


def _split_part(text: str | None, sep: str, n: int) -> str:
    parts = (text or "").split(sep)
    return parts[n - 1] if 0 < n <= len(parts) else ""


@contextmanager
def _unprepared(s: Session) -> Iterator[None]:
    """On PostgreSQL, the figures' queries sent as they are, not as prepared statements (which
    psycopg makes of a statement run five times on a connection): prepared, a district's month
    took ten times as long at 1M cases (bench/metrics.py)."""
    raw = s.connection().connection.driver_connection
    threshold = getattr(raw, "prepare_threshold", None)
    if threshold is None or raw is None:
        yield
        return
    raw.prepare_threshold = None
    try:
        yield
    finally:
        raw.prepare_threshold = threshold


def _prepare(s: Session) -> str:
    """The dialect; on SQLite, the functions PostgreSQL has built in."""
    dialect = s.get_bind().dialect.name
    if dialect == "sqlite":
        raw = s.connection().connection.driver_connection
        assert raw is not None  # a live connection has its driver's
        raw.create_function("split_part", 3, _split_part, deterministic=True)
        raw.create_aggregate("gl_percentile", 2, _Percentile)
    return dialect


def _pct(dialect: str, value: ColumnElement[Any], fraction: float) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return func.percentile_cont(fraction).within_group(value)
    return func.gl_percentile(value, fraction)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.count().filter(condition)


def _row_queries(f: Filters, p: _Populations, dialect: str) -> dict[str, tuple[ColumnElement[bool], list[Label[Any]]]]:
    """The case-row queries of the figures' counts: (condition, columns) by population."""
    n = _count
    close_s = _seconds(dialect, Case.closed_at, Case.reported_at)
    running = Case.suspended_at.is_(None)  # a suspended case's clock stands still: never overdue
    report_in_s = case((Case.whistled_at.is_not(None) & Case.claimed_at.is_not(None),
                        _seconds(dialect, Case.claimed_at, Case.whistled_at)), else_=None)
    return {
        "closed": (p.closed, [
            n(literal(True)).label("closed"), n(Case.satisfaction.in_(ANSWERS)).label("valid"),
            n(and_(Case.satisfaction.in_(ANSWERS), Case.feedback_contacted.is_(True))).label("contacted"),
            n(and_(Case.satisfaction.in_(ANSWERS), Case.feedback_resolved.is_(True))).label("resolved"),
            n(Case.satisfaction == "satisfied").label("satisfied"),
            n(Case.satisfaction == "basically_satisfied").label("basically"),
            n(Case.closed_at <= Case.due_at).label("on_time"), n(Case.rework_count >= 1).label("rework"),
            n(Case.return_count >= 1).label("returned"), func.sum(Case.return_count).label("returns"),
            n(Case.escalation_level >= 1).label("escalated"), n(Case.extension_count >= 1).label("extended"),
            func.max(Case.escalation_level).label("max_level"), func.count(report_in_s).label("report_in_n")]),
        # Counted from the case rows even when the rollup serves the rest (it has no columns for them).
        "exceptions": (p.closed, [n(Case.suspension_count >= 1).label("suspended")]),
        "received": (p.received, [n(literal(True)).label("received"), n(Case.status == "voided").label("voided"),
                                  n(Case.status == "merged").label("merged")]),
        "spread": (p.closed, [
            _pct(dialect, close_s, 0.5).label("close_p50"), _pct(dialect, close_s, 0.9).label("close_p90"),
            _pct(dialect, report_in_s, 0.5).label("report_in_p50"),
            _pct(dialect, report_in_s, 0.9).label("report_in_p90")]),
        "reported": (p.reported, [
            n(literal(True)).label("reported"),
            n(and_(Case.status == "closed", Case.closed_at < f.end)).label("reported_closed")]),
        "open": (p.open, [
            n(literal(True)).label("open"), n(and_(Case.due_at < f.asof, running)).label("overdue"),
            *[n(and_(_band(f.asof, low, high), running)).label(name) for name, low, high in BANDS]]),
    }


def _aggregates(s: Session, f: Filters, grouping: str | None, *, exact: bool = False) -> dict[str, dict[str, Any]]:
    """Per group key, the counts every figure is made of: from the rollup when the period
    is whole local days (unless ``exact``), else from the case rows; the open cases at the
    cut-off, and medians of a small selection, always from the case rows."""
    dialect = _prepare(s)
    p = _Populations(f, dialect)
    key = _group_key(grouping).label("key")
    queries = _row_queries(f, p, dialect)
    parts = rollups.spans(f.start, f.end, f.tz) if f.tz is not None and not exact else None
    groups: dict[str, dict[str, Any]] = {}
    cutoff = _cutoff_day(f) if parts is not None else None
    if cutoff is not None:  # the closed cases open at the cut-off come from the backlog
        queries["open"] = (p.still_open, queries["open"][1])
    if parts is not None:
        groups = _from_rollup(s, f, grouping, parts)
        if sum(g.get("closed", 0) for g in groups.values()) > EXACT_LIMIT:
            del queries["spread"]
        for name in ("closed", "reported"):
            del queries[name]
        queries.update(_rare_row_queries(p))
    for condition, columns in queries.values():
        rows = s.execute(select(key, *columns).where(condition, *p.filters()).group_by(key))
        for row in rows:
            values = row._asdict()
            groups.setdefault(values.pop("key"), {}).update(values)
    if cutoff is not None:
        for key_value, counts in _from_backlog(s, f, grouping, cutoff).items():
            values = groups.setdefault(key_value, {})
            for name, count in counts.items():
                values[name] = (values.get(name) or 0) + count
    if parts is not None:  # received = reported (the rollup's) + voided + merged
        for values in groups.values():
            values["received"] = sum(values.get(name) or 0 for name in ("reported", "voided", "merged"))
    return groups


def _rare_row_queries(p: _Populations) -> dict[str, tuple[ColumnElement[bool], list[Label[Any]]]]:
    """Beside the rollup, the exceptions' counts read only the rare cases they count (suspended
    closed cases by ix_case_suspended_closed, voided and merged ones by ix_case_status_reported),
    not every case of the period; a group's ``received`` is then its reported cases plus these."""
    f = p.f
    return {"exceptions": (and_(p.closed, Case.suspension_count >= literal_column("1")),
                           [func.count().label("suspended")]),
            "received": (and_(Case.status.in_(("voided", "merged")), Case.reported_at >= f.start,
                              Case.reported_at < f.end),
                         [func.count().filter(Case.status == "voided").label("voided"),
                          func.count().filter(Case.status == "merged").label("merged")])}


def _from_rollup(s: Session, f: Filters, grouping: str | None, parts: list[tuple[str, date, date]]
                 ) -> dict[str, dict[str, Any]]:
    """The closed and reported counts from the rollup, medians from its histograms."""
    r, where = CaseRollup, [_rollup_units(f.area_path, grouping)]
    for column, value in ((r.department, f.department), (r.category, f.category), (r.source, f.source)):
        if value:
            where.append(column == value)
    first = f.start.astimezone(f.tz).date()
    groups = rollups.sums(s, parts, first, _group_key(grouping, CaseRollup), where)
    if grouping == "department":  # the rollup says "" for no department
        groups = {key or None: values for key, values in groups.items()}
    for values in groups.values():
        close, report_in = values.pop("close_histogram", None), values.pop("report_in_histogram", None)
        if close is None:
            continue
        values["report_in_n"] = values.pop("report_in")
        for fraction, suffix in ((0.5, "p50"), (0.9, "p90")):
            values[f"close_{suffix}"] = rollups.percentile(close, rollups.CLOSE_EDGES, fraction)
            values[f"report_in_{suffix}"] = rollups.percentile(report_in, rollups.REPORT_IN_EDGES, fraction)
    return groups


def _cutoff_day(f: Filters) -> date | None:
    """The local day whose midnight is the cut-off, when it is one (a period's end, not now),
    on the calendar's wall clock as the age bands' ``asof - timedelta(days=...)`` count."""
    if f.tz is None or getattr(f.asof.tzinfo, "key", None) != f.tz.key or f.asof.time() != time():
        return None
    return f.asof.date()


def _from_backlog(s: Session, f: Filters, grouping: str | None, day: date) -> dict[Any, dict[str, int]]:
    """Per group key, the closed cases open at the cut-off (the start of ``day``), overdue,
    and by age band, from the backlog's rows of the area (:func:`_rollup_units`)."""
    b = CaseBacklog
    where = [b.day == day, _rollup_units(f.area_path, grouping, b)]
    for column, value in ((b.department, f.department), (b.category, f.category), (b.source, f.source)):
        if value:
            where.append(column == value)
    names = {"cases": "open", "overdue": "overdue", **{f"band_{name}": name for name, _l, _h in BANDS}}
    key = _group_key(grouping, b).label("key")
    rows = s.execute(select(key, *(func.sum(getattr(b, column)).label(column) for column in names))
                     .where(*where).group_by(key).having(func.sum(b.__table__.c.cases) > 0))
    result = {}
    for row in rows:
        group = (row.key or None) if grouping == "department" else row.key  # "" for no department
        result[group] = {name: int(getattr(row, column) or 0) for column, name in names.items()}
    return result


def _rollup_units(area_path: str | None, grouping: str | None,
                  rows: type[CaseRollup] | type[CaseBacklog] = CaseRollup) -> ColumnElement[bool]:
    """Which units' rollup (or backlog) rows hold an area's figures: the area's own (a case
    counts in every unit above it), or, broken down by a level below the area, those of that
    level's units in it; no area: the roots."""
    u = OrgUnit
    depth = area_path.count("/") - 2 if area_path else -1
    if grouping in LEVELS and LEVELS.index(grouping) > depth:
        units = select(u.path).where(u.level == grouping)
        if area_path:
            units = units.where(u.path >= area_path, u.path < area_path + "\uffff")
        return rows.org_path.in_(units)
    if area_path:
        return rows.org_path == area_path
    return rows.org_path.in_(select(u.path).where(u.parent_id.is_(None)))


def _band(asof: datetime, low: int, high: int | None) -> ColumnElement[bool]:
    """Overdue by at least ``low`` and less than ``high`` days at ``asof``."""
    cond = Case.due_at <= asof - timedelta(days=low) if low else Case.due_at < asof
    return and_(cond, Case.due_at > asof - timedelta(days=high)) if high is not None else cond


def _ratio(numerator: float, denominator: float) -> dict[str, Any]:
    value = None if not denominator else round(numerator / denominator, 6)
    return {"value": value, "numerator": numerator, "denominator": denominator}


def _figures(a: dict[str, Any], weights: dict[str, float]) -> dict[str, dict[str, Any]]:
    """The figures of one group from its counts (all counts 0 when the group had no rows)."""
    def g(name: str) -> Any:  # a count (0 for none); ``satisfied`` points may be fractional
        return a.get(name) or 0

    valid = g("valid")
    satisfied_points = round(g("satisfied") + BASICALLY * g("basically"), 6)
    three = {"response_rate": _ratio(g("contacted"), valid), "resolution_rate": _ratio(g("resolved"), valid),
             "satisfaction_rate": _ratio(satisfied_points, valid)}
    composite_points = round(weights["response"] * g("contacted") + weights["resolution"] * g("resolved")
                             + weights["satisfaction"] * satisfied_points, 6)
    def hours(sec: float | None) -> float | None:
        return None if sec is None else round(float(sec) / 3600, 4)

    def minutes(sec: float | None) -> float | None:
        return None if sec is None else round(float(sec) / 60, 2)

    return {
        **three,
        "composite_score": _ratio(composite_points, valid),
        "closure_rate": _ratio(g("reported_closed"), g("reported")),
        "on_time_closure_rate": _ratio(g("on_time"), g("closed")),
        "rework_rate": _ratio(g("rework"), g("closed")),
        "return_rate": {**_ratio(g("returned"), g("closed")), "returns": g("returns")},
        "escalation_rate": {**_ratio(g("escalated"), g("closed")),
                            "max_level": a.get("max_level") if g("closed") else None},
        "extension_rate": _ratio(g("extended"), g("closed")),
        "suspension_rate": _ratio(g("suspended"), g("closed")),
        "void_rate": _ratio(g("voided"), g("received")),
        "merge_rate": _ratio(g("merged"), g("received")),
        "report_in_minutes": {"value": minutes(a.get("report_in_p50")), "p90": minutes(a.get("report_in_p90")),
                              "numerator": None, "denominator": g("report_in_n")},
        "close_hours": {"value": hours(a.get("close_p50")), "p90": hours(a.get("close_p90")),
                        "numerator": None, "denominator": g("closed")},
        "overdue_open": {**_ratio(g("overdue"), g("open")), "bands": {name: g(name) for name, _l, _h in BANDS}},
    }


def weights_from(text: str | None) -> dict[str, float]:
    """``"0.3,0.35,0.35"`` (response, resolution, satisfaction) as weights; default 0.1/0.5/0.4."""
    if not text:
        return dict(DEFAULT_WEIGHTS)
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or any(v < 0 for v in values) or abs(sum(values) - 1) > 1e-6:
        raise InvalidInput("weights must be three non-negative numbers adding up to 1",
                           fields={"weights": "response,resolution,satisfaction, e.g. 0.1,0.5,0.4"})
    return dict(zip(DEFAULT_WEIGHTS, values, strict=True))


def figures(s: Session, f: Filters, *, group_by: str | None = None, rank_by: str = "composite_score",
            weights: dict[str, float] | None = None, exact: bool = False) -> dict[str, Any]:
    """The figures over ``f`` and, with ``group_by``, per group ranked best first by
    ``rank_by`` (groups without a value last): ``{"figures", "groups"}``.

    - response_rate = contacted ÷ valid callbacks (已联系数 / 有效回访数)
    - resolution_rate = resolved ÷ valid callbacks (已解决数 / 有效回访数)
    - satisfaction_rate = (satisfied + 0.9 × basically satisfied) ÷ valid callbacks
    - composite_score = w₁ × response + w₂ × resolution + w₃ × satisfaction (default
      0.1/0.5/0.4); numerator = w₁·contacted + w₂·resolved + w₃·satisfied points
    - closure_rate = cases reported in the period and closed by its end ÷ cases reported
      in the period (not rejected, voided or merged)
    - on_time_closure_rate = closed cases with closed_at ≤ due_at ÷ closed cases
    - rework_rate, return_rate, escalation_rate = closed cases with ≥ 1 rework / return /
      escalation ÷ closed cases; ``max_level`` is the highest escalation level reached,
      ``returns`` the returns (退单) those closed cases had in all
    - extension_rate = closed cases whose deadline an approved extension moved (≥ 1) ÷
      closed cases (engine/deadlines.py)
    - suspension_rate = closed cases suspended (挂账) at least once ÷ closed cases
    - void_rate, merge_rate = cases received in the period (reported, not rejected) that were
      voided (作废) / merged into another case (合并) ÷ cases received in the period; those
      cases count in no other figure (engine/exceptions.py)
    - report_in_minutes = median (``p90``) of claimed_at − whistled_at (first whistle to the
      liaison's report-in) over closed cases that were whistled and claimed
    - close_hours = median (``p90``) of closed_at − reported_at over closed cases
    - overdue_open = cases open at the cut-off past their due_at (not suspended) ÷ cases open at the cut-off,
      with ``bands`` by time past the deadline
    """
    weights = weights or dict(DEFAULT_WEIGHTS)
    if rank_by not in FIGURES:
        raise InvalidInput(f"cannot rank by '{rank_by}'", fields={"rank_by": f"one of {', '.join(FIGURES)}"})
    with _unprepared(s):
        overall = _aggregates(s, f, None, exact=exact).get("all", {})
        groups = _aggregates(s, f, group_by, exact=exact) if group_by is not None else {}
    result: dict[str, Any] = {"figures": _figures(overall, weights), "groups": []}
    if group_by is None:
        return result
    names = _names(s, group_by, [k for k in groups if k is not None])
    rows: list[dict[str, Any]] = [
        {"key": key, "name": names.get(key, (key, key))[0], "name_en": names.get(key, (key, key))[1],
         "figures": _figures(a, weights)} for key, a in groups.items()]
    sign = 1 if rank_by in LOWER_IS_BETTER else -1
    rows.sort(key=lambda r: (r["figures"][rank_by]["value"] is None, sign * (r["figures"][rank_by]["value"] or 0),
                             str(r["key"])))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank if row["figures"][rank_by]["value"] is not None else None
    result["groups"] = rows
    return result


def _names(s: Session, grouping: str, keys: list[str]) -> dict[str, tuple[str, str]]:
    if grouping in LEVELS:
        rows = s.execute(select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.code.in_(keys)))
    elif grouping == "department":
        rows = s.execute(select(Department.code, Department.name, Department.name_en)
                         .where(Department.code.in_(keys)))
    else:
        return {}
    return {code: (name, name_en or name) for code, name, name_en in rows}


def figure_cases(s: Session, f: Filters, figure: str, part: str, *, page: int = 1,
                 per_page: int = 20) -> tuple[list[Case], int]:
    """The cases behind one number: the figure's denominator or numerator, oldest first."""
    if part not in ("numerator", "denominator"):
        raise InvalidInput(f"unknown part '{part}'", fields={"part": "numerator or denominator"})
    dialect = _prepare(s)
    p = _Populations(f, dialect)
    denominator, numerator = p.parts(figure)
    condition = denominator if part == "denominator" else numerator
    if condition is None:
        raise InvalidInput(f"{figure} is not a share of cases: only its denominator lists cases",
                           fields={"part": "denominator"})
    where = [condition, *p.filters()]
    total = s.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    rows = s.scalars(select(Case).where(*where).order_by(Case.id).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def _at(*path: str) -> Callable[[dict[str, Any]], Any]:
    """What a group's figures hold at ``path`` (figure, part, ...)."""
    def get(figures: dict[str, Any]) -> Any:
        value: Any = figures
        for key in path:
            value = value[key]
        return value
    return get


def table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The figures as one table (a row for the whole selection, then one per group) for
    CSV / XLSX: each figure's value, numerator and denominator in columns."""
    header = ["key", "name", "rank"]
    columns: list[tuple[str, Callable[[dict[str, Any]], Any]]] = []
    for name in FIGURES:
        for part in ("value", "numerator", "denominator"):
            columns.append((f"{name}.{part}", _at(name, part)))
    columns += [("escalation_rate.max_level", _at("escalation_rate", "max_level")),
                ("report_in_minutes.p90", _at("report_in_minutes", "p90")),
                ("close_hours.p90", _at("close_hours", "p90"))]
    columns += [(f"overdue_open.{band}", _at("overdue_open", "bands", band)) for band, _l, _h in BANDS]
    header += [c for c, _ in columns]
    rows = [["all", "", None] + [get(result["figures"]) for _c, get in columns]]
    rows += [[g["key"], g["name"], g["rank"]] + [get(g["figures"]) for _c, get in columns] for g in result["groups"]]
    return header, rows



def request(s: Session, actor: Actor, *, tz: ZoneInfo, now: datetime, first: date | None = None,
            last: date | None = None, area: str | None = None, department: str | None = None,
            category: str | None = None, source: str | None = None) -> Filters:
    """The filters a user asked for, checked against what she may read (:func:`scope`);
    the period defaults to the month of ``last`` (today) up to that day."""
    today = now.astimezone(tz).date()
    last = last or (max(first, today) if first else today)
    first = first or last.replace(day=1)
    path, department = scope(s, actor, area, department)
    start, end, asof = period(first, last, tz, now)
    return Filters(start, end, asof, path, department, category or None, source or None, tz)


def grouping_below(s: Session, f: Filters) -> str:
    """The natural breakdown of an area: the org level just below it (a grid: departments)."""
    level = s.scalar(select(OrgUnit.level).where(OrgUnit.path == f.area_path))
    below = LEVELS[LEVELS.index(level) + 1:] if level in LEVELS else LEVELS[1:]
    return below[0] if below else "department"
