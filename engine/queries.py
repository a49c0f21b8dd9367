"""Read-side queries: inboxes, cases, history. Indexed columns only; never a workflow load."""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (BindParameter, ColumnElement, CompoundSelect, Row, Select, and_, bindparam, func, literal,
                        literal_column, or_, select, union_all)
from sqlalchemy.orm import Session, undefer
from sqlalchemy.orm.interfaces import ORMOption

from . import groups, policy, task_views
from .errors import Forbidden, InvalidInput, NotFound
from .model import Case, Event, OrgUnit, ProcessDefinition, ProcessInstance, Task, User
from .org import Actor

SCOPES = ("mine", "claimable", "area", "unassignable")
OPEN = ("open", "claimed")
Scope = str | tuple[str, tuple[str, ...]]  # a scope's name, or ("unassignable", the roles nobody has)
Filters = tuple[str | None, str | None, str | None]  # category, stage, grid
# A part of a scope: its conditions, whether org_path must lie in the actor's subtree, the
# index columns it pins with IS NULL (see _parts).
Part = tuple[tuple[ColumnElement[bool], ...], bool, tuple[ColumnElement[Any], ...]]
MAX_PER_PAGE = 200
MAX_PAGE = 100_000  # deeper pages are a client's bug (and offsets beyond the databases' integers)


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
# COUNT_CAP + 1 rows: a larger scope counts as ``Total(COUNT_CAP, capped=True)``, an int that
# computes as COUNT_CAP and prints as "1000+".
#
# Values are written into the SQL text (``_lit``), and statements are built once per actor and
# page (``lru_cache``): PostgreSQL plans each with its values (a generic plan of a prepared
# statement may pick the wrong index), and building SQLAlchemy statements costs more than
# running these ones.
COUNT_CAP = 1000
MAX_UNIT_ARMS = 64      # a wider subtree is never read as one arm per org unit
_SORT_COST = 4          # a row read and sorted costs about as much as this many rows scanned in order
_ARM_COST = 20          # one more arm costs about as much as this many rows read
_SUBTREE_TTL = 60.0     # seconds an org subtree is reused (a stale one costs speed, never rows)
_T = Task.__table__.c   # Core columns: statements built from them skip the ORM's layer
_PAGE_COLUMNS = [c for c in Task.__table__.columns if c.key not in ("data", "input")]  # large, not listed
_ASSIGNEE = User.__table__.alias("assignee")
# status = 'open' with the value in the SQL text: the partial indexes of live tasks require it.
_STATUS = {status: _T.status == literal_column(f"'{status}'") for status in OPEN}
_subtrees: dict[tuple[str, str], tuple[float, tuple[str, ...] | None, float]] = {}


class Total(int):
    """A count that stopped at COUNT_CAP when ``capped``: an int, printed as "1000+"."""

    capped: bool

    def __new__(cls, value: int, capped: bool = False) -> Total:
        total = super().__new__(cls, value)
        total.capped = capped
        return total

    def __str__(self) -> str:
        return f"{int(self)}+" if self.capped else int.__repr__(self)

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def _total(n: int) -> Total:
    return Total(COUNT_CAP, capped=True) if n > COUNT_CAP else Total(n)


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
    return (select(*_PAGE_COLUMNS, case.c.number.label("case_number"), case.c.title.label("case_title"),
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


def _check_paging(page: int, per_page: int) -> None:
    if not 1 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": f"1..{MAX_PAGE}", "per_page": f"1..{MAX_PER_PAGE}"})


def _unassignable(s: Session, actor: Actor) -> tuple[str, tuple[str, ...]]:
    """The scope ``unassignable`` as ``_parts`` reads it: open tasks offered to a role or group
    that no active user has (so to nobody), in the actor's area or in none; for supervisors
    and designers, so that such tasks are never hidden."""
    if not policy.may_see_unassignable(actor):
        raise Forbidden("only supervisors and designers see the tasks nobody can take", reason="supervisors_only")
    return "unassignable", groups.unstaffed_roles(s)


def unassignable_count(s: Session, actor: Actor) -> Total:
    scope = _unassignable(s, actor)
    counted = s.scalar(_count_statement(actor, scope, (None, None, None), COUNT_CAP)) if scope[1] else 0
    return _total(counted or 0)


def inbox(s: Session, actor: Actor, scope: Scope, *, now: datetime, tz: tzinfo = timezone.utc, page: int = 1,
          per_page: int = 20, **values: str | None) -> tuple[list[dict[str, Any]], Total]:
    """A page of tasks in ``scope`` (or a supervisor's ``overdue`` view) and its total.

    ``values`` are ``task_views.TaskFilters``' (``tz``: the local day and week of the due
    windows). The default view (soonest deadline first, none last; at most category, stage and
    grid) is read by the planner below and its total capped at COUNT_CAP (then ``total.capped``
    and it prints as "1000+"); any other view is filtered, sorted and counted exactly in SQL."""
    _check_paging(page, per_page)
    chosen = task_views.TaskFilters.of(values)
    if scope == "overdue" or not chosen.planned:
        return _view(s, actor, scope, chosen, now, tz, page, per_page)
    if scope == "unassignable":
        scope = _unassignable(s, actor)
        if not scope[1]:
            return [], Total(0)
    filters = (chosen.category, chosen.stage, chosen.grid)
    total = _total(s.scalar(_count_statement(actor, scope, filters, COUNT_CAP)) or 0)
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
        capped = select(Task.id).where(task_views.overdue_condition(actor, now)).limit(COUNT_CAP + 1).subquery()
        counts["overdue"] = _total(s.scalar(select(func.count()).select_from(capped)) or 0)
    if policy.may_see_unassignable(actor):
        counts["unassignable"] = unassignable_count(s, actor)
    return counts


def inbox_counts(s: Session, actor: Actor) -> dict[str, Total]:
    """The size of each of the actor's inbox scopes (each a ``Total``, see ``inbox``), in one statement."""
    scopes, statement = _counts_statement(actor, COUNT_CAP)
    return {sc: _total(n) for sc, n in zip(scopes, s.execute(statement).one(), strict=True)}


def task_dict(t: Task, now: datetime, case_number: str | None = None, case_title: str | None = None,
              assignee: str | None = None) -> dict[str, Any]:
    return {"id": t.id, "instance_id": t.instance_id, "case_id": t.case_id, "case_number": case_number,
            "case_title": case_title, "process_key": t.process_key, "name": t.name, "name_zh": t.name_zh,
            "element_id": t.element_id, "stage": t.stage, "role": t.role, "org_unit": t.org_unit_code,
            "department": t.department, "assignee": assignee, "status": t.status, "priority": t.priority,
            "category": t.category, "due_at": t.due_at, "created_at": t.created_at, "claimed_at": t.claimed_at,
            "completed_at": t.completed_at, "overdue": bool(t.due_at and t.status in OPEN and t.due_at < now),
            "urge_count": t.urge_count, "urged_at": t.urged_at, "overdue_at": t.overdue_at, "form": t.form}


def visible_task(s: Session, actor: Actor, task_id: str, *options: ORMOption) -> Task:
    """The task row if ``actor`` may see it: hers, offered to her, of her area (supervisors),
    or one she completed (NotFound, Forbidden)."""
    task = s.get(Task, task_id, options=list(options))
    if task is None:
        raise NotFound(f"task {task_id} not found", reason="task_not_found")
    if not policy.may_see_task(actor, task):
        raise Forbidden("this task is not yours and not offered to you", reason="task_not_yours")
    return task


def task_for_submit(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """``task_detail`` for a form being submitted: a finished task she could have taken (a
    stale tab) is refused as the command would refuse it (who finished it, when), not as
    one she may not see."""
    try:
        return task_detail(s, actor, task_id, now)
    except Forbidden:
        task = s.get(Task, task_id)
        if task is not None and task.status not in OPEN and policy.is_candidate(actor, task):
            raise policy.task_refusal(s, task, actor.id) from None
        raise


def task_detail(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """A task, its case summary and its form's JSON Schema (``schema``; ``form`` is the form's
    file name, as in every task dict), if the actor may see it."""
    task = visible_task(s, actor, task_id, undefer(Task.input))
    forms = instance_forms(s, task.instance_id)
    assignee = s.get(User, task.assignee_id) if task.assignee_id else None
    case = s.get(Case, task.case_id) if task.case_id else None
    result = task_dict(task, now, case.number if case else None, case.title if case else None,
                       assignee.username if assignee else None)
    result["schema"] = forms.get(task.form) if task.form else None
    result["data"] = task.data
    result["input"] = json.loads(task.input) if task.input is not None else None
    result["case"] = case_summary(case) if case else None
    result.update(policy.task_actions(actor, task))
    result["can_ask_exception"] = policy.may_ask_on_task(actor, task)
    return result


_forms_by_definition: dict[tuple[str, int, str], dict[str, Any]] = {}


def instance_forms(s: Session, instance_id: int) -> dict[str, Any]:
    """The forms of the definition version an instance runs on. A version never changes, so
    each is read once per process (keyed by database, id and content hash, so two databases
    or a re-created one never mix)."""
    row = s.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash).join(
        ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id).where(
        ProcessInstance.id == instance_id)).first()
    if row is None:
        return {}
    key = (str(s.get_bind().engine.url), row.id, row.content_hash)
    forms = _forms_by_definition.get(key)
    if forms is None:
        forms = _forms_by_definition[key] = s.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == row.id)) or {}
    return forms


def case_summary(c: Case) -> dict[str, Any]:
    return {"id": c.id, "number": c.number, "title": c.title, "description": c.description,
            "category": c.category, "urgency": c.urgency, "source": c.source, "grid": c.grid.code,
            "grid_name": c.grid.name, "grid_name_en": c.grid.name_en, "address": c.address, "lat": c.lat, "lon": c.lon,
            "reporter": {"name": c.reporter_name, "phone": c.reporter_phone}, "department": c.department,
            "stage": c.stage, "status": c.status, "escalation_level": c.escalation_level,
            "consult_unit": c.consult_unit, "rework_count": c.rework_count, "return_count": c.return_count,
            "reported_at": c.reported_at, "dispatched_at": c.dispatched_at, "claimed_at": c.claimed_at,
            "resolved_at": c.resolved_at, "verified_at": c.verified_at, "closed_at": c.closed_at,
            "whistled_at": c.whistled_at, "due_at": c.due_at, "overdue_at": c.overdue_at,
            "extension_count": c.extension_count, "suspension_count": c.suspension_count,
            "suspended_at": c.suspended_at, "merged_into_id": c.merged_into_id, "updated_at": c.updated_at,
            "satisfaction": c.satisfaction, "feedback_contacted": c.feedback_contacted,
            "feedback_resolved": c.feedback_resolved, "feedback_comment": c.feedback_comment,
            "instance_id": c.instance_id, "source_instance_id": c.source_instance_id}


def case_list(s: Session, actor: Actor, *, status: str | None = None, stage: str | None = None,
              category: str | None = None, grid: str | None = None, q: str | None = None,
              department: str | None = None, source: str | None = None, area: str | None = None,
              reported: tuple[datetime, datetime] | None = None, overdue_at: datetime | None = None,
              page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Cases she may see, newest first; ``area`` is any org unit (its whole subtree),
    ``reported`` a ``[start, end)`` period, ``overdue_at`` keeps the cases open past their
    deadline at that time (not suspended)."""
    _check_paging(page, per_page)
    where = [policy.visible_cases(actor)]
    if area:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == area))
        if path is None:
            raise InvalidInput(f"unknown org unit '{area}'", fields={"area": "unknown org unit code"})
        where.append(policy.within(Case.org_path, path))
    if department:
        where.append(Case.department == department)
    if source:
        where.append(Case.source == source)
    if reported:
        where += [Case.reported_at >= reported[0], Case.reported_at < reported[1]]
    if overdue_at:  # a suspended case's clock stands still
        where += [Case.status == "open", Case.due_at < overdue_at, Case.suspended_at.is_(None)]
    if status:
        where.append(Case.status == status)
    if stage:
        where.append(Case.stage == stage)
    if category:
        where.append(Case.category == category)
    if grid:
        where.append(Case.grid_id == select(OrgUnit.id).where(OrgUnit.code == grid).scalar_subquery())
    if q:
        where.append(or_(Case.number == q, Case.title.contains(q, autoescape=True)))  # % and _ are text
    total = s.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    rows = s.scalars(select(Case).where(*where).order_by(Case.reported_at.desc(), Case.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [case_summary(c) for c in rows], total


def get_case(s: Session, actor: Actor, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found", reason="case_not_found")
    holds = s.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id)))
    if not policy.may_open_case(actor, case, bool(holds)):
        raise Forbidden("this case is outside your area", reason="case_outside_area")
    return case


def may_see_case(s: Session, actor: Actor, case_id: int) -> bool:
    """Whether ``actor`` may open the case (``get_case``'s rule), e.g. for a link to it."""
    try:
        get_case(s, actor, case_id)
    except (NotFound, Forbidden):
        return False
    return True


def case_detail(s: Session, actor: Actor, case_id: int, now: datetime) -> dict[str, Any]:
    """The case with its open tasks (who holds them) and its full timeline."""
    case = get_case(s, actor, case_id)
    result = case_summary(case)
    result["open_tasks"] = open_tasks(s, now, case_id=case_id)
    if case.suspended_at is not None:  # its clock stands still: its own tasks are not overdue meanwhile
        for task in result["open_tasks"]:
            task["overdue"] = task["overdue"] and task["instance_id"] != case.instance_id
    result["history"] = history(s, case_id=case_id)
    result.update(merged_cases(s, actor, case))
    # Waiting for the callback: its feedback task is open, or merged into a case that closed.
    waiting = case.feedback_at is None and (case.status == "merged" or any(
        t["id"] == case.feedback_task_id for t in result["open_tasks"]))
    result["feedback_token"] = case.feedback_token if waiting and policy.may_see_feedback_link(actor, case) else None
    return result


def merged_cases(s: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """``merged_from``: the duplicates merged into ``case`` that ``actor`` may see, in the order
    they were merged (their number, title, reporter, when merged, when their reporter answered
    the callback); ``merged_into``: the original a merged case points at (id and number)."""
    rows = s.execute(select(Case.id, Case.number, Case.title, Case.reporter_name, Case.reporter_phone,
                            Case.reported_at, Case.closed_at, Case.feedback_at, Case.satisfaction)
                     .where(Case.merged_into_id == case.id, Case.status == "merged", policy.visible_cases(actor))
                     .order_by(Case.closed_at, Case.id))
    merged_from = [{"id": r.id, "number": r.number, "title": r.title,
                    "reporter": {"name": r.reporter_name, "phone": r.reporter_phone}, "reported_at": r.reported_at,
                    "merged_at": r.closed_at, "feedback_at": r.feedback_at, "satisfaction": r.satisfaction}
                   for r in rows]
    original = s.scalar(select(Case.number).where(Case.id == case.merged_into_id)) if case.merged_into_id else None
    return {"merged_from": merged_from,
            "merged_into": {"id": case.merged_into_id, "number": original} if original else None}


def _open_tasks_of(column: ColumnElement[Any]) -> Select[Any]:
    table = Task.__table__
    return (select(*_PAGE_COLUMNS, table.c.data, User.username.label("assignee_name"))
            .outerjoin(User, User.id == table.c.assignee_id)
            .where(column == bindparam("key"), table.c.status.in_(OPEN)).order_by(table.c.created_at))


# Built once: a case page and every completion ask for these.
_OPEN_TASKS_OF_CASE = _open_tasks_of(Task.__table__.c.case_id)
_OPEN_TASKS_OF_INSTANCE = _open_tasks_of(Task.__table__.c.instance_id)


def _open_task_rows(s: Session, case_id: int | None, instance_id: int | None) -> list[tuple[Task, str | None]]:
    statement = _OPEN_TASKS_OF_CASE if case_id is not None else _OPEN_TASKS_OF_INSTANCE
    rows = s.connection().execute(statement, {"key": case_id if case_id is not None else instance_id})
    return [(Task(**{k: v for k, v in r._mapping.items() if k != "assignee_name"}), r.assignee_name) for r in rows]


def open_tasks(s: Session, now: datetime, *, case_id: int | None = None, instance_id: int | None = None
               ) -> list[dict[str, Any]]:
    """A case's (or an instance's) open tasks and who holds them."""
    return [task_dict(t, now, assignee=u) for t, u in _open_task_rows(s, case_id, instance_id)]


def history(s: Session, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict[str, Any]]:
    where = Event.case_id == case_id if case_id is not None else Event.instance_id == instance_id
    rows = s.execute(select(Event.id, Event.type, Event.at, User.username.label("actor"),
                            User.display_name.label("actor_name"), User.display_name_en.label("actor_name_en"),
                            Event.task_id, Event.payload)
                     .outerjoin(User, User.id == Event.actor_id).where(where).order_by(Event.id))
    return [row._asdict() for row in rows]


def user_names(s: Session, usernames: set[str]) -> dict[str, tuple[str, str | None]]:
    """(display name, English display name) of users by username: pages show names, not usernames."""
    if not usernames:
        return {}
    return {username: (name, name_en) for username, name, name_en in s.execute(
        select(User.username, User.display_name, User.display_name_en).where(User.username.in_(usernames)))}


def report_grids(s: Session, actor: Actor) -> list[dict[str, Any]]:
    """The grids a user may report for (``policy.reportable_grids``)."""
    query = select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.level == "grid",
                                                                      *policy.reportable_grids(actor))
    return [dict(code=c, name=n, name_en=e) for c, n, e in s.execute(query.order_by(OrgUnit.code))]


def unit_names(s: Session, codes: set[str]) -> dict[str, tuple[str, str | None]]:
    """(name, English name) of org units by code."""
    if not codes:
        return {}
    return {code: (name, name_en) for code, name, name_en in s.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.code.in_(codes)))}


def process_names(s: Session, keys: set[str]) -> dict[str, str]:
    """The name of each process (its newest version's) by key, for history that codes it."""
    if not keys:
        return {}
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
              .where(ProcessDefinition.key.in_(keys)).group_by(ProcessDefinition.key).subquery())
    return {key: name for key, name in s.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).join(
            newest, and_(newest.c.key == ProcessDefinition.key, newest.c.version == ProcessDefinition.version)))
        if name}


_INSTANCE = (select(ProcessInstance.id, ProcessInstance.key, ProcessDefinition.version, ProcessInstance.status,
                    ProcessInstance.case_id, ProcessInstance.started_at, ProcessInstance.ended_at,
                    ProcessInstance.next_timer_at, ProcessInstance.started_by_id, ProcessInstance.error)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))
_INSTANCE_BY_ID = _INSTANCE.where(ProcessInstance.id == bindparam("iid"))


def visible_instance(s: Session, actor: Actor, instance_id: int) -> Row[Any]:
    """The instance's summary row if ``actor`` may see it: its case is visible to her, or she
    started it or has a task in it (designers and supervisors see caseless instances)."""
    inst = s.connection().execute(_INSTANCE_BY_ID, {"iid": instance_id}).first()
    if inst is None:
        raise NotFound(f"process instance {instance_id} not found")
    if inst.case_id is not None:
        get_case(s, actor, inst.case_id)
    elif not policy.may_see_instance(actor, inst.started_by_id, involved=False):
        tasks = s.scalar(select(func.count()).select_from(Task).where(
            Task.instance_id == instance_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id,
                                                 Task.candidate_user_id == actor.id)))
        if not policy.may_see_instance(actor, inst.started_by_id, involved=bool(tasks)):
            raise Forbidden("this process instance is not yours")
    return inst


def instance_detail(s: Session, actor: Actor, instance_id: int, now: datetime) -> dict[str, Any]:
    """An instance (without its stored state) with its open tasks and history, if ``actor``
    may see it: its case is visible to her, or she started it or has a task in it."""
    inst = visible_instance(s, actor, instance_id)
    reported = s.execute(select(Case.id, Case.number, Case.org_path, Case.reported_by_id)
                         .where(Case.source_instance_id == instance_id).order_by(Case.id))
    return {**inst._asdict(), "open_tasks": open_tasks(s, now, instance_id=instance_id),
            "history": history(s, instance_id=instance_id),
            "reported_cases": [{"id": r.id, "number": r.number} for r in reported
                               if policy.may_see_reported(actor, r)]}


_VARIABLES = (select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.started_by_id, ProcessInstance.data,
                     ProcessInstance.case_id, Case.org_path).outerjoin(Case, Case.id == ProcessInstance.case_id)
              .where(ProcessInstance.id == bindparam("iid")))


def instance_variables(s: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """An instance's current process data (see ``readmodel.process_data``; null for an instance
    no command has touched since the column was added), for designers, the supervisors of its
    case's area (any supervisor if it has no case) and the user who started it."""
    row = s.connection().execute(_VARIABLES, {"iid": instance_id}).first()
    if row is None:
        raise NotFound(f"process instance {instance_id} not found")
    if not policy.may_read_process_data(actor, row.started_by_id, row.org_path, row.case_id is not None):
        raise Forbidden("the process data of this instance is not yours to read")
    return {"id": row.id, "status": row.status,
            "variables": json.loads(row.data) if row.data is not None else None}


def instance_list(s: Session, actor: Actor, *, key: str | None = None, status: str | None = None,
                  page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], Total]:
    """Process instances, newest first: all of them for designers and supervisors, the ones
    she started for anyone else; the total is capped like the inbox's."""
    _check_paging(page, per_page)
    where = policy.visible_instances(actor)
    if key:
        where.append(ProcessInstance.key == key)
    if status:
        where.append(ProcessInstance.status == status)
    capped = select(ProcessInstance.id).where(*where).limit(COUNT_CAP + 1).subquery()
    total = _total(s.scalar(select(func.count()).select_from(capped)) or 0)
    rows = s.execute(_INSTANCE.where(*where).order_by(ProcessInstance.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [row._asdict() for row in rows], total


def user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name,
            "display_name_en": u.display_name_en, "roles": list(u.roles or []),
            "org_unit": u.org_unit.code if u.org_unit else None,
            "org_unit_name": u.org_unit.name if u.org_unit else None,
            "org_unit_name_en": u.org_unit.name_en if u.org_unit else None,
            "org_level": u.org_unit.level if u.org_unit else None,
            "department": u.department.code if u.department else None,
            "department_name": u.department.name if u.department else None,
            "department_name_en": u.department.name_en if u.department else None}


def feedback_link(s: Session, token: str, now: datetime) -> dict[str, Any]:
    """What the public feedback page may show: the case in brief and whether the link works."""
    case = s.scalars(select(Case).where(Case.feedback_token == token)).first()
    if case is None:
        raise NotFound("unknown feedback link")
    task = s.get(Task, case.feedback_task_id) if case.feedback_task_id else None
    if case.feedback_at is not None:
        state = "used"
    elif task is None or task.status not in OPEN or (task.due_at is not None and task.due_at < now):
        state = "expired"
    else:
        state = "valid"
    form = task.form if task else None
    return {"state": state, "number": case.number, "title": case.title, "category": case.category,
            "reported_at": case.reported_at, "resolved_at": case.resolved_at, "form": form,
            "schema": instance_forms(s, task.instance_id).get(form) if form and task is not None else None}
