"""The inbox: a page of tasks in one scope (mine, claimable, area, unassignable) and the size
of each tab, read by a planner.

Why a planner: the inbox is every user's landing page and the hot path of the reads (p95 under
20 ms in the engine with 1M cases / 100k open tasks: bench/inbox_query.py, README
"Performance"), and no one index order serves every scope. So a scope is read as disjoint
parts, each pinning the leading columns of one index of ``Task`` (engine/model.py) so that its
rows come out in inbox order, and a part bounded by the actor's org subtree is read in
whichever way costs least: one arm per org unit, a due-ordered scan, or a sort (the notes
before ``MAX_UNIT_ARMS`` say how). Only the default view (soonest deadline first, at most category,
stage and grid) is planned; any other view, and a supervisor's overdue one, is filtered, sorted
and counted exactly by ``task_views``. The simple reads (details, lists, history) are in
``queries``; counts stop at ``paging.COUNT_CAP``.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (BindParameter, ColumnElement, CompoundSelect, Select, and_, func, literal, literal_column, or_,
                        select, union_all)
from sqlalchemy.orm import Session

from . import groups, paging, policy, task_views
from .errors import Forbidden, InvalidInput
from .model import Case, OrgUnit, Task, User
from .org import Actor
from .paging import Total
from .queries import LIST_COLUMNS, OPEN, task_dict

SCOPES = ("mine", "claimable", "area", "unassignable")
Scope = str | tuple[str, tuple[str, ...]]  # a scope's name, or ("unassignable", the roles nobody has)
Filters = tuple[str | None, str | None, str | None]  # category, stage, grid
# A part of a scope: its conditions, whether org_path must lie in the actor's subtree, the
# index columns it pins with IS NULL (see _parts).
Part = tuple[tuple[ColumnElement[bool], ...], bool, tuple[ColumnElement[Any], ...]]


def _scope_filter(actor: Actor, scope: Scope) -> ColumnElement[bool]:
    """The scope as one condition: the rule that ``_parts`` splits into index-sized parts."""
    if scope == "mine":
        return and_(Task.assignee_id == actor.id, Task.status == "claimed")
    if scope == "claimable":
        return policy.offered(actor)
    if scope == "area":
        _check_area_scope(actor)
        return and_(Task.status.in_(OPEN), policy.within(Task.org_path, actor.org_path))
    if isinstance(scope, tuple):  # ("unassignable", the roles nobody has): see _unassignable
        return and_(Task.status == "open", Task.role.in_(scope[1] or ("-",)), Task.candidate_user_id.is_(None),
                    or_(Task.org_path.is_(None), policy.within(Task.org_path, actor.org_path)))
    raise InvalidInput(f"unknown scope '{scope}'", fields={"scope": f"one of {', '.join(SCOPES)}"})


def _check_area_scope(actor: Actor) -> None:
    if not policy.may_oversee_area(actor):
        raise Forbidden("only supervisors see all tasks of their area", reason="supervisors_only")


# How the inbox reads a scope at scale (1M cases, 100k open tasks: bench/inbox_query.py).
#
# ``_parts`` splits the scope into disjoint parts whose conditions pin the leading columns of
# one index of ``Task`` by equality (engine/model.py):
#   mine       assignee, status 'claimed'                                 ix_task_assignee
#   claimable  per role of hers x (no department | her department):
#                status 'open', role, no candidate user, department, and
#                org_path IS NULL  or  org_path in her subtree           ix_task_queue(_due)
#              + status 'open', candidate user = her (lane-less tasks)    ix_task_candidate
#   area       per status ('open', 'claimed'): org_path in her subtree    ix_task_area_live / ix_task_due
# A part without a subtree range yields its rows from the index in inbox order (due_at,
# created_at, id). A subtree part is read in whichever way ``_way`` expects to read fewest rows:
# "unit": one arm per org unit of the subtree (org_path = unit: index order again) plus one arm
# for the rest of the range (paths that are no unit's, normally none: so the arms always cover
# the range exactly, whatever the unit list); "scan": the due-ordered index filtered by the
# subtree (when the subtree holds much of the queue); "sort": the range, sorted (small scopes).
# Each arm reads at most offset+per_page rows; one outer ORDER BY merges them. Rows without a
# due time come last and are read only when a page reaches them.
#
# Counting walks index entries (~0.1 us each on SQLite, more on PostgreSQL), so it stops after
# paging.COUNT_CAP + 1 rows: a larger scope counts as ``Total(COUNT_CAP, capped=True)``, an int
# that computes as COUNT_CAP and prints as "1000+".
#
# Values are written into the SQL text (``_lit``), and statements are built once per actor and
# page (``lru_cache``): PostgreSQL plans each with its values (a generic plan of a prepared
# statement may pick the wrong index), and building SQLAlchemy statements costs more than
# running these ones.
MAX_UNIT_ARMS = 64      # a wider subtree is never read as one arm per org unit
_SORT_COST = 4          # a row read and sorted costs about as much as this many rows scanned in order
_ARM_COST = 20          # one more arm costs about as much as this many rows read
_SUBTREE_TTL = 60.0     # seconds an org subtree is reused (a stale one costs speed, never rows)
_T = Task.__table__.c   # Core columns: statements built from them skip the ORM's layer
_ASSIGNEE = User.__table__.alias("assignee")
# status = 'open' with the value in the SQL text: the partial indexes of live tasks require it.
_STATUS = {status: _T.status == literal_column(f"'{status}'") for status in OPEN}
_subtrees: dict[tuple[str, str], tuple[float, tuple[str, ...] | None, float]] = {}


class _Row:
    """A result row as attributes (for ``task_dict``), cheaper to read than a Row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__ = values

    if TYPE_CHECKING:
        def __getattr__(self, name: str) -> Any: ...  # the row's columns


def _lit(value: Any) -> BindParameter[Any]:
    """A value written into the SQL text, not bound."""
    return literal(value, literal_execute=True)


def _range(path: str) -> ColumnElement[bool]:
    """org_path in the subtree at ``path`` (as ``policy.within``), as an index range."""
    return and_(_T.org_path >= _lit(path), _T.org_path < _lit(path + "\uffff"))


def _in_range(path: str, dialect: str) -> ColumnElement[bool]:
    """The subtree as the filter of a due-ordered scan. PostgreSQL gets the plain range and
    weighs it with its statistics; SQLite (whose statistics know no ranges) gets one that no index
    range serves, else it may prefer the range and a sort of the whole subtree."""
    if dialect == "postgresql":
        return _range(path)
    value = func.coalesce(_T.org_path, _lit(""))
    return and_(value >= _lit(path), value < _lit(path + "\uffff"))


def _unit_arms(path: str, units: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """org_path conditions splitting the subtree at ``path`` into one arm per org unit (in index
    order) and one arm for the rest of the range; ``units`` are sorted as the database sorts."""
    if not units:
        return [_range(path)]
    rest = [and_(_T.org_path >= _lit(path), _T.org_path < _lit(units[0]))] if units[0] != path else []
    rest += [and_(_T.org_path > _lit(low), _T.org_path < _lit(high)) for low, high in pairwise(units)]
    rest.append(and_(_T.org_path > _lit(units[-1]), _T.org_path < _lit(path + "\uffff")))
    return [_T.org_path == _lit(unit) for unit in units] + [or_(*rest)]


def _subtree(s: Session, path: str | None) -> tuple[tuple[str, ...] | None, float]:
    """The org unit paths at and below ``path`` in the database's order (None past
    MAX_UNIT_ARMS) and the share of all org units they are; reused for _SUBTREE_TTL."""
    if not path:
        return (), 0.0
    key, now = (str(s.get_bind().engine.url), path), time.monotonic()
    hit = _subtrees.get(key)
    if hit and hit[0] > now:
        return hit[1], hit[2]
    unit = OrgUnit.__table__
    rows = s.execute(select(unit.c.path, select(func.count()).select_from(unit).scalar_subquery())
                     .where(policy.within(unit.c.path, path)).order_by(unit.c.path).limit(MAX_UNIT_ARMS + 1)).all()
    if not rows:
        units, share = (), 0.0
    elif len(rows) > MAX_UNIT_ARMS:
        inside = s.scalar(select(func.count()).select_from(unit).where(policy.within(unit.c.path, path))) or 0
        units, share = None, min(1.0, inside / (rows[0][1] or 1))
    else:
        units, share = tuple(dict.fromkeys(p for p, _ in rows)), len(rows) / (rows[0][1] or 1)
    if len(_subtrees) > 4096:
        _subtrees.clear()
    _subtrees[key] = (now + _SUBTREE_TTL, units, share)
    return units, share


def _parts(actor: Actor, scope: Scope) -> list[Part]:
    """The scope as disjoint parts: (conditions, whether org_path must lie in the actor's
    subtree, the index columns between the equalities and due_at that the part pins with IS NULL).
    A part orders by those columns first (a no-op: they are NULL in all its rows): PostgreSQL only
    sees that the index yields due_at order when IS NULL columns are part of the ORDER BY."""
    if scope == "mine":
        return [((_T.assignee_id == _lit(actor.id), _STATUS["claimed"]), False, ())]
    if scope == "claimable":
        parts: list[Part] = []
        for role in dict.fromkeys(actor.roles):
            for department in (None, actor.department) if actor.department else (None,):
                base: tuple[ColumnElement[bool], ...] = (
                    _STATUS["open"], _T.role == _lit(role), _T.candidate_user_id.is_(None),
                        _T.department.is_(None) if department is None else _T.department == _lit(department),
                        or_(_T.excluded_user_id.is_(None), _T.excluded_user_id != _lit(actor.id)))
                pinned: tuple[ColumnElement[Any], ...] = (_T.candidate_user_id, _T.department)
                parts.append((base + (_T.org_path.is_(None),), False, pinned + (_T.org_path,)))
                if actor.org_path:
                    parts.append((base, True, pinned))
        return parts + [((_STATUS["open"], _T.candidate_user_id == _lit(actor.id)), False, ())]
    if scope == "area":
        _check_area_scope(actor)
        return [((_STATUS[status],), True, ()) for status in OPEN] if actor.org_path else []
    if isinstance(scope, tuple):  # per role nobody has: its tasks without an area, and those of hers
        parts = []
        for role in scope[1]:
            base = (_STATUS["open"], _T.role == _lit(role), _T.candidate_user_id.is_(None))
            parts.append((base + (_T.org_path.is_(None),), False, ()))
            if actor.org_path:
                parts.append((base, True, ()))
        return parts
    raise InvalidInput(f"unknown scope '{scope}'", fields={"scope": f"one of {', '.join(SCOPES)}"})


def _extra(filters: Filters) -> list[ColumnElement[bool]]:
    category, stage, grid = filters
    return ([_T.category == _lit(category)] if category else []) + ([_T.stage == _lit(stage)] if stage else []) \
        + ([_T.org_unit_code == _lit(grid)] if grid else [])


def _count_rows(actor: Actor, scope: Scope, filters: Filters, cap: int | None, due_only: bool = False
                ) -> Select[tuple[int]]:
    """A statement counting the scope's rows, stopping at ``cap`` + 1 (None: exact)."""
    extra = _extra(filters) + ([_T.due_at.is_not(None)] if due_only else [])
    path = actor.org_path or ""  # (parts are ranged only for an actor with an area)
    arms: list[Select[tuple[Any]]] = [select(literal_column("1").label("one")).select_from(Task.__table__)
            .where(*conds, *extra, *((_range(path),) if ranged else ()))
            for conds, ranged, _pinned in _parts(actor, scope)]
    if not arms:
        return select(literal_column("0"))
    rows: CompoundSelect[tuple[Any]] | Select[tuple[Any]] = union_all(*arms) if len(arms) > 1 else arms[0]
    if cap is not None:
        rows = rows.limit(_lit(cap + 1))
    return select(func.count()).select_from(rows.subquery())


_count_statement = lru_cache(maxsize=2048)(_count_rows)


@lru_cache(maxsize=1024)
def _counts_statement(actor: Actor, cap: int) -> tuple[list[str], Select[Any]]:
    scopes = [sc for sc in policy.inbox_scopes(actor) if sc in SCOPES and sc != "unassignable"]
    return scopes, select(*[_count_rows(actor, sc, (None, None, None), cap).scalar_subquery() for sc in scopes])


def _way(parts: list[Part], units: tuple[str, ...] | None, share: float, total: Total, need: int, due: bool) -> str:
    """How to read the subtree parts ("unit", "scan" or "sort"): the way with the least cost
    (rows read, plus _SORT_COST - 1 per row the merge sorts, plus _ARM_COST per arm)."""
    ranged = sum(1 for _c, r, _p in parts if r)
    several = len(parts) > 1
    many = float("inf") if total.capped else int(total)  # a capped total stands for "many"
    costs = {"sort": many * _SORT_COST + _ARM_COST * ranged}
    if units is not None:
        arms = ranged * (len(units) + 1)
        costs["unit"] = min(many, arms * need) * (_SORT_COST if several or arms > 1 else 1) + _ARM_COST * arms
    if due and share > 0:
        rows = ranged * need
        costs["scan"] = rows / share + (rows * (_SORT_COST - 1) if several else 0) + _ARM_COST * ranged
    return min(costs, key=costs.__getitem__)


@lru_cache(maxsize=2048)
def _page_statement(actor: Actor, scope: Scope, filters: Filters, units: tuple[str, ...] | None, way: str, due: bool,
                    offset: int, limit: int, dialect: str) -> Select[Any]:
    """Rows offset..offset+limit of the scope among its rows with (without) a due time, with
    their case number and title and the holder's username."""
    # (conditions, ORDER BY prefix or None: read whole, unordered)
    arms: list[tuple[tuple[ColumnElement[bool], ...], tuple[ColumnElement[Any], ...] | None]] = []
    path = actor.org_path or ""  # (parts are ranged only for an actor with an area)
    for conds, ranged, pinned in _parts(actor, scope):
        if not ranged:
            arms.append((conds, pinned))
        elif way == "unit":
            assert units is not None  # (_way reads by unit only a subtree of known units)
            *by_unit, rest = _unit_arms(path, units)
            arms += [(conds + (cond,), pinned + (_T.org_path,)) for cond in by_unit]
            # The rest of the range is normally empty: read it whole, so that no planner walks a
            # due-ordered index through the queue to find out.
            arms.append((conds + (rest,), None if by_unit else pinned))
        else:
            arms.append((conds + (_in_range(path, dialect) if way == "scan" else _range(path),),
                         pinned))
    extra = _extra(filters) + [_T.due_at.is_not(None) if due else _T.due_at.is_(None)]
    columns = (_T.id, _T.due_at, _T.created_at)
    order = (_T.due_at, _T.created_at, _T.id) if due else (_T.created_at, _T.id)
    if len(arms) == 1:
        (conds, only), = arms  # (never read whole: a part read whole is one of several)
        page = (select(*columns).where(*conds, *extra).order_by(*(only or ()), *order)
                .limit(_lit(limit)).offset(_lit(offset)).subquery("page"))
    else:
        # An unordered arm is still a LIMITed subquery: else SQLite merges it into the outer ORDER
        # BY and reads it in due order again.
        merged = union_all(*[select(select(*columns).where(*conds, *extra).order_by(*pinned, *order)
                                    .limit(_lit(offset + limit)).subquery()) if pinned is not None
                             else select(select(*columns).where(*conds, *extra).limit(_lit(2 ** 31 - 1)).subquery())
                             for conds, pinned in arms]).subquery("arms")
        page = (select(merged).order_by(*[merged.c[c.key] for c in order])
                .limit(_lit(limit)).offset(_lit(offset)).subquery("page"))
    case = Case.__table__
    return (select(*LIST_COLUMNS, case.c.number.label("case_number"), case.c.title.label("case_title"),
                   _ASSIGNEE.c.username.label("assignee_name"))
            .select_from(page.join(Task.__table__, _T.id == page.c.id).outerjoin(case, case.c.id == _T.case_id)
                         .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == _T.assignee_id))
            .order_by(*[page.c[c.key] for c in order]))


def _page(s: Session, actor: Actor, scope: Scope, filters: Filters, subtree: tuple[tuple[str, ...] | None, float],
          total: Total, due: bool, offset: int, limit: int, now: datetime) -> list[dict[str, Any]]:
    parts = _parts(actor, scope)
    if not parts:
        return []
    units, share = subtree
    way = _way(parts, units, share, total, offset + limit, due) if any(r for _c, r, _p in parts) else "sort"
    rows = s.execute(_page_statement(actor, scope, filters, units if way == "unit" else None, way, due, offset,
                                     limit, s.get_bind().dialect.name))
    return [task_dict(row, now, r.case_number, r.case_title, r.assignee_name) | policy.task_actions(actor, row)
            for r in rows for row in (cast(Task, _Row(r._asdict())),)]  # (a Task's columns as attributes)

def _unassignable(s: Session, actor: Actor) -> tuple[str, tuple[str, ...]]:
    """The scope ``unassignable`` as ``_parts`` reads it: open tasks offered to a role or group
    that no active user has (so to nobody), in the actor's area or in none; for supervisors
    and designers, so that such tasks are never hidden."""
    if not policy.may_see_unassignable(actor):
        raise Forbidden("only supervisors and designers see the tasks nobody can take", reason="supervisors_only")
    return "unassignable", groups.unstaffed_roles(s)


def unassignable_count(s: Session, actor: Actor) -> Total:
    scope = _unassignable(s, actor)
    counted = s.scalar(_count_statement(actor, scope, (None, None, None), paging.COUNT_CAP)) if scope[1] else 0
    return paging.total(counted or 0)


def inbox(s: Session, actor: Actor, scope: Scope, *, now: datetime, tz: tzinfo = timezone.utc, page: int = 1,
          per_page: int = 20, **values: str | None) -> tuple[list[dict[str, Any]], Total]:
    """A page of tasks in ``scope`` (or a supervisor's ``overdue`` view) and its total.

    ``values`` are ``task_views.TaskFilters``' (``tz``: the local day and week of the due
    windows). The default view (soonest deadline first, none last; at most category, stage and
    grid) is planned (see the module) and its total capped at COUNT_CAP (then ``total.capped``
    and it prints as "1000+"); any other view is filtered, sorted and counted exactly in SQL."""
    paging.check(page, per_page)
    chosen = task_views.TaskFilters.of(values)
    if scope == "overdue" or not chosen.planned:
        return _view(s, actor, scope, chosen, now, tz, page, per_page)
    if scope == "unassignable":
        scope = _unassignable(s, actor)
        if not scope[1]:
            return [], Total(0)
    filters = (chosen.category, chosen.stage, chosen.grid)
    total = paging.total(s.scalar(_count_statement(actor, scope, filters, paging.COUNT_CAP)) or 0)
    offset = (page - 1) * per_page
    if not total or (offset >= total and not total.capped):
        return [], total
    subtree = _subtree(s, actor.org_path) if scope != "mine" else ((), 0.0)
    items = _page(s, actor, scope, filters, subtree, total, True, offset, per_page, now)
    if len(items) < per_page and (total.capped or offset + len(items) < total):  # tasks without a due time
        with_due = offset + len(items) if items or not offset else \
            s.scalar(_count_rows(actor, scope, filters, None, due_only=True)) or 0
        start = max(0, offset - with_due)
        items += _page(s, actor, scope, filters, subtree, total, False, start, per_page - len(items), now)
    return items, total


def _view(s: Session, actor: Actor, scope: Scope, filters: task_views.TaskFilters, now: datetime, tz: tzinfo,
          page: int, per_page: int) -> tuple[list[dict[str, Any]], Total]:
    if scope == "overdue":
        condition = task_views.overdue_condition(actor, now)
    elif scope == "unassignable":
        condition = _scope_filter(actor, _unassignable(s, actor))
    else:
        condition = _scope_filter(actor, scope)
    rows, total = task_views.view(s, actor, condition, filters, now, tz, page=page, per_page=per_page)
    return [task_dict(t, now, number, title, username) | policy.task_actions(actor, t)
            for t, number, title, username in rows], Total(total)


def tab_counts(s: Session, actor: Actor, now: datetime) -> dict[str, Total]:
    """The size of each inbox tab the actor has: her scopes (``inbox_counts``), a supervisor's
    overdue view, and for supervisors and designers the tasks nobody can take."""
    counts = inbox_counts(s, actor)
    if policy.may_oversee_area(actor):
        counts["overdue"] = paging.count(s, select(Task.id).where(task_views.overdue_condition(actor, now)))
    if policy.may_see_unassignable(actor):
        counts["unassignable"] = unassignable_count(s, actor)
    return counts


def inbox_counts(s: Session, actor: Actor) -> dict[str, Total]:
    """The size of each of the actor's inbox scopes (each a ``Total``, see ``inbox``), in one statement."""
    scopes, statement = _counts_statement(actor, paging.COUNT_CAP)
    return {sc: paging.total(n) for sc, n in zip(scopes, s.execute(statement).one(), strict=True)}

