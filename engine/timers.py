"""Deadlines that act: the engine's clock inside SpiffWorkflow, fired-timer history, due work.

Time limits are BPMN timer events (docs/modelling.md). This module is everything the engine
adds around them:

* :func:`engine_clock` makes SpiffWorkflow's timers read the engine's clock (see below).
* :func:`run_steps` runs engine steps until nothing is ready and reports every timer that
  fired; :func:`record` turns each into a ``timer_fired`` history event and applies the
  timer's ``marksOverdue`` property to the task it is attached to.
* :func:`next_due` is the instance's next timer due time, stored (indexed) after every command.
* :func:`fire_next` / :func:`run_due` are the due-work runner: claim one due instance, fire
  its timers, store it, in one transaction per instance; safe with any number of runners.

Why the clock works the way it does
-----------------------------------
SpiffWorkflow computes and checks due times with ``datetime.now(timezone.utc)``, called inside
its module ``SpiffWorkflow.bpmn.specs.event_definitions.timer`` and nowhere else. The
alternative to redirecting that call, subclassed timer event definitions, would have to be
registered with the parser *and* the serializer, and every spec already deployed (stored
with SpiffWorkflow's own class names) would keep reading the wall clock. Instead, that one
module gets a ``datetime`` whose ``now()`` asks a context variable for the clock of the
command running in this thread (set by the Runtime around each command with
:func:`engine_clock`); with no command running it is the real clock, so nothing else changes.
A context variable, not a global: web threads, the due-work thread and tests with their own
frozen clocks run side by side in one process.
"""
from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any, Iterator

from sqlalchemy import Select, select, update
from sqlalchemy.exc import DBAPIError
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import incidents, records
from .clock import Clock
from .db import affected
from .definitions import OVERDUE_MODES, leaf_events
from .errors import EngineError, IncidentOpened
from .model import Case, ProcessInstance, Task

if TYPE_CHECKING:
    from .command import Command, Engine
    from .records import Instance

log = logging.getLogger(__name__)

_clock: ContextVar[Clock | None] = ContextVar("gridloop_engine_clock", default=None)


class _EngineDatetime(datetime):
    """``datetime`` as SpiffWorkflow's timer module sees it: ``now()`` is the engine clock of
    the command running in this context, or the real clock outside commands."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _EngineDatetime:
        clock = _clock.get()
        if clock is None:
            return super().now(tz)
        now = clock.now().astimezone(tz) if tz is not None else clock.now().astimezone().replace(tzinfo=None)
        return cls.combine(now.date(), now.time(), now.tzinfo)


if spiff_timer.datetime is not datetime:  # pragma: no cover - a SpiffWorkflow upgrade changed the module
    raise ImportError("SpiffWorkflow's timer module no longer uses datetime.now; see engine/timers.py")
spiff_timer.datetime = _EngineDatetime


@contextmanager
def engine_clock(clock: Clock) -> Iterator[None]:
    """Within this block, SpiffWorkflow's timers in this thread/context read ``clock``."""
    token = _clock.set(clock)
    try:
        yield
    finally:
        _clock.reset(token)


# ---------------------------------------------------------------------------------- firing

def run_steps(wf: BpmnWorkflow) -> list[dict[str, Any]]:
    """Run engine steps until no engine task is ready; return the timers that fired.

    Timers that came due while the instance was stored are refreshed first, so they run in
    the same steps. SpiffWorkflow's ``do_engine_steps`` ends by refreshing timers again: one
    found due there is READY but not yet run, so steps are repeated until nothing is ready
    (this also catches up a cycle timer that missed several cycles). A timer event task that
    is about to run has fired; so has an event-based gateway that is about to run because of
    a timer, and a cycle timer whose branch starts while the timer itself keeps waiting.
    """
    fired: list[dict[str, Any]] = []

    def will_run(task: SpiffTask) -> None:
        definition = getattr(task.task_spec, "event_definition", None)
        if isinstance(definition, TimerEventDefinition) and not isinstance(definition, CycleTimerEventDefinition):
            fired.append(_fired(task, task._get_internal_data("event_value")))
            return
        if isinstance(definition, MultipleEventDefinition):
            for event in task.internal_data.get("seen_events", []):
                if isinstance(event.event_definition, TimerEventDefinition):
                    fired.append(_fired(task, task._get_internal_data("event_value"), event.event_definition.name))
            return
        parent = task.parent
        cycle = getattr(parent.task_spec, "event_definition", None) if parent is not None else None
        if isinstance(cycle, CycleTimerEventDefinition) and parent.state == TaskState.WAITING:
            value = parent._get_internal_data("event_value") or {}
            due = datetime.fromisoformat(value["next"]) - timedelta(seconds=value["duration"]) if value else None
            fired.append(_fired(parent, due.isoformat() if due else None))

    wf.refresh_timers()
    while True:
        wf.do_engine_steps(will_complete_task=will_run)
        if not any(not t.task_spec.manual for t in wf.get_tasks(state=TaskState.READY)):
            return fired


def _fired(task: SpiffTask, due: Any, name: str | None = None) -> dict[str, Any]:
    spec = task.task_spec
    attached = None
    if isinstance(spec, BoundaryEvent) and task.parent is not None:
        attached = next((c for c in task.parent.children if not isinstance(c.task_spec, BoundaryEvent)), None)
    return {"element": spec.bpmn_id or spec.name, "name": name or spec.bpmn_name, "due": due,
            "interrupting": getattr(spec, "cancel_activity", None),
            "attached_ids": _instances(attached),
            "attached_to": attached.task_spec.bpmn_id if attached is not None else None,
            "marks_overdue": ((getattr(spec, "extensions", None) or {}).get("properties", {})
                              .get("marksOverdue"))}


def _instances(attached: SpiffTask | None) -> list[str | None]:
    """The task rows a boundary timer is about: the task it is attached to or, on a multi-
    instance activity (joint handling), each of its unfinished instances."""
    if attached is None:
        return [None]
    if isinstance(attached.task_spec, MultiInstanceTask):
        return [str(c.id) for c in attached.task_spec._instances(attached)
                if not c.has_state(TaskState.FINISHED_MASK)] or [None]
    return [str(attached.id)]


def record(cmd: Command, inst: Instance, fired: list[dict[str, Any]]) -> None:
    """One ``timer_fired`` event per fired timer and task it is attached to; a timer with
    ``marksOverdue`` marks that task overdue (``always``, or only while nobody has claimed
    it: ``unclaimed``), which the supervisor's view shows and ``task_overdue`` records."""
    now = cmd.now()
    for fired_timer in fired:
        mode, task_ids = fired_timer.pop("marks_overdue"), fired_timer.pop("attached_ids")
        for task_id in task_ids:
            _record_one(cmd, inst, dict(fired_timer), mode, task_id, now)


def _record_one(cmd: Command, inst: Instance, timer: dict[str, Any], mode: str | None, task_id: str | None,
                now: datetime) -> None:
    marked = False
    if mode == "case":
        _mark_case(cmd, inst, timer, now)
    elif mode in OVERDUE_MODES and task_id is not None:
        where = [Task.id == task_id, Task.status.in_(("open", "claimed")), Task.overdue_at.is_(None)]
        if mode == "unclaimed":
            where.append(Task.assignee_id.is_(None))
        marked = affected(cmd.session, update(Task).where(*where).values(overdue_at=now)
                             .execution_options(synchronize_session=False)) == 1
    cmd.event("timer_fired", inst, inst.case_id, task_id, None, {**timer, "marked_overdue": marked})
    if marked:
        cmd.event("task_overdue", inst, inst.case_id, task_id, None,
                  {"element": timer["attached_to"], "limit": timer["name"] or timer["element"],
                   "due": timer["due"]})


def _mark_case(cmd: Command, inst: Instance, timer: dict[str, Any], now: datetime) -> None:
    """``marksOverdue=case``: the whole case passed its deadline; marked once, while open."""
    marked = affected(cmd.session,
          update(Case).where(Case.id == inst.case_id, Case.status == "open", Case.overdue_at.is_(None))
          .values(overdue_at=now).execution_options(synchronize_session=False)) == 1
    if marked:
        cmd.event("case_overdue", inst, inst.case_id, None, None,
                  {"limit": timer["name"] or timer["element"], "due": timer["due"]})


def next_due(wf: BpmnWorkflow) -> datetime | None:
    """The soonest due time of any waiting timer, in the top workflow or a called process.

    Reads every waiting catch event (boundary, intermediate, event-based gateway and cycle
    timers alike); a timer date written without a zone counts in the server's zone, as SpiffWorkflow
    itself compares it.
    """
    times = []
    for task in wf.event_manager.tasks.values():
        for definition in leaf_events(task.task_spec.event_definition):
            if isinstance(definition, TimerEventDefinition):
                value = definition.details(task).value
                if isinstance(value, str):
                    times.append(TimerEventDefinition.get_datetime(value))
    return min(times) if times else None


# ---------------------------------------------------------------------------------- due work

def _due(now: datetime, instance_id: int | None) -> Select[tuple[int, str | None]]:
    pi = ProcessInstance
    query = (select(pi.id, pi.error).where(pi.status == "running", pi.next_timer_at < now)
             .order_by(pi.next_timer_at).limit(1).with_for_update(skip_locked=True))
    return query.where(pi.id == instance_id) if instance_id is not None else query


def fire_next(rt: Engine, now: datetime, instance_id: int | None = None) -> int | None:
    """Claim one instance with a timer due before ``now`` (that one, if given), fire what is
    due and store it, in one transaction; return its id, or None when nothing is due.

    The claim is ``SELECT ... FOR UPDATE SKIP LOCKED``: concurrent runners each take a
    different instance and never wait for one another; a web command on the same instance
    waits for the row lock and then sees the fired state. On SQLite, where that clause does
    not exist, the write transaction itself (BEGIN IMMEDIATE) serializes runners. A timer
    fires at most once because its fired state, the read model and its history event are
    committed together; a runner killed half-way commits nothing, and the next one finds
    the instance still due.
    """
    claimed: int | None = None
    try:
        with rt.command() as cmd:
            s = cmd.session
            due = s.execute(_due(now, instance_id)).first()
            if due is None:
                return None
            claimed, failed_before = due
            inst = cmd.lock(claimed)  # already ours: the runtime's own view of the row
            loaded = cmd.loaded(inst)
            cmd.advance(inst, loaded, cmd.restore(inst, loaded), None)
            if failed_before:  # a later attempt went through: the failures are over
                s.execute(update(ProcessInstance).where(ProcessInstance.id == claimed).values(error=None))
                incidents.resolve(cmd, inst, None)
            if inst.next_timer_at is not None and inst.next_timer_at < now:
                raise EngineError(f"a timer due at {inst.next_timer_at.isoformat()} did not fire")
            return claimed
    except DBAPIError:
        raise  # the database, not this instance: the caller's next pass retries
    except IncidentOpened:
        return claimed  # stored as an incident: done with it until someone retries
    except Exception as exc:  # this instance's process (or our handling of it) failed
        if claimed is None:
            raise
        _postpone(rt, claimed, exc)
        return claimed


def _postpone(rt: Engine, instance_id: int, exc: Exception) -> None:
    """Record the failure and retry later, backing off, until the attempts run out and the
    instance becomes an incident (``incidents.timer_failed``); the state is untouched."""
    error = exc.message if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
    log.warning("timers of instance %s failed: %s", instance_id, error, exc_info=not isinstance(exc, EngineError))
    with rt.command() as cmd:
        inst = records.lock_instance(cmd.session, instance_id)
        assert inst is not None  # (instances are never deleted)
        retry_at = incidents.timer_failed(cmd, inst, error)
        if retry_at is not None:
            cmd.session.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                      .values(next_timer_at=retry_at, error=error))
        cmd.event("timer_failed", instance_id, inst.case_id,
                  payload={"error": error, "retry_at": retry_at.isoformat() if retry_at else None})


def run_due(rt: Engine, *, stop: threading.Event | None = None, limit: int | None = None) -> int:
    """One due-work pass: fire every instance due now, one transaction each, until none is
    left (or ``stop`` is set, or ``limit`` instances are done); return how many.

    Each instance is taken at most once per pass: afterwards its next due time lies after
    the pass's ``now`` (or it was postponed), so a pass always ends.
    """
    now, count = rt.clock.now(), 0
    while (limit is None or count < limit) and not (stop is not None and stop.is_set()):
        if fire_next(rt, now) is None:
            break
        count += 1
    return count
