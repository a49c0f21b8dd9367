"""The case's own deadline (办结时限): set once from the process, moved only by an extension.

The process sets ``due_at`` once (closed_loop: ``due_at = deadline(case_limit)``); the
projection copies that first value to the case and ignores later changes of the variable
(a parallel branch carries an older copy of it). Afterwards the one way to move the
deadline is an approved extension (延期): the process calls ``extend_due(until, note)`` in a
script task on its approval path. The call only asks; when the engine steps are done, the
command applies the request with :func:`apply` in its own transaction: the case's
``due_at`` and ``extension_count`` change, a ``due_extended`` history event records who
approved it (the user whose command ran the script), from when to when and why, the
timers waiting on ``due_at`` are re-armed for the new time, and a case marked overdue
whose new deadline lies ahead is unmarked (its timers mark it again if that passes too).
The figures count extended cases (engine/metrics.py ``extension_rate``).

A deadline also moves when the calendar it was counted on changes: a holiday notice loaded
for a year whose deadlines were provisional (engine/calendars.py) has :func:`recompute` put
each such due time where the notice puts it, recorded as ``deadline_recomputed``.
"""
from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimeDateEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState

from .definitions import leaf_events
from .errors import ProcessError
from .model import Task
from .script_requests import ScriptRequests

if TYPE_CHECKING:
    from .command import Command
    from .records import CaseRecord, Instance

MAX_NOTE = 500
# The extensions asked for by the scripts of the command running in this context.
_REQUESTED = ScriptRequests("due_extensions")
collecting = _REQUESTED.collecting  # around a command's engine steps: the extensions its scripts ask for


def as_time(value: Any, what: str) -> datetime:
    """An ISO 8601 time with a zone (what ``deadline()`` returns) or an aware datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise ProcessError(f"{what} '{value}' is not an ISO 8601 time") from None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ProcessError(f"{what} must be an ISO 8601 time with a zone, e.g. deadline('3WD', due_at)")
    return value


def extend_due(until: Any, note: str = "") -> str:
    """Script function: ask to move the case's deadline to ``until`` (an approved extension).
    Returns ``until`` as ISO 8601, so a script can keep its ``due_at`` variable in step:
    ``due_at = extend_due(deadline(extension, due_at), reason)``."""
    when = as_time(until, "extend_due's until")
    _REQUESTED.ask("extend_due", "moves a case's deadline", {"until": when, "note": str(note)[:MAX_NOTE]})
    return when.isoformat()


def first_due(case: CaseRecord, data: dict[str, Any]) -> None:
    """The projection's part: the process's ``due_at`` becomes the case's deadline if it has none."""
    value = data.get("due_at")
    if case.due_at is None and value is not None:
        case.due_at = as_time(value, "due_at")


def apply(cmd: Command, inst: Instance, wf: BpmnWorkflow, case: CaseRecord | None, requested: list[dict[str, Any]],
          actor_id: int | None, now: datetime) -> None:
    """Move the case's deadline as the process asked (in order; each must be later than the
    deadline it replaces, on a case still open)."""
    for request in requested:
        until = request["until"]
        if case is None:
            raise ProcessError("extend_due(): this process has no case whose deadline could move")
        if case.status != "open":
            raise ProcessError(f"extend_due(): case {case.number} is {case.status}; its deadline no longer moves")
        if case.due_at is None or until <= case.due_at:
            raise ProcessError(f"extend_due(): {until.isoformat()} is not later than the case's deadline "
                               f"{case.due_at.isoformat() if case.due_at else '(none yet)'}")
        previous = case.due_at
        case.due_at, case.extension_count = until, (case.extension_count or 0) + 1
        if case.overdue_at is not None and until > now:
            case.overdue_at = None
        case.updated_at = now
        rearmed = rearm(wf, until)
        cmd.event("due_extended", inst, case.id, None, actor_id,
                  {"from": previous.isoformat(), "to": until.isoformat(), "extension_count": case.extension_count,
                   "note": request["note"], "timers_rearmed": rearmed})


def rearm(wf: BpmnWorkflow, until: datetime) -> int:
    """Waiting timers whose time is the case's deadline (``timeDate`` ``due_at``) now wait for
    ``until``; the ``due_at`` of their task data, and of every unfinished task's (whose data
    the next steps inherit, arming their own deadline timers from it), follows. Returns how many."""
    for task in wf.get_tasks(state=TaskState.NOT_FINISHED_MASK):
        if "due_at" in task.data:
            task.data["due_at"] = until.isoformat()
    count = 0
    for task in wf.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        for leaf in leaf_events(getattr(task.task_spec, "event_definition", None)):
            if isinstance(leaf, TimeDateEventDefinition) and leaf.expression.strip() == "due_at":
                task.data["due_at"] = until.isoformat()
                task._set_internal_data(event_value=until.isoformat())
                count += 1
    return count


def recompute(cmd: Command, inst: Instance, wf: BpmnWorkflow, case: CaseRecord | None,
              changes: dict[datetime, tuple[datetime, str]], why: dict[str, Any], actor_id: int | None,
              now: datetime) -> list[dict[str, Any]]:
    """Every due time ``old`` of ``changes`` this open instance holds becomes ``new``: the case's
    deadline, its open tasks' due times, its waiting timers and its process variables (which
    the next steps count on). An overdue mark whose new time lies ahead is lifted. One
    ``deadline_recomputed`` event per moved time; returns them. The caller stores the state."""
    def moved(value: Any) -> datetime | None:
        """The old due time ``value`` writes, if it is one of ``changes``."""
        if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
            try:
                when = datetime.fromisoformat(value)
                return when if when in changes else None
            except (TypeError, ValueError):  # not a time; a naive one never equals an aware one
                return None
        return None

    variables: dict[datetime, int] = {}
    live = [t for t in wf.get_tasks() if not t.has_state(TaskState.FINISHED_MASK)  # and a boundary event's
            or any(not c.has_state(TaskState.FINISHED_MASK) for c in t.children)]  # parent, whose data it takes
    for task in live:
        for key, value in list(task.data.items()):
            if (old := moved(value)) is not None:
                task.data[key] = changes[old][0].isoformat()
                variables[old] = variables.get(old, 0) + 1
    rearmed: dict[datetime, int] = {}
    for task in wf.event_manager.tasks.values():
        value = task._get_internal_data("event_value") if task.state == TaskState.WAITING else None
        if (old := moved(value)) is not None:
            task._set_internal_data(event_value=changes[old][0].isoformat())
            rearmed[old] = rearmed.get(old, 0) + 1
    tasks = cmd.session.scalars(select(Task).where(Task.instance_id == inst.id, Task.status.in_(("open", "claimed")),
                                         Task.due_at.in_(list(changes)))).all()
    events: list[dict[str, Any]] = []
    for old, (new, limit) in changes.items():
        on_tasks = [t for t in tasks if t.due_at == old]
        for task in on_tasks:
            task.due_at = new
            if task.overdue_at is not None and new > now:
                task.overdue_at = None
        on_case = case is not None and case.due_at == old
        if case is not None and on_case:
            case.due_at, case.updated_at = new, now
            if case.overdue_at is not None and new > now:
                case.overdue_at = None
        if not (on_tasks or on_case or rearmed.get(old) or variables.get(old)):
            continue
        payload = {"from": old.isoformat(), "to": new.isoformat(), "limit": limit, **why, "case": on_case,
                   "tasks": [t.id for t in on_tasks], "timers_rearmed": rearmed.get(old, 0)}
        cmd.event("deadline_recomputed", inst, inst.case_id, None, actor_id, payload)
        events.append(payload)
    return events
