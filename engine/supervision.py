"""Supervision (督办): urging open tasks, and the overdue work of a supervisor's area.

Overdue marks come from the process itself (a timer with ``marksOverdue``, see
``engine/timers.py``); urging is the supervisor's own push on a task. Both are kept on the
task row, so the holder's inbox and the supervisor's view show them with indexed reads,
and both are recorded in the history.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from . import org, records
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .model import Task

if TYPE_CHECKING:
    from .runtime import Runtime

OPEN = ("open", "claimed")
MAX_NOTE = 500


def urge(rt: Runtime, user_id: int, task_id: str, note: str | None = None) -> Task:
    """Urge (催办) an open task: a supervisor whose area covers the task may; anyone else
    gets Forbidden, a finished task Conflict. Sets ``urged_at``, counts ``urge_count`` and
    records ``task_urged`` (with the note and the holder at that moment)."""
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise InvalidInput("bad note", fields={"note": f"text of at most {MAX_NOTE} characters"})
    with rt._command() as s:
        who = org.actor(s, user_id)
        user_id = who.id
        task = s.get(Task, task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        if not who.has_role("supervisor"):
            raise Forbidden("only supervisors may urge tasks")
        if not who.covers(task.org_path):
            raise Forbidden("this task is outside your area")
        now = rt.clock.now()
        won = s.execute(update(Task).where(Task.id == task_id, Task.status.in_(OPEN))
                        .values(urged_at=now, urge_count=Task.urge_count + 1)
                        .execution_options(synchronize_session=False)).rowcount
        if not won:
            raise Conflict(f"task is {task.status}; only open tasks can be urged")
        s.refresh(task)
        rt._event(s, "task_urged", task.instance_id, task.case_id, task.id, user_id,
                  {**records.task_names(task), "note": note, "urge_count": task.urge_count,
                   "holder_id": task.assignee_id})
        return task


def overdue_tasks(s: Session, actor: org.Actor, now: datetime, limit: int = 200) -> list[Task]:
    """Open tasks of a supervisor's area that a timer marked overdue or whose due time has
    passed, oldest deadline first: the supervisor's view of what is being let slip."""
    if not actor.has_role("supervisor"):
        raise Forbidden("only supervisors see the overdue work of their area")
    if not actor.org_path:
        return []
    return list(s.scalars(
        select(Task).where(Task.status.in_(OPEN), Task.org_path >= actor.org_path,
                           Task.org_path < actor.org_path + "\uffff",
                           or_(Task.overdue_at.is_not(None), Task.due_at < now))
        .order_by(Task.due_at.is_(None), Task.due_at, Task.id).limit(limit)))
