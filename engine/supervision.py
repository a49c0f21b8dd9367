"""Supervision (督办): urging open tasks, assigning them (派单) to someone who may do them, and
the overdue work of a supervisor's area.

Overdue marks come from the process itself (a timer with ``marksOverdue``, see
``engine/timers.py``); urging is the supervisor's own push on a task. Both are kept on the
task row, so the holder's inbox and the supervisor's view show them with indexed reads,
and both are recorded in the history.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from . import org, policy, queries, records, task_views
from .db import affected
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .groups import roles_contain
from .model import Event, Task, User
from .paging import Total

if TYPE_CHECKING:
    from .command import Engine

OPEN = ("open", "claimed")
MAX_NOTE = 500


def urge(rt: Engine, actor: org.Actor | int, task_id: str, note: str | None = None) -> records.TaskRow:
    """Urge (催办) an open task: a supervisor whose area covers the task may; anyone else
    gets Forbidden, a finished task Conflict. Sets ``urged_at``, counts ``urge_count`` and
    records ``task_urged`` (with the note and the holder at that moment)."""
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidInput("bad note", fields={"note": f"text of at most {MAX_NOTE} characters"})
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        user_id = who.id
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found", reason="task_not_found")
        policy.check_urge(who, task)
        now = rt.clock.now()
        won = affected(s, update(Task).where(Task.id == task_id, Task.status.in_(OPEN))
                          .values(urged_at=now, urge_count=Task.urge_count + 1)
                          .execution_options(synchronize_session=False))
        if not won:
            raise Conflict(f"task is {task.status}; only open tasks can be urged")
        s.refresh(task)
        cmd.event("task_urged", task.instance_id, task.case_id, task.id, user_id,
                  {**records.task_names(task), "note": note, "urge_count": task.urge_count,
                   "holder_id": task.assignee_id})
        return records.task_row(task)


def urgings(s: Session, actor: org.Actor, task_id: str) -> dict[str, Any]:
    """What the task page says of urging: whether ``actor`` may urge the task (the rule ``urge``
    enforces, ``policy.may_urge``) and its urgings, newest first (when, by whom in both
    languages, with which note), for anyone who may see the task."""
    task = queries.visible_task(s, actor, task_id)
    rows = s.execute(select(Event.at, Event.payload, User.username, User.display_name, User.display_name_en)
                     .outerjoin(User, User.id == Event.actor_id)
                     .where(Event.instance_id == task.instance_id, Event.task_id == task.id,
                            Event.type == "task_urged").order_by(Event.id.desc())).all() if task.urge_count else []
    return {"can_urge": task.status in OPEN and policy.may_urge(actor, task),
            "urges": [{"at": at, "note": (payload or {}).get("note"), "by": name or username, "by_en": name_en}
                      for at, payload, username, name, name_en in rows]}


def assignees(s: Session, actor: org.Actor, task_id: str) -> list[tuple[str, str, str | None]]:
    """(username, display name, English display name) of those ``actor`` may assign the task to,
    but its holder; none unless she may assign it (``policy.may_assign``)."""
    task = queries.visible_task(s, actor, task_id)
    if task.status not in OPEN or not policy.may_assign(actor, task):
        return []
    return [(u.username, u.display_name, u.display_name_en) for u in assignable(s, task) if u.id != task.assignee_id]


def assignable(s: Session, task: Task) -> list[User]:
    """The active users a task may be assigned to: those it is offered to (role, area, department)."""
    if task.candidate_user_id is not None:
        return list(s.scalars(select(User).where(User.id == task.candidate_user_id, User.active.is_(True))))
    if task.role is None:
        return []
    users = s.scalars(select(User).where(User.active.is_(True), roles_contain(s, task.role)).order_by(User.username))
    return [u for u in users if policy.is_candidate(org.Actor.of(u), task)]


def assign(rt: Engine, actor: org.Actor | int, task_id: str, username: str) -> records.TaskRow:
    """Assign (派单) an open or claimed task of her area to a user it is offered to: she then
    holds it as if she had claimed it, and is told (``task_assigned``). Supervisors and
    coordinators of the task's area may (Forbidden otherwise); someone the task is not offered
    to is InvalidInput, a finished task Conflict."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        if not policy.may_assign(who, task):
            raise Forbidden("only supervisors and coordinators of the task's area may assign it")
        if task.status not in OPEN:
            raise Conflict(f"task is {task.status}; only open tasks can be assigned")
        assignee = next((u for u in assignable(s, task) if u.username == username), None)
        if assignee is None:
            raise InvalidInput(f"'{username}' is not offered this task (role, area or department)",
                               fields={"user": "not offered this task"})
        previous = task.assignee_id
        if previous == assignee.id:
            raise Conflict(f"task is already held by {username}")
        now = rt.clock.now()
        held = Task.assignee_id.is_(None) if previous is None else Task.assignee_id == previous
        won = affected(s, update(Task).where(Task.id == task_id, Task.status == task.status, held)
                          .values(status="claimed", assignee_id=assignee.id, claimed_at=now)
                          .execution_options(synchronize_session=False))
        if not won:
            raise Conflict("task changed meanwhile; reload it")
        s.refresh(task)
        cmd.event("task_assigned", task.instance_id, task.case_id, task.id, who.id,
                  {**records.task_names(task), "assignee": assignee.username, "assignee_id": assignee.id,
                   "previous_id": previous})
        return records.task_row(task)


def overdue_tasks(s: Session, actor: org.Actor, now: datetime, *, page: int = 1, per_page: int = 20,
                  **filters: str | None) -> tuple[list[Task], Total]:
    """A page of a supervisor's overdue view — open tasks of her area that a timer marked
    overdue or whose due time has passed, oldest deadline first: what is being let slip —
    filtered (``task_views.TaskFilters``) and paged in SQL, with its exact total."""
    rows, total = task_views.view(s, actor, task_views.overdue_condition(actor, now),
                                  task_views.TaskFilters.of(filters), now, timezone.utc, page=page, per_page=per_page)
    return [row[0] for row in rows], Total(total)
