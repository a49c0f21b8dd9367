"""How views reach the engine: the app's Runtime, its clock, a read-only session, the case
process's report form, and the task lists the engine hands over as rows (the supervisor's
overdue work, the tasks a completion opened) turned into the engine's task dicts."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions, org, policy, queries, supervision
from engine.errors import NotFound
from engine.model import Case, Event, OrgUnit, Task, User
from engine.runtime import Runtime

CASE_PROCESS = "closed_loop"  # the process reports start (Runtime.report_case's default)


def runtime() -> Runtime:
    return current_app.extensions["gridloop"]


def now() -> datetime:
    return runtime().clock.now()


def reading() -> AbstractContextManager[Session]:
    return runtime().db.reading()


def case_process_forms(s: Session) -> tuple[dict, dict]:
    """The forms and properties of the newest case process: its start form is the report
    form, and its enum labels name coded values on every page."""
    row = definitions.find_definition(s, CASE_PROCESS)
    if row is None:
        raise NotFound(f"process '{CASE_PROCESS}' not deployed")
    return row.forms, row.properties


def report_form(s: Session) -> dict | None:
    forms, properties = case_process_forms(s)
    return forms.get(properties.get(definitions.START_FORM_PROPERTY))


# ------------------------------------------------------------------------------ task lists

def task_dicts(s: Session, rows: list[Task], now: datetime) -> list[dict]:
    """Task rows as ``queries.task_dict`` with their case number and title and the holder's
    username: two batch queries, whatever the number of rows."""
    case_ids = {t.case_id for t in rows if t.case_id is not None}
    user_ids = {t.assignee_id for t in rows if t.assignee_id is not None}
    cases = {cid: (number, title) for cid, number, title in s.execute(
        select(Case.id, Case.number, Case.title).where(Case.id.in_(case_ids)))} if case_ids else {}
    users = dict(s.execute(select(User.id, User.username).where(User.id.in_(user_ids))).all()) if user_ids else {}
    return [queries.task_dict(t, now, *cases.get(t.case_id, (None, None)), users.get(t.assignee_id))
            for t in rows]


def with_names(s: Session, items: list[dict]) -> list[dict]:
    """Task dicts with the holder's display name and their org unit's names (both languages),
    for pages that show names where the API gives codes: two batch queries."""
    usernames = {t["assignee"] for t in items if t.get("assignee")}
    people = dict(s.execute(select(User.username, User.display_name).where(User.username.in_(usernames))).all()) \
        if usernames else {}
    units = unit_names(s, {t["org_unit"] for t in items if t.get("org_unit")})
    for t in items:
        t["assignee_name"] = people.get(t.get("assignee"))
        t["org_unit_name"], t["org_unit_name_en"] = units.get(t.get("org_unit"), (None, None))
    return items


def overdue_inbox(s: Session, actor: org.Actor, now: datetime, *, page: int = 1, per_page: int = 20,
                  **filters) -> tuple[list[dict], queries.Total]:
    """A page of the supervisor's overdue view (``supervision.overdue_tasks``) as task dicts."""
    rows, total = supervision.overdue_tasks(s, actor, now, page=page, per_page=per_page, **filters)
    items = task_dicts(s, rows, now)
    return [item | policy.task_actions(actor, row) for item, row in zip(items, rows, strict=True)], total


def inbox_counts(s: Session, actor: org.Actor, now: datetime) -> dict[str, queries.Total]:
    """The size of each inbox scope the actor has (a supervisor's include her overdue view;
    supervisors' and designers' the tasks nobody can take)."""
    counts = queries.inbox_counts(s, actor)
    if actor.has_role("supervisor"):
        counts["overdue"] = supervision.overdue_tasks(s, actor, now, per_page=1)[1]
    if policy.may_see_unassignable(actor):
        counts["unassignable"] = queries.unassignable_count(s, actor)
    return counts


def urges(s: Session, task: dict) -> list[dict]:
    """The supervisors' urgings of a task, newest first: when, by whom, with which note."""
    rows = s.execute(select(Event.at, Event.payload, User.username, User.display_name)
                     .outerjoin(User, User.id == Event.actor_id)
                     .where(Event.instance_id == task["instance_id"], Event.task_id == task["id"],
                            Event.type == "task_urged").order_by(Event.id.desc())).all()
    return [{"at": at, "note": (payload or {}).get("note"), "by": name or username}
            for at, payload, username, name in rows]


def can_urge(s: Session, actor: org.Actor, task: dict) -> bool:
    """Whether ``actor`` may urge the task (the rule ``supervision.urge`` enforces)."""
    if not actor.has_role("supervisor") or task["status"] not in queries.OPEN:
        return False
    row = s.get(Task, task["id"])
    return row is not None and actor.covers(row.org_path)


def assignees(s: Session, actor: org.Actor, task: dict) -> list[tuple[str, str]]:
    """(username, display name) of those ``actor`` may assign the task to; none unless she may assign it."""
    row = s.get(Task, task["id"]) if task["status"] in queries.OPEN else None
    if row is None or not policy.may_assign(actor, row):
        return []
    return [(u.username, u.display_name) for u in supervision.assignable(s, row) if u.id != row.assignee_id]


def unit_names(s: Session, codes: set[str]) -> dict[str, tuple[str, str | None]]:
    """(name, English name) of org units by code."""
    if not codes:
        return {}
    return {code: (name, name_en) for code, name, name_en in s.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.code.in_(codes)))}
