"""Exceptions to a case's normal course, each with approval: 延期 extension, 挂账 suspension,
作废 void, 合并 merge.

A request (:func:`request`) is checked (``policy.check_exception_request``), recorded (a
``case_exception`` row and an ``exception_requested`` event) and starts one instance of the
``exception_approval`` process, linked to the case (its tasks and history show on the case;
it projects nothing onto the case row). Who approves, the approval's limit and the caps are
the process's and ``exceptions.dmn``'s: its scripts end with ``decide_exception(approved,
note)``. The call only asks; once the command's steps are done the engine applies the
decision (:func:`apply`) in the same transaction: the request row is decided and, when
approved, the case changes as its kind says (:data:`EFFECTS`):

* **extension**: the task's due time becomes ``until`` (and its limit timers, attached to
  the task or its multi-instance step, wait for it), the case's ``due_at`` too if ``until``
  lies beyond it (engine/deadlines.py: ``due_extended``, timers on ``due_at`` re-armed);
* **suspension** (挂账, with a review date): the clock stops (the case's process is stored as
  ``suspended``: no timer fires, no task is completed; the figures count it overdue no
  more); on the review date the approval process asks the approver to review it, and
  ``resume_case()`` moves every waiting timer, open task's due time and the case's
  deadline by the time it was suspended;
* **void** (a case reported in error): the case's process is cancelled and the case closes
  as ``voided``, without a callback; the figures leave it out of every rate but its own;
* **merge** (a duplicate): the duplicate closes as ``merged`` the same way, pointing at its
  original (``merged_into_id``; ``case_merged`` / ``case_merged_from`` on both); when the
  original closes, the reporter of every case merged into it is called back
  (:func:`call_back_merged`).

A case that ends (closed, rejected, voided, merged) withdraws, in the same transaction, its
pending requests and the pending merges into it (:func:`ended`): each is ``cancelled``
with the reason, its approval task leaves the inboxes. A suspended case may still be voided
or merged; its review ends with it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.specs.defaults import BoundaryEvent
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import deadlines, definitions, org, policy, records
from .command import check_running
from .definitions import APPROVAL_PROCESS, CALLBACK_PROCESS
from .errors import Conflict, InvalidInput, NotFound, ProcessError
from .script_requests import ScriptRequests
from .inputs import check_text
from .model import Case, CaseException, MessageWait, OrgUnit, ProcessInstance, Task, User

if TYPE_CHECKING:
    from .command import Command, Engine
    from .records import CaseRecord, Instance

KINDS = ("extension", "suspension", "void", "merge")
MAX_REASON = 500
OPEN = ("open", "claimed")
ON_TASK = ("extension", "suspension")  # asked for by the handler of one of the case's tasks
# A limit timer still counts as the task's own if it waits for the task's due time, give or take this.
SAME_TIME = timedelta(minutes=1)
# The decisions asked for by the scripts of the command running in this context.
_DECIDED = ScriptRequests("exception_decisions")
collecting = _DECIDED.collecting  # around a command's engine steps: the decisions its scripts make


def resume_case() -> str:
    """Script function: end the approved suspension of the process's request (the review
    decided to go on); returns ``"resumed"``."""
    _DECIDED.ask("resume_case", "ends a suspension", {"resume": True})
    return "resumed"


def decide_exception(approved: Any, note: Any = "") -> str:
    """Script function: the approval process's decision on its request; returns
    ``"approved"`` or ``"refused"``."""
    _DECIDED.ask("decide_exception", "decides an exception request",
                 {"approved": bool(approved), "note": str(note or "")[:MAX_REASON]})
    return "approved" if approved else "refused"



# ------------------------------------------------------------------------------ requests

@dataclass(frozen=True)
class ExceptionRequestRef:
    """A request as its command left it: ``pending``, or decided at once by its approval
    process (``exceptions.dmn`` refuses at a cap, said in ``decision_note``)."""

    id: int
    case_id: int
    kind: str
    status: str
    decision_note: str | None


def request(rt: Engine, actor: org.Actor | int, case_id: int, body: dict[str, Any]) -> ExceptionRequestRef:
    """Ask for an exception (``body``: kind, reason; an extension's ``task_id`` and ``until``).
    The approval process may refuse it at once (a cap)."""
    kind, reason = body.get("kind"), body.get("reason")
    if kind not in KINDS:
        raise InvalidInput(f"unknown kind '{kind}'", fields={"kind": f"one of {', '.join(KINDS)}"})
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a request says why", fields={"reason": "required"})
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"reason is longer than {MAX_REASON} characters", fields={"reason": "too long"})
    check_text("reason", reason)
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        case = cmd.case(case_id)
        if case is None:
            raise NotFound(f"case {case_id} not found")
        task = _task_of(s, body, case_id) if kind in ON_TASK else None
        policy.check_exception_request(who, kind, case, task)
        if case.status != "open":
            raise Conflict(f"case {case.number} is {case.status}")
        if kind in ON_TASK and case.suspended_at is not None:
            raise Conflict(f"case {case.number} is suspended (挂账): its clock stands still until its review")
        _lock_case(cmd, case)  # requests of one case queue behind each other and its commands
        now = rt.clock.now()
        pending = select(func.count()).select_from(CaseException).where(
            CaseException.case_id == case_id, CaseException.kind == kind, CaseException.status == "pending")
        if s.scalar(pending):
            raise Conflict(f"case {case.number} already has a {kind} request waiting for approval")
        row = CaseException(case_id=case_id, kind=kind, status="pending", reason=reason.strip(),
                            requested_by_id=who.id, requested_at=now)
        data = {"kind": kind, "case_number": case.number, "case_title": case.title, "reason": row.reason,
                "requester_level": _level(s, who, task), "count": _approved(s, case_id, kind), "days": 0,
                "until": None, "grid_chain": org.chain_above(s.get_one(OrgUnit, case.grid_id))}
        if kind == "extension":
            assert task is not None  # (ON_TASK: _task_of found it)
            _extension(s, row, task, body, now, data)
        elif kind == "suspension":
            assert task is not None
            row.task_id, row.until = task.id, _review_date(body, now)
            data["until"] = row.until.isoformat()
        elif kind == "merge":
            original = _original(cmd, who, case, body)
            row.original_case_id = original.id
            object.__setattr__(original, "has_requests", True)
        object.__setattr__(case, "has_requests", True)
        s.add(row)
        s.flush()
        cmd.event("exception_requested", case.instance_id, case_id, row.task_id, who.id, _payload(row))
        loaded = rt.specs.get(s, _approval_definition(s))
        inst = cmd.start(loaded, who.id, data, linked_case_id=case_id)
        row.approval_instance_id = inst.id
    # (decided when the command ended: apply() changed this row)
    return ExceptionRequestRef(row.id, row.case_id, row.kind, row.status, row.decision_note)


def _task_of(s: Session, body: dict[str, Any], case_id: int) -> Task:
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        raise InvalidInput("an extension names the task it is for", fields={"task_id": "required"})
    task = s.get(Task, task_id)
    if task is None or task.case_id != case_id:
        raise NotFound(f"task {task_id} is not a task of case {case_id}")
    if task.status not in OPEN:
        raise Conflict(f"task {task_id} is {task.status}")
    return task


def _review_date(body: dict[str, Any], now: datetime) -> datetime:
    try:
        until = deadlines.as_time(body.get("until"), "until")
    except ProcessError as exc:
        raise InvalidInput(str(exc), fields={"until": "the review date, an ISO 8601 time with a zone"}) from None
    if until <= now:
        raise InvalidInput("the review date must lie ahead", fields={"until": "not in the future"})
    return until


def _original(cmd: Command, who: org.Actor, case: CaseRecord, body: dict[str, Any]) -> CaseRecord:
    """A merge's original: another open case the requester may see, not itself merged."""
    from .queries import get_case
    s = cmd.session
    number = body.get("original")
    if not isinstance(number, str) or not number:
        raise InvalidInput("a merge names the original case's number", fields={"original": "required"})
    original_id = s.scalar(select(Case.id).where(Case.number == number))
    if original_id is None:
        raise InvalidInput(f"unknown case '{number}'", fields={"original": "unknown case number"})
    get_case(s, who, original_id)
    original = _case_of(cmd, original_id)
    if original.id == case.id:
        raise InvalidInput("a case is not a duplicate of itself", fields={"original": "the same case"})
    if original.status != "open":
        raise Conflict(f"case {number} is {original.status}: merge into an open case")
    return original


def _extension(s: Session, row: CaseException, task: Task, body: dict[str, Any], now: datetime,
               data: dict[str, Any]) -> None:
    """An extension's new due time: later than the task's and than now; its days (rounded up)
    and those of the case's approved extensions go to the rules."""
    try:
        until = deadlines.as_time(body.get("until"), "until")
    except ProcessError as exc:
        raise InvalidInput(str(exc), fields={"until": "an ISO 8601 time with a zone"}) from None
    since = task.due_at or now
    if until <= since or until <= now:
        raise InvalidInput(f"until must be later than the task's due time {since.isoformat()}",
                           fields={"until": "not later than the current due time"})
    row.task_id, row.until = task.id, until
    row.days = math.ceil((until - since) / timedelta(days=1))
    before = s.scalar(select(func.coalesce(func.sum(CaseException.days), 0)).where(
        CaseException.case_id == row.case_id, CaseException.kind == "extension", CaseException.status == "approved"))
    data.update(until=until.isoformat(), days=int(before or 0) + row.days)


def _level(s: Session, who: org.Actor, task: Task | None) -> str:
    """The level a request comes from: the task's (a department's task: ``department``), else
    the requester's own unit's."""
    if task is not None and task.department:
        return "department"
    code = task.org_unit_code if task is not None else None
    if code is not None:
        return s.scalar(select(OrgUnit.level).where(OrgUnit.code == code)) or "city"
    return s.scalar(select(OrgUnit.level).where(OrgUnit.path == who.org_path)) or "city"


def _approved(s: Session, case_id: int, kind: str) -> int:
    return s.scalar(select(func.count()).select_from(CaseException).where(
        CaseException.case_id == case_id, CaseException.kind == kind, CaseException.status == "approved")) or 0


def _approval_definition(s: Session) -> int:
    definition_id = definitions.definition_id(s, APPROVAL_PROCESS)
    if definition_id is None:
        raise NotFound(f"process '{APPROVAL_PROCESS}' not deployed")
    return definition_id


def _payload(row: CaseException) -> dict[str, Any]:
    return {"request": row.id, "kind": row.kind, "reason": row.reason,
            "until": row.until.isoformat() if row.until else None, "days": row.days}


# ------------------------------------------------------------------------------ decisions

def _case_of(cmd: Command, case_id: int | None) -> CaseRecord:
    """The command's record of a case a request or an approval refers to (cases are never deleted)."""
    case = cmd.case(case_id)
    assert case is not None, f"case {case_id} not found"
    return case


def apply(cmd: Command, decided: list[tuple[int, int | None, dict[str, Any]]]) -> None:
    """Decide the requests whose approval instances called ``decide_exception`` in this
    command ((instance id, actor id, decision)); approved ones change their case."""
    s, now = cmd.session, cmd.now()
    for instance_id, actor_id, decision in decided:
        row = s.scalar(select(CaseException).where(CaseException.approval_instance_id == instance_id))
        if row is None:
            raise ProcessError("decide_exception(): this process was not started by an exception request")
        if decision.get("resume"):
            _resume(cmd, row, _case_of(cmd, row.case_id), actor_id, now)
            continue
        if row.status != "pending":
            raise ProcessError(f"decide_exception(): request {row.id} is already {row.status}")
        row.status = "approved" if decision["approved"] else "refused"
        row.decided_by_id, row.decided_at, row.decision_note = actor_id, now, decision["note"]
        case = _case_of(cmd, row.case_id)
        if row.status == "approved" and case.status == "open":
            EFFECTS[row.kind](cmd, row, case, actor_id, now)
        cmd.event(f"exception_{row.status}", instance_id, row.case_id, row.task_id, actor_id,
                  {**_payload(row), "note": row.decision_note})


def _extend(cmd: Command, row: CaseException, case: CaseRecord, actor_id: int | None, now: datetime) -> None:
    until = row.until
    assert row.task_id is not None and until is not None  # (an extension's: _extension)
    s = cmd.session
    inst = cmd.lock(case.instance_id)
    loaded = cmd.loaded(inst)
    wf = cmd.restore(inst, loaded)
    task = records.load_task(s, row.task_id)
    if task is not None and task.status in OPEN:
        try:
            moved = move_limit_timers(wf.get_task_from_id(UUID(task.id)), task.due_at, until)
        except TaskNotFoundException:
            moved = 0
        s.execute(update(Task).where(Task.id == task.id).values(
            due_at=until, overdue_at=None if until > now else task.overdue_at)
            .execution_options(synchronize_session=False))
        cmd.event("task_extended", inst, case.id, task.id, actor_id,
                  {**records.task_names(task), "from": task.due_at.isoformat() if task.due_at else None,
                   "to": until.isoformat(), "timers_moved": moved, "request": row.id})
    if case.due_at is not None and until > case.due_at:  # a case without a deadline keeps none
        deadlines.apply(cmd, inst, wf, case, [{"until": until, "note": row.reason}], actor_id, now)
    cmd.advance(inst, loaded, wf, actor_id, now)


def _void(cmd: Command, row: CaseException, case: CaseRecord, actor_id: int | None, now: datetime) -> None:
    _end_case(cmd, case, "voided", actor_id, now, {"reason": row.reason, "request": row.id})


def _merge(cmd: Command, row: CaseException, case: CaseRecord, actor_id: int | None, now: datetime) -> None:
    """The duplicate closes as merged; the cases merged into it before now point at its original
    too (else their reporters, waiting for a case that never closes, would never be called back)."""
    original = _case_of(cmd, row.original_case_id)
    case.merged_into_id = original.id
    _end_case(cmd, case, "merged", actor_id, now, {"into": original.number, "reason": row.reason,
                                                   "request": row.id})
    earlier = (Case.merged_into_id == case.id) & (Case.status == "merged")
    carried = list(cmd.session.scalars(select(Case.number).where(earlier).order_by(Case.id)))
    if carried:
        cmd.session.execute(update(Case).where(earlier).values(merged_into_id=original.id)
                            .execution_options(synchronize_session=False))
    cmd.event("case_merged_from", original.instance_id, original.id, None, actor_id,
              {"from": case.number, "reason": row.reason, "request": row.id, "with": carried})


def _end_case(cmd: Command, case: CaseRecord, status: str, actor_id: int | None, now: datetime,
              payload: dict[str, Any]) -> None:
    """End a case outside its process (voided, merged), suspended or not: the process instance
    is cancelled (its open tasks, timers and waits with it), the case closes with that status,
    no callback."""
    inst = _lock_case(cmd, case)
    _cancel_instance(cmd, inst, case.id, actor_id, now)
    case.status, case.stage, case.closed_at, case.updated_at = status, status, now, now
    case.suspended_at = None
    cmd.event(f"case_{status}", inst, case.id, None, actor_id, payload)


def _lock_case(cmd: Command, case: CaseRecord) -> Instance:
    """Lock a case's instance: running, or suspended (a suspended case may still be voided or merged)."""
    inst = records.lock_instance(cmd.session, case.instance_id)
    assert inst is not None  # a case's instance is never deleted
    return inst if inst.status == "suspended" else check_running(inst)


def _cancel_instance(cmd: Command, inst: Instance, case_id: int, actor_id: int | None, now: datetime) -> None:
    """Cancel a locked instance: its open tasks leave the inboxes, its timers and waits end."""
    s = cmd.session
    s.execute(update(ProcessInstance.__table__).where(ProcessInstance.id == inst.id).values(
        status="cancelled", ended_at=now, next_timer_at=None, revision=inst.revision + 1))
    for task in records.open_tasks(s, inst.id).values():
        s.execute(update(Task).where(Task.id == task.id).values(status="cancelled")
                  .execution_options(synchronize_session=False))
        cmd.event("task_cancelled", inst, case_id, task.id, actor_id, records.task_names(task))
    s.execute(delete(MessageWait).where(MessageWait.instance_id == inst.id))


def _suspend(cmd: Command, row: CaseException, case: CaseRecord, actor_id: int | None, now: datetime) -> None:
    """The clock stops: the case's instance is stored as ``suspended`` (no timer fires, no
    command runs on it) until :func:`_resume`; the figures count it overdue no more. Its
    pending extensions are withdrawn."""
    inst = cmd.lock(case.instance_id)
    cmd.session.execute(update(ProcessInstance.__table__).where(ProcessInstance.id == inst.id).values(
        status="suspended", revision=inst.revision + 1))
    case.suspended_at, case.suspension_count, case.updated_at = now, (case.suspension_count or 0) + 1, now
    for pending in cmd.session.scalars(select(CaseException).where(  # their clock stands still: asked again later
            CaseException.case_id == case.id, CaseException.kind.in_(ON_TASK), CaseException.status == "pending")):
        _withdraw_one(cmd, pending, case.number, "suspended", actor_id)
    cmd.event("case_suspended", inst, case.id, None, actor_id,
              {"reason": row.reason, "until": row.until.isoformat() if row.until else None, "request": row.id})


def _resume(cmd: Command, row: CaseException, case: CaseRecord, actor_id: int | None, now: datetime) -> None:
    """The clock goes on: every waiting timer, open task's due time and the case's deadline
    move by the time the case was suspended."""
    if row.kind != "suspension" or row.status != "approved" or case.suspended_at is None:
        raise ProcessError(f"resume_case(): request {row.id} did not suspend case {case.number}")
    s = cmd.session
    inst = records.lock_instance(s, case.instance_id)
    assert inst is not None  # a case's instance is never deleted
    if inst.status != "suspended":
        raise Conflict(f"process instance {inst.id} is {inst.status}, not suspended")
    paused = now - case.suspended_at
    inst.status = "running"
    loaded = cmd.loaded(inst)
    wf = cmd.restore(inst, loaded)
    shifted = shift_timers(wf, paused)
    for task in records.open_tasks(s, inst.id).values():
        if task.due_at is not None:
            s.execute(update(Task).where(Task.id == task.id).values(due_at=task.due_at + paused)
                      .execution_options(synchronize_session=False))
    if case.due_at is not None:
        case.due_at = case.due_at + paused
        deadlines.rearm(wf, case.due_at)
    case.suspended_at, case.updated_at = None, now
    cmd.event("case_resumed", inst, case.id, None, actor_id,
              {"suspended_seconds": int(paused.total_seconds()), "timers_shifted": shifted, "request": row.id,
               "due_at": case.due_at.isoformat() if case.due_at else None})
    cmd.advance(inst, loaded, wf, actor_id, now)


def shift_timers(wf: BpmnWorkflow, by: timedelta) -> int:
    """Every waiting timer (a date, a duration's end, a cycle's next time) fires ``by`` later."""
    count = 0
    for task in wf.event_manager.tasks.values():
        value = task._get_internal_data("event_value") if task.state == TaskState.WAITING else None
        if isinstance(value, str):
            task._set_internal_data(event_value=(datetime.fromisoformat(value) + by).isoformat())
        elif isinstance(value, dict) and isinstance(value.get("next"), str):
            task._set_internal_data(event_value={**value, "next": (datetime.fromisoformat(value["next"]) + by)
                                                 .isoformat()})
        else:
            continue
        count += 1
    return count


EFFECTS = {"extension": _extend, "suspension": _suspend, "void": _void, "merge": _merge}


def move_limit_timers(task: SpiffTask, due: datetime | None, until: datetime) -> int:
    """The timers of a task's limit now wait for ``until``: the boundary timers on the task or
    on the multi-instance step it is part of and, for a task of a called process (a
    consultation level), on each call activity above it, waiting for about its due time or
    later, yet before ``until`` (not those on the case's ``due_at``). Returns how many."""
    count, node = 0, task  # type: int, SpiffTask | None
    while node is not None:
        while node.parent is not None:
            timers = [c for c in node.parent.children if isinstance(c.task_spec, BoundaryEvent)]
            if timers:
                count += sum(_move_timer(timer, due, until) for timer in timers)
                break
            node = node.parent
        caller = node.workflow.parent_task_id  # a called process: on to its call activity
        node = node.workflow.top_workflow.get_task_from_id(caller) if caller is not None else None
    return count


def _move_timer(timer: SpiffTask, due: datetime | None, until: datetime) -> bool:
    definition = timer.task_spec.event_definition
    if timer.state != TaskState.WAITING or not isinstance(definition, TimeDateEventDefinition) \
            or definition.expression.strip() == "due_at":
        return False
    value = timer._get_internal_data("event_value")
    when = datetime.fromisoformat(value) if isinstance(value, str) else None
    if when is None or when.tzinfo is None or when >= until or (due is not None and when < due - SAME_TIME):
        return False
    timer._set_internal_data(event_value=until.isoformat())
    return True


ENDINGS = {"case_closed": "closed", "case_rejected": "rejected", "case_voided": "voided", "case_merged": "merged"}
TASK_ENDINGS = ("task_completed", "task_cancelled")
# Why a pending request was withdrawn (decision_note): English and Chinese, {whose} and {number} filled in.
WITHDRAWN = {"closed": ("{whose} {number} was closed", "案件{number}已结案"),
             "rejected": ("{whose} {number} was rejected", "案件{number}不予受理"),
             "voided": ("{whose} {number} was voided", "案件{number}已作废"),
             "merged": ("{whose} {number} was merged", "案件{number}已合并"),
             "suspended": ("{whose} {number} was suspended", "案件{number}已挂账"),
             "task_ended": ("the task to extend ended ({whose} {number})", "案件{number}申请延期的任务已结束")}


_EXCEPTIONS = CaseException.__table__.c
_PENDING_EXTENSIONS = (select(_EXCEPTIONS.id)
                       .where(_EXCEPTIONS.case_id.in_(bindparam("cases", expanding=True)),
                              _EXCEPTIONS.kind == "extension", _EXCEPTIONS.status == "pending",
                              _EXCEPTIONS.task_id.in_(bindparam("tasks", expanding=True))))


def ended(cmd: Command) -> None:
    """Once a command's steps and decisions are done: the cases it ended withdraw their
    pending requests (:func:`withdraw`), those that closed call back the reporters of the
    cases merged into them (:func:`call_back_merged`); a task it ended (completed, or
    cancelled by a limit or an escalation) withdraws the pending extension asked for it."""
    cases = {e["case_id"]: (ENDINGS[e["type"]], e["actor_id"]) for e in cmd.events
             if e["type"] in ENDINGS and _may_have_requests(cmd, e["case_id"])}
    if cases:
        withdraw(cmd, cases)
        call_back_merged(cmd, [case_id for case_id, (how, _a) in cases.items() if how == "closed"])
    tasks = {e["task_id"]: e for e in cmd.events if e["type"] in TASK_ENDINGS and e["case_id"] is not None
             and _may_have_requests(cmd, e["case_id"])}
    if tasks:
        s = cmd.session
        s.flush()  # requests asked earlier in this command are in the table
        ids = s.connection().execute(_PENDING_EXTENSIONS, {"cases": list({e["case_id"] for e in tasks.values()}),
                                                            "tasks": list(tasks)}).scalars().all()
        for row in s.scalars(select(CaseException).where(CaseException.id.in_(ids))) if ids else ():
            _withdraw_one(cmd, row, _case_of(cmd, row.case_id).number, "task_ended", tasks[row.task_id]["actor_id"])


def _may_have_requests(cmd: Command, case_id: int) -> bool:
    """Nearly every command ends a task, every case ends, and few cases ever have a request:
    the command's record of the case says whether it has (loaded with it); a case it has no
    record of is asked of the table."""
    record = cmd.cases.get(case_id)
    return record is None or record.has_requests


def withdraw(cmd: Command, ended: dict[int, tuple[str, int | None]]) -> None:
    """``ended``: case id -> (how it ended, by whom). Their pending requests, and pending merges
    into them, are withdrawn (:func:`_withdraw_one`); an approved suspension's review, still
    waiting, is cancelled too."""
    ids = list(ended)
    rows = cmd.session.scalars(select(CaseException).where(or_(
        and_(CaseException.status == "pending", or_(CaseException.case_id.in_(ids), and_(
            CaseException.kind == "merge", CaseException.original_case_id.in_(ids)))),
        and_(CaseException.status == "approved", CaseException.kind == "suspension",
             CaseException.case_id.in_(ids)))).order_by(CaseException.id))
    for row in rows:
        if row.status == "pending":
            ended_id = row.case_id if row.case_id in ended else row.original_case_id
            assert ended_id is not None  # (selected as a merge into an ended case)
            how, actor_id = ended[ended_id]
            _withdraw_one(cmd, row, _case_of(cmd, ended_id).number, how, actor_id,
                          "case" if ended_id == row.case_id else "the original case")
        else:
            _cancel_approval(cmd, row, ended[row.case_id][1])


def _withdraw_one(cmd: Command, row: CaseException, number: str, how: str, actor_id: int | None,
                  whose: str = "case") -> None:
    """A pending request becomes ``cancelled`` with the reason (``exception_withdrawn``); its
    approval instance is cancelled, its task leaves the inboxes."""
    row.status, row.decided_by_id, row.decided_at = "cancelled", actor_id, cmd.now()
    english, chinese = WITHDRAWN[how]
    row.decision_note = f"withdrawn: {english} {chinese}，申请撤回".format(whose=whose, number=number)
    cmd.event("exception_withdrawn", row.approval_instance_id, row.case_id, row.task_id, actor_id,
              {**_payload(row), "note": row.decision_note, "ended": how, "ended_case": number})
    _cancel_approval(cmd, row, actor_id)


def _cancel_approval(cmd: Command, row: CaseException, actor_id: int | None) -> None:
    inst = records.lock_instance(cmd.session, row.approval_instance_id) if row.approval_instance_id else None
    if inst is not None and inst.status in ("running", "incident"):
        _cancel_instance(cmd, inst, row.case_id, actor_id, cmd.now())


def call_back_merged(cmd: Command, closed: list[int]) -> None:
    """The cases just closed call back the reporters of the cases merged into them: one
    ``merged_callback`` instance per merged case, linked to it (its feedback task gives the
    merged case its own callback and public feedback link)."""
    s = cmd.session
    for original_id in closed:
        merged = list(s.scalars(select(Case.id).where(Case.merged_into_id == original_id, Case.status == "merged")))
        if not merged:
            continue
        definition_id = definitions.definition_id(s, CALLBACK_PROCESS)
        if definition_id is None:
            raise NotFound(f"process '{CALLBACK_PROCESS}' not deployed")
        loaded, original = cmd.engine.specs.get(s, definition_id), _case_of(cmd, original_id)
        for case_id in merged:
            case = _case_of(cmd, case_id)
            grid = s.scalar(select(OrgUnit.code).where(OrgUnit.id == case.grid_id))
            inst = cmd.start(loaded, None, {"case_number": case.number, "original_number": original.number,
                                            "grid": grid, "reporter_name": case.reporter_name,
                                            "reporter_phone": case.reporter_phone}, linked_case_id=case_id)
            cmd.event("merged_callback", inst, case_id, None, None, {"original": original.number})


# ------------------------------------------------------------------------------ reads

def requests(s: Session, actor: org.Actor, case_id: int) -> list[dict[str, Any]]:
    """A case's requests, newest first (whoever may see the case)."""
    from .queries import get_case
    get_case(s, actor, case_id)
    requester, decider = User.__table__.alias("requester"), User.__table__.alias("decider")
    rows = s.execute(select(CaseException, requester.c.username, decider.c.username)
                     .outerjoin(requester, requester.c.id == CaseException.requested_by_id)
                     .outerjoin(decider, decider.c.id == CaseException.decided_by_id)
                     .where(CaseException.case_id == case_id).order_by(CaseException.id.desc()))
    return [as_dict(row, by, decided_by) for row, by, decided_by in rows]


def get(s: Session, actor: org.Actor, request_id: int) -> dict[str, Any]:
    row = s.get(CaseException, request_id)
    if row is None:
        raise NotFound(f"exception request {request_id} not found")
    return next(r for r in requests(s, actor, row.case_id) if r["id"] == request_id)


def as_dict(row: CaseException, requested_by: str | None, decided_by: str | None) -> dict[str, Any]:
    return {"id": row.id, "case_id": row.case_id, "kind": row.kind, "status": row.status, "reason": row.reason,
            "task_id": row.task_id, "until": row.until, "days": row.days,
            "original_case_id": row.original_case_id, "approval_instance_id": row.approval_instance_id,
            "requested_by": requested_by, "requested_at": row.requested_at, "decided_by": decided_by,
            "decided_at": row.decided_at, "decision_note": row.decision_note}
