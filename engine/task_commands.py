"""The commands on a user task: claim ("report in"), unclaim, complete, and the reporter's
answer to a case's feedback task through her public link.

Each is a function taking the runtime as ``command.Engine`` and running in one
``rt.command()``; ``Runtime`` has a one-line method for each, so callers hold one object.
Supervisors' urging and assigning are in ``engine/supervision.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException
from SpiffWorkflow.task import TaskState

from . import forms, org, policy, records
from .command import check_running
from .db import affected
from .errors import Conflict, Forbidden, NotFound, ProcessError
from .model import Case, ProcessInstance, Task
from .records import Instance, TaskRow
from .start_commands import CaseRef

if TYPE_CHECKING:
    from .command import Command, Engine


@dataclass(frozen=True)
class Completed:
    """What completing a task did: the finished task row and, from the same transaction, the
    instance's open tasks afterwards and its case's number and title (so a caller can answer
    without reading again)."""

    task: TaskRow
    open_tasks: list[TaskRow]
    case_number: str | None = None
    case_title: str | None = None

    def next_for(self, actor: org.Actor) -> list[TaskRow]:
        """The open tasks ``actor`` may act on now: where she continues."""
        return [t for t in self.open_tasks if policy.may_act_on(actor, t)]


def claim(rt: Engine, actor: org.Actor | int, task_id: str) -> TaskRow:
    """Claim ("report in"): one conditional UPDATE, so of N racers exactly one wins."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        user_id = who.id
        task = _task(s, task_id)
        policy.check_may_take(who, task)
        now = rt.clock.now()
        due, definition_id = s.execute(select(ProcessInstance.next_timer_at, ProcessInstance.definition_id)
                                       .where(ProcessInstance.id == task.instance_id)).one()
        if due is not None and due <= now:  # a limit passed unseen: it acts before the claim
            inst = cmd.lock(task.instance_id)
            loaded = cmd.loaded(inst)
            cmd.catch_up(inst, loaded, cmd.restore(inst, loaded))
            s.refresh(task)
        won = affected(s, update(Task).where(Task.id == task_id, Task.status == "open",
                                             Task.assignee_id.is_(None))
                          .values(status="claimed", assignee_id=user_id, claimed_at=now)
                          .execution_options(synchronize_session=False))
        if not won:
            s.refresh(task)
            raise policy.task_refusal(s, task, user_id)
        s.refresh(task)
        rt.specs.get(s, definition_id).projection.claimed(task.stage, now, lambda: cmd.case(task.case_id))
        cmd.event("task_claimed", task.instance_id, task.case_id, task.id, user_id, records.task_names(task))
        return records.task_row(task)


def unclaim(rt: Engine, actor: org.Actor | int, task_id: str) -> TaskRow:
    """Give a claimed task back (its holder, or a supervisor of its area)."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        user_id = who.id
        task = _task(s, task_id)
        if task.status != "claimed":
            raise policy.task_refusal(s, task, user_id) if task.status != "open" else \
                Conflict("task is not claimed", reason="task_not_claimed")
        if not policy.may_unclaim(who, task):
            raise Forbidden("only the holder (or a supervisor of the area) may unclaim this task",
                            reason="unclaim_not_allowed")
        won = affected(s, update(Task).where(Task.id == task_id, Task.status == "claimed",
                                             Task.assignee_id == task.assignee_id)
                          .values(status="open", assignee_id=None, claimed_at=None)
                          .execution_options(synchronize_session=False))
        if not won:
            raise Conflict("task changed meanwhile; reload it", reason="task_changed")
        s.refresh(task)
        cmd.event("task_unclaimed", task.instance_id, task.case_id, task.id, user_id, records.task_names(task))
        return records.task_row(task)


def complete(rt: Engine, actor: org.Actor | int, task_id: str, data: Any) -> Completed:
    """Complete a task with form data; a candidate may complete an open task directly."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        user_id = who.id
        found = records.lock_task_instance(s, task_id)
        if found is None:
            raise NotFound(f"task {task_id} not found", reason="task_not_found")
        inst, task, open_rows = found
        cmd.locked(inst)
        if open_rows is not None:  # current: spares readmodel.sync_tasks reading them again
            cmd.open_rows[inst.id] = open_rows
        check_running(inst)
        if task.assignee_id is None:
            policy.check_may_take(who, task)
        if task.status not in ("open", "claimed") or (task.assignee_id not in (None, user_id)):
            raise policy.task_refusal(s, task, user_id)
        _complete(cmd, inst, task, data, user_id)
        case = cmd.case(task.case_id)
        return Completed(task, cmd.open.get(inst.id, []), case.number if case else None,
                         case.title if case else None)


def submit_feedback(rt: Engine, token: str, data: Any, *, citizen: bool = False) -> CaseRef:
    """The reporter's public answer: completes the feedback task as the callback would.
    ``citizen``: ``data`` answers the process's citizen feedback form (her questions, not
    the staff callback's), whose ``x-task-data`` is added before the task's form checks it."""
    with rt.command() as cmd:
        s = cmd.session
        case = cmd.case(s.scalar(select(Case.id).where(Case.feedback_token == token)))
        if case is None:
            raise NotFound("unknown feedback link")
        if case.feedback_at is not None:
            raise Conflict("this feedback link has already been used")
        task = _load_task(s, case.feedback_task_id) if case.feedback_task_id else None
        if task is None or task.status not in ("open", "claimed"):
            raise Conflict("this feedback link has expired")
        inst = cmd.lock(task.instance_id)  # a merged case's callback runs in its own process
        if task.due_at is not None and task.due_at < rt.clock.now():
            raise Conflict("this feedback link has expired")
        citizen_form = cmd.loaded(inst).citizen_feedback_form if citizen else None
        if citizen_form is not None:
            data = {**forms.validate(citizen_form, data), **citizen_form.get("x-task-data", {})}
        _complete(cmd, inst, task, data, None, via="public_link")
        return CaseRef.of(case)


def _complete(cmd: Command, inst: Instance, task: TaskRow, data: Any, user_id: int | None,
              via: str = "inbox") -> None:
    """In ``cmd``, with the instance locked: finish the task row, run its workflow task, advance."""
    s = cmd.session
    loaded = cmd.loaded(inst)
    data = forms.validate(loaded.forms.get(task.form) if task.form else None, data)
    wf = cmd.restore(inst, loaded)
    cmd.catch_up(inst, loaded, wf)
    try:
        spiff_task = wf.get_task_from_id(UUID(task.id))
    except TaskNotFoundException:  # compacted away: finished long ago
        spiff_task = None
    now = cmd.now()
    done = {"status": "completed", "completed_at": now, "completed_by_id": user_id, "data": data}
    if task.assignee_id is None and user_id is not None:
        done.update(assignee_id=user_id, claimed_at=now)
    if spiff_task is None or spiff_task.state != TaskState.READY or not records.finish_task(s, task, done):
        # The row was read before the instance lock was granted: another command finished
        # or claimed the task meanwhile. Say what happened from the row as it is now.
        current = _load_task(s, task.id)
        if current.status in ("open", "claimed") and current.assignee_id in (None, user_id):
            raise Conflict("task changed meanwhile; reload it", reason="task_changed")
        raise policy.task_refusal(s, current, user_id)
    spiff_task.data.update(data)
    try:
        spiff_task.run()
    except SpiffWorkflowException as exc:
        raise ProcessError(f"the process failed after '{task.name}': {exc}") from None
    for name, value in done.items():
        setattr(task, name, value)
    cmd.done.add(task.id)
    case = cmd.case(task.case_id)
    loaded.projection.completed(case, task.stage, data, now)
    loaded.projection.claimed(task.stage, now, lambda: case)
    cmd.event("task_completed", inst, task.case_id, task.id, user_id,
              {**records.task_names(task), "outcome": data.get("outcome"), "data": data, "via": via})
    cmd.advance(inst, loaded, wf, user_id, now)


def _load_task(s: Session, task_id: str) -> TaskRow:
    task = records.load_task(s, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", reason="task_not_found")
    return task


def _task(s: Session, task_id: str) -> Task:
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found", reason="task_not_found")
    return task
