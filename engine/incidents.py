"""Incidents: instances that cannot go on by themselves, recorded instead of hanging silently.

Three ways an instance gets one, each checked inside the command that moves it:

* ``budget`` — model code went over its CPU-time or memory budget (``engine/budget.py``). The
  failed element stays in SpiffWorkflow's ERROR state, the instance is stored as it is with
  status ``incident`` (so no runner picks it up again), and the command answers 422.
* ``stuck`` — after a command the instance is running, yet nothing is ready, waiting for an
  event or a timer: a join waits for branches that can no longer arrive. Without this check
  such an instance would look alive forever.
* ``timer`` — an instance's due timers failed again and again: the runner backs off between
  attempts and, after ``GRIDLOOP_TIMER_MAX_ATTEMPTS``, stops and leaves it to a person.

Designers see every incident, supervisors those of their area (and of instances without a
case); both may retry one after a fix (a raised budget, a migrated version): the failed
elements run again, and the incident is resolved when the instance moves on (``retry``, the
command; ``IncidentRow`` is what it and the reads answer).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import org, policy, records
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .model import Case, Incident, ProcessInstance
from .scripting import ScriptBudgetError
from .state import load_state

if TYPE_CHECKING:
    from .command import Command, Engine
    from .records import Instance

KINDS = ("budget", "stuck", "timer")
STATUSES = ("open", "resolved")
MAX_TIMER_ATTEMPTS = int(os.environ.get("GRIDLOOP_TIMER_MAX_ATTEMPTS", "5"))
TIMER_RETRY_BASE = timedelta(minutes=5)  # doubled after each failed attempt


def budget_cause(error: BaseException) -> ScriptBudgetError | None:
    """The budget error behind a process failure, however SpiffWorkflow wrapped it."""
    seen: set[int] = set()
    exc: BaseException | None = error
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, ScriptBudgetError):
            return exc
        seen.add(id(exc))
        exc = getattr(exc, "exception", None) or exc.__cause__ or exc.__context__
    return None


def failed_element(exc: BaseException) -> str | None:
    task = getattr(exc, "task", None)
    return (task.task_spec.bpmn_id or task.task_spec.name) if task is not None else None


def stalled(wf: BpmnWorkflow, ready: list[SpiffTask]) -> tuple[str | None, str] | None:
    """(element, reason) if the running workflow can never move again by itself or by anyone:
    no user task ready, no event or timer awaited, nothing left for the engine to run."""
    if ready or wf.is_completed() or wf.event_manager.tasks:
        return None
    tasks = [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values()]
    if any(t.state == TaskState.READY for t in tasks):
        return None
    waiting = [t for t in tasks if t.state == TaskState.WAITING]
    element = next((t.task_spec.bpmn_id or t.task_spec.name for t in waiting), None)
    reason = (f"'{element}' waits for branches that can no longer arrive" if element is not None
              else "no task is ready or waiting, yet the process has not reached an end")
    return element, f"stalled: {reason}"


def open_incident(cmd: Command, inst: Instance, kind: str, element: str | None, message: str) -> None:
    """Record the incident (or count another attempt of the instance's open one) and its event."""
    s, now = cmd.session, cmd.now()
    current = s.scalar(select(Incident).where(Incident.instance_id == inst.id, Incident.status == "open"))
    if current is not None:
        current.kind, current.element, current.message = kind, element, message
        current.attempts += 1
        current.updated_at = now
        incident = current
    else:
        org_path = s.scalar(select(Case.org_path).where(Case.id == inst.case_id)) if inst.case_id else None
        incident = Incident(instance_id=inst.id, case_id=inst.case_id, org_path=org_path, kind=kind,
                            element=element, message=message, status="open", attempts=1,
                            created_at=now, updated_at=now)
        s.add(incident)
    s.flush()
    cmd.event("incident_opened", inst, inst.case_id, None, None,
              {"incident": incident.id, "kind": kind, "element": element, "message": message,
               "attempts": incident.attempts})


def timer_failed(cmd: Command, inst: Instance, error: str) -> datetime | None:
    """A due-work attempt failed: back off (5 min, 10, 20, …), or after the last attempt make
    the instance an incident. Returns when to try again (None: not again)."""
    s = cmd.session
    open_incident(cmd, inst, "timer", None, error)
    attempts = s.scalar(select(Incident.attempts).where(Incident.instance_id == inst.id, Incident.status == "open"))
    assert attempts is not None  # open_incident just opened or counted it
    if attempts >= MAX_TIMER_ATTEMPTS:
        s.execute(update(ProcessInstance).where(ProcessInstance.id == inst.id)
                  .values(status="incident", error=error))
        return None
    delay: timedelta = TIMER_RETRY_BASE * 2 ** (attempts - 1)  # (int ** int is typed Any: it may be a float)
    return cmd.now() + delay


def resolve(cmd: Command, inst: Instance, actor_id: int | None) -> None:
    """The instance moved on: its open incident is over."""
    now = cmd.now()
    resolved = cmd.session.execute(update(Incident).where(Incident.instance_id == inst.id, Incident.status == "open")
                         .values(status="resolved", resolved_at=now, resolved_by_id=actor_id, updated_at=now)
                         .returning(Incident.id)).scalars().all()
    for incident_id in resolved:
        cmd.event("incident_resolved", inst, inst.case_id, None, actor_id, {"incident": incident_id})


def errored_tasks(wf: BpmnWorkflow) -> list[SpiffTask]:
    return [t for w in (wf, *wf.subprocesses.values()) for t in w.tasks.values() if t.state == TaskState.ERROR]


# ---------------------------------------------------------------------------------- reading

@dataclass(frozen=True)
class IncidentRow:
    """An incident as it is listed, shown and answered after a retry."""

    id: int
    instance_id: int
    case_id: int | None
    process_key: str | None
    kind: str
    element: str | None
    message: str
    status: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, row: Incident, key: str | None = None) -> IncidentRow:
        return cls(row.id, row.instance_id, row.case_id, key, row.kind, row.element, row.message, row.status,
                   row.attempts, row.created_at, row.updated_at, row.resolved_at)


def incident_list(s: Session, actor: org.Actor, *, status: str | None = "open", kind: str | None = None,
                  instance_id: int | None = None, page: int = 1, per_page: int = 20
                  ) -> tuple[list[IncidentRow], int]:
    """Incidents newest first, as the actor may see them, filtered and paged in SQL."""
    if status is not None and status not in STATUSES:
        raise InvalidInput("bad status", fields={"status": f"one of {', '.join(STATUSES)}"})
    if kind is not None and kind not in KINDS:
        raise InvalidInput("bad kind", fields={"kind": f"one of {', '.join(KINDS)}"})
    where = policy.visible_incidents(actor)
    if status:
        where.append(Incident.status == status)
    if kind:
        where.append(Incident.kind == kind)
    if instance_id is not None:
        where.append(Incident.instance_id == instance_id)
    total = s.scalar(select(func.count()).select_from(Incident).where(*where)) or 0
    rows = s.execute(select(Incident, ProcessInstance.key)
                     .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
                     .where(*where).order_by(Incident.id.desc()).limit(per_page).offset((page - 1) * per_page))
    return [IncidentRow.of(row, key) for row, key in rows], total


def incident_detail(s: Session, actor: org.Actor, incident_id: int) -> IncidentRow:
    found = s.execute(select(Incident, ProcessInstance.key)
                      .join(ProcessInstance, ProcessInstance.id == Incident.instance_id)
                      .where(Incident.id == incident_id)).first()
    if found is None:
        raise NotFound(f"incident {incident_id} not found")
    if not policy.may_see_incident(actor, found[0].org_path):
        raise Forbidden("this incident is outside your area")
    return IncidentRow.of(*found)


# ---------------------------------------------------------------------------------- the retry command

def retry(rt: Engine, actor: org.Actor | int, incident_id: int) -> IncidentRow:
    """Run an incident's instance again (after a fix or migration): its failed elements run
    anew; the incident is resolved if the instance moves on, else it counts the attempt."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        incident = _check_retry(who, s.get(Incident, incident_id), incident_id)
        inst = records.lock_instance(s, incident.instance_id)  # not cmd.lock: it refuses incidents
        assert inst is not None  # (instances are never deleted)
        if inst.status not in ("incident", "running"):
            raise Conflict(f"process instance {inst.id} is {inst.status}")
        loaded = cmd.loaded(inst)
        wf = load_state(records.state_of(s, inst.id), loaded.spec, loaded.subprocess_specs, rt.script_engine)
        for task in errored_tasks(wf):
            task._set_state(TaskState.READY)
        inst.status = "running"
        cmd.event("incident_retried", inst, inst.case_id, None, who.id, {"incident": incident.id})
        cmd.advance(inst, loaded, wf, who.id, rt.clock.now())
        if inst.status != "incident":
            resolve(cmd, inst, who.id)
        s.flush()
        s.refresh(incident)
        return IncidentRow.of(incident, inst.key)


def _check_retry(actor: org.Actor, incident: Incident | None, incident_id: int) -> Incident:
    if incident is None:
        raise NotFound(f"incident {incident_id} not found")
    if not policy.may_see_incident(actor, incident.org_path):
        raise Forbidden("only designers and supervisors of the area may retry this incident")
    if incident.status != "open":
        raise Conflict(f"incident {incident_id} is already {incident.status}")
    return incident
