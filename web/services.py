"""How views reach the engine: the app's Runtime, its clock and calendar's time zone, a
read-only session, the case process's report form, and names (users', org units') for task
dicts the pages show."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, tzinfo

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import definitions, org, policy, queries, supervision
from engine.errors import NotFound
from engine.model import Event, OrgUnit, Task, User
from engine.runtime import Runtime

CASE_PROCESS = "closed_loop"  # the process reports start (Runtime.report_case's default)


def runtime() -> Runtime:
    return current_app.extensions["gridloop"]


def now() -> datetime:
    return runtime().clock.now()


def local_tz() -> tzinfo:
    """The working calendar's time zone: where "today" and "this week" begin."""
    return runtime().calendar.tz


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

def with_names(s: Session, items: list[dict]) -> list[dict]:
    """Task dicts with the holder's display names and their org unit's names (both languages),
    for pages that show names where the API gives codes: two batch queries."""
    people = user_names(s, {t["assignee"] for t in items if t.get("assignee")})
    units = unit_names(s, {t["org_unit"] for t in items if t.get("org_unit")})
    for t in items:
        t["assignee_name"], t["assignee_name_en"] = people.get(t.get("assignee"), (None, None))
        t["org_unit_name"], t["org_unit_name_en"] = units.get(t.get("org_unit"), (None, None))
    return items


def urges(s: Session, task: dict) -> list[dict]:
    """The supervisors' urgings of a task, newest first: when, by whom, with which note."""
    rows = s.execute(select(Event.at, Event.payload, User.username, User.display_name, User.display_name_en)
                     .outerjoin(User, User.id == Event.actor_id)
                     .where(Event.instance_id == task["instance_id"], Event.task_id == task["id"],
                            Event.type == "task_urged").order_by(Event.id.desc())).all()
    return [{"at": at, "note": (payload or {}).get("note"), "by": name or username, "by_en": name_en}
            for at, payload, username, name, name_en in rows]


def can_urge(s: Session, actor: org.Actor, task: dict) -> bool:
    """Whether ``actor`` may urge the task (the rule ``supervision.urge`` enforces)."""
    if not actor.has_role("supervisor") or task["status"] not in queries.OPEN:
        return False
    row = s.get(Task, task["id"])
    return row is not None and actor.covers(row.org_path)


def assignees(s: Session, actor: org.Actor, task: dict) -> list[tuple[str, str, str | None]]:
    """(username, display name, English display name) of those ``actor`` may assign the task to;
    none unless she may assign it."""
    row = s.get(Task, task["id"]) if task["status"] in queries.OPEN else None
    if row is None or not policy.may_assign(actor, row):
        return []
    return [(u.username, u.display_name, u.display_name_en) for u in supervision.assignable(s, row)
            if u.id != row.assignee_id]


def user_names(s: Session, usernames: set[str]) -> dict[str, tuple[str, str | None]]:
    """(display name, English display name) of users by username."""
    if not usernames:
        return {}
    return {username: (name, name_en) for username, name, name_en in s.execute(
        select(User.username, User.display_name, User.display_name_en).where(User.username.in_(usernames)))}


def unit_names(s: Session, codes: set[str]) -> dict[str, tuple[str, str | None]]:
    """(name, English name) of org units by code."""
    if not codes:
        return {}
    return {code: (name, name_en) for code, name, name_en in s.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.code.in_(codes)))}
