"""The read model: after every step, what reads need of a workflow is mirrored into tables.

Task rows for the READY user tasks (candidates, form, stage, due time from lane and
extension properties), the case row (stage, status, and what the process's case projection
says: engine/caseprojection.py) and the messages and signals an instance waits for. Reads
query these; none restores a workflow.
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, delete, false, func, insert, or_, select, type_coerce, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition, SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import deadlines, definitions, jsontext, liaisons, records
from .errors import NotFound, ProcessError
from .model import Event, MessageWait, Task
from .records import Instance
from .workcalendar import parse_limit

if TYPE_CHECKING:
    from .caseprojection import CaseProjection
    from .command import Command
    from .records import CaseRecord


def sync_tasks(cmd: Command, inst: Instance, ready: list[SpiffTask], case: CaseRecord | None,
               projection: CaseProjection, now: datetime) -> None:
    """Task rows follow the READY user tasks: new ones get a row (the case's projection is
    told), rows whose task is gone (not completed by this command) are cancelled. Leaves the
    instance's open tasks in ``cmd.open`` for the command's answer."""
    s = cmd.session
    rows = cmd.open_rows.pop(inst.id, None)
    if rows is None:
        rows = records.open_tasks(s, inst.id) if inst.revision else {}  # revision 0: being started
    ready_ids = {str(t.id) for t in ready}
    gone = [task_id for task_id in rows if task_id not in ready_ids and task_id not in cmd.done]
    if gone:
        s.execute(update(Task).where(Task.id.in_(gone)).values(status="cancelled")
                  .execution_options(synchronize_session=False))
        for task_id in gone:
            cmd.event("task_cancelled", inst, inst.case_id, task_id, None, records.task_names(rows[task_id]))
    new_rows = [_new_task_row(cmd, inst, t, case, now) for t in ready if str(t.id) not in rows]
    for row in new_rows:
        projection.offered(case, row)
        cmd.event("task_created", inst, row["case_id"], row["id"], None,
                  {"element": row["element_id"], "name": row["name"], "name_zh": row["name_zh"],
                   "role": row["role"],
                   "org_unit": row["org_unit_code"], "department": row["department"],
                   "due_at": row["due_at"].isoformat() if row["due_at"] else None})
    if new_rows:
        records.insert_tasks(s, new_rows)
    kept = [t for task_id, t in rows.items() if task_id not in gone and task_id not in cmd.done]
    cmd.open[inst.id] = kept + [records.TaskRow(r) for r in new_rows]

def _new_task_row(cmd: Command, inst: Instance, spiff_task: SpiffTask, case: CaseRecord | None, now: datetime
                  ) -> dict[str, Any]:
    """The task row for a READY user task: candidates, form, stage and due time from its
    lane and extension properties (evaluated against the task's data)."""
    spec = spiff_task.task_spec
    props = (getattr(spec, "extensions", None) or {}).get("properties", {})

    def prop(name: str) -> Any:
        expr = props.get(name)
        if not expr:
            return None
        try:
            return cmd.engine.script_engine.evaluate(spiff_task, expr)
        except SpiffWorkflowException as exc:
            raise ProcessError(f"property {name} of task '{spec.bpmn_name}': {exc}") from None

    unit = prop("candidateOrgUnit")
    try:
        org_path = cmd.org_path(str(unit)) if unit is not None else None
    except NotFound:
        raise ProcessError(f"task '{spec.bpmn_name}' is offered to unknown org unit '{unit}'") from None
    limit = prop("dueIn")
    try:
        parsed = parse_limit(str(limit)) if limit else None
    except ValueError as exc:
        raise ProcessError(f"dueIn of task '{spec.bpmn_name}': {exc}") from None
    calendar = cmd.calendar()
    due_at = calendar.add(now, parsed) if parsed else None
    if parsed and due_at is not None and parsed.kind != "elapsed" \
            and (years := calendar.provisional_years(now, due_at)):
        cmd.event("deadline_provisional", inst, case.id if case else None, str(spiff_task.id), None,
                  {"limit": str(limit), "start": now.isoformat(), "due": due_at.isoformat(), "years": years,
                   "task": str(spiff_task.id)})
    role = prop("candidateRole") or spec.lane
    department = prop("candidateDepartment")
    if props.get("mustReach"):
        liaisons.check_reach(cmd.session, props["mustReach"], spec.bpmn_name or spec.name, role, department,
                             str(unit) if unit is not None else None, org_path)
    return dict(id=str(spiff_task.id), instance_id=inst.id, case_id=case.id if case else None,
                process_key=inst.key, element_id=spec.bpmn_id or spec.name,
                name=spec.bpmn_name or spec.name, name_zh=props.get("nameZh"),
                form=props.get(definitions.FORM_PROPERTY), stage=props.get("stage"), role=role,
                org_unit_code=str(unit) if unit is not None else None, org_path=org_path,
                department=department,
                candidate_user_id=inst.started_by_id if role is None else None,
                excluded_user_id=_excluded(cmd, inst, props.get("notBy")), assignee_id=None,
                status="open", priority=int(prop("priority") or 0),
                category=case.category if case else None, due_at=due_at, created_at=now,
                claimed_at=None, completed_at=None, completed_by_id=None, data=None, input=to_json(spiff_task.data),
                urged_at=None, urge_count=0, overdue_at=None)

NOT_BY_STARTER = "starter"


def _excluded(cmd: Command, inst: Instance, not_by: str | None) -> int | None:
    """A task's ``notBy`` (element ids): whoever last completed one of them in this instance
    may not take it (独立核查: the resolver never verifies her own work); ``starter``: whoever
    started the instance (an exception's requester never approves her own request)."""
    elements = [e.strip() for e in (not_by or "").split(",") if e.strip()]
    if elements == [NOT_BY_STARTER]:
        return inst.started_by_id
    if not elements:
        return None
    s = cmd.session
    mine = select(Task.completed_by_id).where(Task.instance_id == inst.id, Task.element_id.in_(elements))
    if cmd.done:  # completed by this command: the latest, and their history is not written yet
        found = s.scalar(mine.where(Task.id.in_(cmd.done)).limit(1))
        if found is not None:
            return found
    return s.scalar(mine.join(Event, and_(Event.instance_id == inst.id, Event.task_id == Task.id,
                                          Event.type == "task_completed")).order_by(Event.id.desc()).limit(1))


def sync_case(cmd: Command, inst: Instance, wf: BpmnWorkflow, ready: list[SpiffTask], case: CaseRecord,
              projection: CaseProjection, actor_id: int | None, now: datetime) -> None:
    """The case row follows the process as its projection says (engine/caseprojection.py),
    with a history event for each change users follow (stage, the projection's, closing)."""
    data = _current_data(wf, ready)
    deadlines.first_due(case, data)
    # The stage is the open task's; between tasks (closed, rejected) a script sets ``stage``.
    stages = [(getattr(t.task_spec, "extensions", None) or {}).get("properties", {}).get("stage") for t in ready]
    stage = next((st for st in stages if st), None) or (data.get("stage") if not ready else None)
    changes = projection.stepped(case, data, stage, data.get("case_status"), now)
    if not changes:
        return
    if "stage" in changes:
        cmd.event("stage_changed", inst, case.id, None, actor_id, {"from": changes["stage"][0], "to": case.stage})
    for event, payload in projection.events(case, data, changes):
        cmd.event(event, inst, case.id, None, actor_id, payload)
    if "case_status" in changes and case.status != "open":
        cmd.event(f"case_{case.status}", inst, case.id, None, actor_id,
                  {"stage": case.stage, "satisfaction": case.satisfaction})


def waits(wf: BpmnWorkflow) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, name, correlation values) of each message or signal the workflow waits for;
    the values are the waiting task's scalar data, and for a message its BPMN correlation
    (:func:`bpmn_correlation`)."""
    found = []
    for task in wf.event_manager.tasks.values():
        if task.state != TaskState.WAITING:
            continue
        values = task_values(task)
        for definition in definitions.leaf_events(task.task_spec.event_definition):
            if isinstance(definition, MessageEventDefinition):
                found.append(("message", definition.name, {**values, **bpmn_correlation(task, definition)}))
            elif isinstance(definition, SignalEventDefinition):
                found.append(("signal", definition.name, values))
    return found


def task_values(task: SpiffTask) -> dict[str, Any]:
    """A waiting task's data a sender may correlate on: its scalar values."""
    return {k: v for k, v in task.data.items() if isinstance(v, (str, int, float, bool)) and len(str(v)) <= 200}


def bpmn_correlation(task: SpiffTask, definition: EventDefinition) -> dict[str, Any]:
    """What a message wait records of BPMN correlation (SpiffWorkflow's rule): a message whose
    definition has correlation properties, once its (sub)process holds correlation values,
    catches only messages that share one key's values: ``{"@keys": values}``; any other wait
    catches whatever comes: ``{"@any": true}``. Neither is a variable name, so neither clashes
    with the task data beside them."""
    values = task.workflow.correlations
    if definition.correlation_properties and values:
        try:
            json.dumps(values)
        except (TypeError, ValueError):
            return {"@any": True}  # not storable: found as a catch-all, the workflow decides
        return {"@keys": values}
    return {"@any": True}


def matches(values: dict[str, Any], correlation: dict[str, Any]) -> bool:
    return all(values.get(k) == v for k, v in correlation.items())


def sync_waits(s: Session, inst: Instance, wf: BpmnWorkflow) -> None:
    """Record which messages/signals the instance waits for, so senders find it by query."""
    wanted = waits(wf)
    current = s.execute(select(MessageWait.kind, MessageWait.name, MessageWait.correlation)
                        .where(MessageWait.instance_id == inst.id)).all()
    if sorted(json.dumps(list(w), sort_keys=True) for w in current) == \
            sorted(json.dumps(list(w), sort_keys=True) for w in wanted):  # JSONB reorders keys
        return
    s.execute(delete(MessageWait).where(MessageWait.instance_id == inst.id))
    if wanted:
        s.execute(insert(MessageWait), [{"instance_id": inst.id, "kind": k, "name": n, "correlation": c}
                                        for k, n, c in wanted])


def correlated(s: Session, correlation: dict[str, Any]) -> list[ColumnElement[bool]]:
    """Conditions finding the waits whose values include ``correlation``: one indexed JSONB
    containment on PostgreSQL, a JSON lookup per key elsewhere. Only scalar values are
    recorded, so any other value matches nothing."""
    if not correlation:
        return []
    if not all(isinstance(v, (str, int, float, bool)) for v in correlation.values()):
        return [false()]
    if s.get_bind().dialect.name == "postgresql":
        return [type_coerce(MessageWait.correlation, JSONB).contains(correlation)]
    return [func.json_extract(MessageWait.correlation, f"$.{k}") == v for k, v in correlation.items()]


def keyed(s: Session, candidates: list[tuple[str, dict[str, Any]]]) -> list[ColumnElement[bool]]:
    """Conditions finding the message waits that may catch a message with these BPMN
    correlation values ((key, {property: value}) pairs): those that catch anything, and those
    sharing one key's values. Indexed containment on PostgreSQL; on SQLite only keyed or
    not (Python decides)."""
    if s.get_bind().dialect.name == "postgresql":
        column = type_coerce(MessageWait.correlation, JSONB)
        return [or_(column.contains({"@any": True}), *(column.contains({"@keys": {k: v}}) for k, v in candidates))]
    if not candidates:
        return [func.json_extract(MessageWait.correlation, '$."@any"') == 1]
    return []


def process_data(wf: BpmnWorkflow, ready: list[SpiffTask]) -> dict[str, Any]:
    """The instance's process data for ``GET /process-instances/{id}/variables``: the top-level
    workflow's data as its latest task sees it. That is the newest READY user task's (inside a
    subprocess too: its data objects and variables are what the user works with), else the
    newest waiting event's (a message or a timer), else the last task run; a finished instance
    has its end data.

    Kept as JSON text on the instance row, written by the UPDATE that stores the state: a read
    is one indexed row, never a workflow restored, and a command pays one ``json.dumps`` of
    data it has just serialized anyway (no extra statement)."""
    if wf.is_completed():
        return wf.data or (wf.last_task.data if wf.last_task else {})
    latest = ready or [t for t in wf.event_manager.tasks.values() if t.state == TaskState.WAITING]
    newest = max(latest, key=lambda t: t.last_state_change) if latest else \
        wf.last_task if wf.last_task is not None else wf.task_tree
    data: dict[str, Any] = newest.data
    return data


def _json_value(value: Any) -> Any:
    """Task data values JSON has no type for: dates and times in ISO 8601, durations in
    seconds, anything else (UUIDs, sets) as text."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


def to_json(data: dict[str, Any]) -> str:
    """Task data as the JSON text the read model stores."""
    return jsontext.dumps(data, _json_value)


def _current_data(wf: BpmnWorkflow, ready: list[SpiffTask]) -> dict[str, Any]:
    """The freshest task data: an open user task's, else the last task run, else the end result."""
    if ready:
        data: dict[str, Any] = max(ready, key=lambda t: t.last_state_change).data
        return data
    if wf.is_completed():
        return wf.data or (wf.last_task.data if wf.last_task else {})
    return wf.last_task.data if wf.last_task is not None else {}

