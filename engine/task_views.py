"""Filtered, sorted and searched views of an inbox scope (as in Camunda's Tasklist): stage,
category, grid or any org unit's subtree, due window (overdue / today / this week), search by
case number or text, and a sort. All in SQL: one exact count (the true filtered total) and one
page. The default view — no filter but category/stage/grid, soonest deadline first — is read by
the inbox planner in ``inbox_plan``, which keeps the hot path fast at scale.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, Row, exists, func, or_, select
from sqlalchemy.orm import Session

from . import policy
from .errors import Forbidden, InvalidInput
from .model import Case, OrgUnit, ProcessInstance, Task, User
from .org import Actor

OPEN = ("open", "claimed")
DUE_WINDOWS = ("overdue", "today", "week")
SORTS = {  # name -> ORDER BY (tasks without a due time last where the due time leads)
    "due": (Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id),
    "-due": (Task.due_at.is_(None), Task.due_at.desc(), Task.created_at.desc(), Task.id.desc()),
    "created": (Task.created_at, Task.id),
    "-created": (Task.created_at.desc(), Task.id.desc()),
    "priority": (Task.priority.desc(), Task.due_at.is_(None), Task.due_at, Task.id),
}
MAX_Q = 100


@dataclass(frozen=True)
class TaskFilters:
    """What narrows and orders a scope; every field optional (``sort`` defaults to "due")."""

    category: str | None = None
    stage: str | None = None
    grid: str | None = None      # a grid's code: its tasks
    unit: str | None = None      # any org unit's code: the tasks of its subtree (a community's grids ...)
    due: str | None = None       # overdue | today | week
    q: str | None = None         # a case number, or text in the case's title or the task's name
    sort: str | None = None      # see SORTS

    @classmethod
    def of(cls, values: dict[str, Any]) -> TaskFilters:
        """From request or stored values: blanks dropped, unknown names and values refused
        (InvalidInput naming the field)."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise InvalidInput(f"unknown filter {', '.join(unknown)}", fields={n: "unknown filter" for n in unknown})
        clean = {k: (str(v).strip() or None) if v is not None else None for k, v in values.items()}
        found = cls(**clean)
        if found.due and found.due not in DUE_WINDOWS:
            raise InvalidInput(f"unknown due window '{found.due}'", fields={"due": f"one of {', '.join(DUE_WINDOWS)}"})
        if found.sort and found.sort not in SORTS:
            raise InvalidInput(f"unknown sort '{found.sort}'", fields={"sort": f"one of {', '.join(SORTS)}"})
        if found.q and len(found.q) > MAX_Q:
            raise InvalidInput("search text too long", fields={"q": f"at most {MAX_Q} characters"})
        for name in ("category", "stage", "grid", "unit"):
            value = getattr(found, name)
            if value and len(value) > 40:
                raise InvalidInput(f"bad {name}", fields={name: "at most 40 characters"})
        return found

    def as_dict(self) -> dict[str, str]:
        """The set fields only (what a saved filter stores, what a URL carries)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    @property
    def planned(self) -> bool:
        """Whether the inbox planner reads this view: nothing beyond its equality filters."""
        return not (self.unit or self.due or self.q or self.sort not in (None, "due"))

    def without_sort(self) -> TaskFilters:
        return replace(self, sort=None)


def due_window(window: str, now: datetime, tz: tzinfo) -> tuple[datetime | None, datetime]:
    """[from, to) of due times: overdue (before now), due today (from now to the end of the local
    day), due this week (from now to the end of the local week, Sunday)."""
    if window == "overdue":
        return None, now
    local = now.astimezone(tz)
    days = 1 if window == "today" else 7 - local.weekday()
    end = datetime.combine(local.date() + timedelta(days=days), time(0), tzinfo=tz)
    return now, end


def conditions(s: Session, actor: Actor, filters: TaskFilters, now: datetime, tz: tzinfo) -> list[ColumnElement[bool]]:
    """The filters as SQL conditions on ``Task`` (and ``Case``, joined by the caller for ``q``)."""
    where: list[ColumnElement[bool]] = []
    for column, value in ((Task.category, filters.category), (Task.stage, filters.stage),
                          (Task.org_unit_code, filters.grid)):
        if value:
            where.append(column == value)
    if filters.unit:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == filters.unit))
        if path is None:
            raise InvalidInput(f"unknown org unit '{filters.unit}'", fields={"unit": "unknown org unit code"})
        where += [Task.org_path >= path, Task.org_path < path + "\uffff"]
    if filters.due:
        start, end = due_window(filters.due, now, tz)
        where += [Task.due_at < end] + ([Task.due_at >= start] if start else [running()])
    if filters.q:  # % and _ are text
        where.append(or_(Case.number == filters.q, Case.title.contains(filters.q, autoescape=True),
                         Task.name.contains(filters.q, autoescape=True),
                         Task.name_zh.contains(filters.q, autoescape=True)))
    return where


def view(s: Session, actor: Actor, scope_condition: ColumnElement[bool], filters: TaskFilters, now: datetime,
         tz: tzinfo, *, page: int, per_page: int) -> tuple[list[Row[tuple[Task, str | None, str, str]]], int]:
    """A page of the tasks meeting ``scope_condition`` and the filters, in the filters' order,
    with the exact total: rows of (task, case number, case title, holder's username)."""
    where = [scope_condition, *conditions(s, actor, filters, now, tz)]
    joined = Task.__table__.outerjoin(Case.__table__, Case.id == Task.case_id)
    total = s.scalar(select(func.count()).select_from(joined).where(*where)) or 0
    rows = s.execute(select(Task, Case.number, Case.title, User.username).select_from(joined)
                     .outerjoin(User, User.id == Task.assignee_id).where(*where)
                     .order_by(*SORTS[filters.sort or "due"]).limit(per_page).offset((page - 1) * per_page))
    return list(rows), total


def running() -> ColumnElement[bool]:
    """Tasks whose clock runs: not of a suspended (挂账) instance, whose due times stand still
    until it resumes (and then move by the time it stood still), so never overdue meanwhile."""
    return ~exists().where(ProcessInstance.id == Task.instance_id, ProcessInstance.status == "suspended")


def overdue_condition(actor: Actor, now: datetime) -> ColumnElement[bool]:
    """A supervisor's overdue view: open tasks of her area a timer marked overdue or past due,
    but for those of suspended cases."""
    if not policy.may_oversee_area(actor):
        raise Forbidden("only supervisors see the overdue work of their area")
    return (Task.status.in_(OPEN) & policy.within(Task.org_path, actor.org_path)
            & or_(Task.overdue_at.is_not(None), Task.due_at < now) & running())
