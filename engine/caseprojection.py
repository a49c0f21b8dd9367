"""The case projection: what a process's steps write into its case row.

A process declares it in its BPMN (process-level ``spiffworkflow:property``, see
docs/modelling.md), so the engine knows no stage, variable or feedback field of any
process: renaming a stage means renaming it in the properties too, and a property naming a
stage, form field or case column that is not there is a deploy error (:func:`check`).

The runtime calls one :class:`CaseProjection` per deployed version (built once, from its
properties) at four points of a command: a task offered, claimed, completed, and the
step done. Each is a few dict lookups; none reads the database or a workflow.
"""
from __future__ import annotations

import ast
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import DateTime

from .model import Case

if TYPE_CHECKING:
    from .records import CaseRecord

CASE_VARIABLES = "caseVariables"  # "variable[=column], ...": the case row follows them after every step
STAGE_TIMESTAMPS = "stageTimestamps"  # "stage=column, ...": set when the case first enters the stage
STAGE_TIMESTAMPS_LATEST = "stageTimestampsLatest"  # "stage=column, ...": set each time it enters it
CLAIM_TIMESTAMPS = "claimTimestamps"  # "stage=column, ...": set when a task of the stage is first taken
FEEDBACK_STAGE = "feedbackStage"  # its user tasks are the reporter's callback (public feedback link)
FEEDBACK_FIELDS = "feedbackFields"  # "field[=column], ...": the callback's answers copied to the case
PROPERTIES = (CASE_VARIABLES, STAGE_TIMESTAMPS, STAGE_TIMESTAMPS_LATEST, CLAIM_TIMESTAMPS, FEEDBACK_STAGE,
              FEEDBACK_FIELDS)

# Case columns the engine keeps itself (identity, status, stage, closing, deadline, links, tokens):
# no property may name them. Every other column is a process's to fill: a time column by a
# stage or claim, any other by a variable or a feedback answer.
_ENGINE_COLUMNS = {"id", "number", "instance_id", "source", "external_ref", "source_instance_id", "grid_id",
                   "org_path", "reported_by_id", "reported_at", "stage", "status", "closed_at", "due_at", "overdue_at",
                   "extension_count", "suspension_count", "suspended_at", "merged_into_id", "updated_at",
                   "feedback_token", "status_token", "feedback_task_id", "feedback_at"}
_FREE = [(c.name, isinstance(getattr(c.type, "impl", c.type), DateTime)) for c in Case.__table__.columns
         if c.name not in _ENGINE_COLUMNS]
TIME_COLUMNS = tuple(name for name, is_time in _FREE if is_time)
VALUE_COLUMNS = tuple(name for name, is_time in _FREE if not is_time)

# History events for a projected counter that rises, and the variable whose dict an
# escalation's event carries (why it escalated, whom to tell).
RISING_EVENTS = (("escalation_level", "escalated"), ("rework_count", "rework"), ("return_count", "returned"))
ESCALATION_DETAIL = "last_escalation"


def parse_map(value: str) -> dict[str, str]:
    """``"a=b, c"`` as {"a": "b", "c": "c"} (an entry without ``=`` keeps its name)."""
    mapping = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        name, _sep, target = (p.strip() for p in entry.partition("="))
        mapping[name] = target or name
    return mapping


@dataclass(frozen=True)
class CaseProjection:
    """One deployed version's projection, and the runtime's hooks that apply it."""

    case_process: bool = False
    variables: dict[str, str] = field(default_factory=dict)  # variable -> column
    first_entered: dict[str, str] = field(default_factory=dict)  # stage -> time column
    last_entered: dict[str, str] = field(default_factory=dict)
    claimed_at: dict[str, str] = field(default_factory=dict)  # stage -> time column
    feedback_stage: str | None = None
    feedback_fields: dict[str, str] = field(default_factory=dict)  # answer -> column

    @classmethod
    def of(cls, properties: dict[str, str]) -> CaseProjection:
        return cls(properties.get("caseProcess", "").lower() == "true",
                   parse_map(properties.get(CASE_VARIABLES, "")), parse_map(properties.get(STAGE_TIMESTAMPS, "")),
                   parse_map(properties.get(STAGE_TIMESTAMPS_LATEST, "")),
                   parse_map(properties.get(CLAIM_TIMESTAMPS, "")), properties.get(FEEDBACK_STAGE) or None,
                   parse_map(properties.get(FEEDBACK_FIELDS, "")))

    def offered(self, case: CaseRecord | None, row: dict[str, Any]) -> None:
        """A user task is offered: a callback gives the case a fresh public feedback link."""
        if case is not None and row["stage"] == self.feedback_stage and self.feedback_stage:
            case.feedback_token, case.feedback_task_id, case.feedback_at = secrets.token_urlsafe(24), row["id"], None

    def claimed(self, stage: str | None, now: datetime, case: Callable[[], CaseRecord | None]) -> None:
        """A task of ``stage`` is taken (claimed, or completed unclaimed): the stage's claim
        time, the first time. ``case`` loads the case row, called only if the stage has one."""
        column = self.claimed_at.get(stage) if stage else None
        record = case() if column else None
        if column and record is not None and getattr(record, column) is None:
            setattr(record, column, now)

    def completed(self, case: CaseRecord | None, stage: str | None, data: dict[str, Any], now: datetime) -> None:
        """A task of ``stage`` is completed: a callback's answers go into the case."""
        if case is not None and stage == self.feedback_stage and self.feedback_stage:
            for answer, column in self.feedback_fields.items():
                if answer in data:
                    setattr(case, column, data[answer])
            case.feedback_at = now

    def stepped(self, case: CaseRecord, data: dict[str, Any], stage: str | None, status: str | None,
                now: datetime) -> dict[str, tuple[Any, Any]]:
        """The step is done: the case row follows the process's variables, its stage (the open
        task's, or the ``stage`` variable between tasks) and its stage timestamps, and its
        status (``case_status``; closing or rejecting it sets ``closed_at``). Returns what
        changed (name -> (before, after))."""
        changes = {}
        for name, column in self.variables.items():
            value = data.get(name)
            if value is not None and getattr(case, column) != value:
                changes[column] = (getattr(case, column), value)
                setattr(case, column, value)
        if stage and stage != case.stage:
            changes["stage"] = (case.stage, stage)
            case.stage = stage
            latest, first = self.last_entered.get(stage), self.first_entered.get(stage)
            if latest:
                setattr(case, latest, now)
            if first and getattr(case, first) is None:
                setattr(case, first, now)
        if status in ("open", "closed", "rejected") and status != case.status:
            changes["case_status"] = (case.status, status)
            case.status = status
            if status != "open" and case.closed_at is None:
                case.closed_at = now
        if changes:
            case.updated_at = now
        return changes

    def events(self, case: CaseRecord, data: dict[str, Any], changes: dict[str, tuple[Any, Any]]
               ) -> list[tuple[str, dict[str, Any]]]:
        """The history events of a step's changes: a projected counter rising (with the
        escalation's details), a superior notified or a hand-down (交办, the level going down)."""
        found = []
        for name, event in RISING_EVENTS:
            if name in changes and (changes[name][1] or 0) > (changes[name][0] or 0):
                detail = data.get(ESCALATION_DETAIL) or {} if event == "escalated" else {}
                found.append((event, {name: changes[name][1], "consult_unit": case.consult_unit, **detail}))
        if "escalation_level" in changes:
            before, after = changes["escalation_level"][0] or 0, changes["escalation_level"][1] or 0
            detail = data.get(ESCALATION_DETAIL) or {}
            if after > before and detail.get("notify_department"):
                found.append(("superior_notified", {"department": detail["notify_department"],
                                                    "escalation_level": after, "consult_unit": case.consult_unit,
                                                    "reason": detail.get("reason")}))
            elif after < before:
                found.append(("handed_down", {"escalation_level": after, "consult_unit": case.consult_unit}))
        return found


# ---------------------------------------------------------------------------------------------
# Checked at deploy


def check(properties: dict[str, str], specs: list[Any], forms: dict[str, Any]) -> list[str]:
    """What is wrong with a process's projection properties: stages no task or script of the
    process (or the processes it calls) has, columns the case table lacks or the engine keeps,
    feedback fields its callback's form does not ask. Empty if nothing."""
    problems = []
    projection = CaseProjection.of(properties)
    task_stages, script_stages, feedback_forms = stages_of(specs, projection.feedback_stage)
    stages = task_stages | script_stages
    if not projection.case_process:
        problems += [f"{name} applies to a case process only (caseProcess=true)"
                     for name in (CASE_VARIABLES, STAGE_TIMESTAMPS, STAGE_TIMESTAMPS_LATEST) if properties.get(name)]

    def columns(name: str, mapping: dict[str, str], allowed: tuple[str, ...]) -> None:
        for source, column in mapping.items():
            if column not in allowed:
                problems.append(f"{name}: '{source}={column}': the case has no column '{column}' a process may fill "
                                f"(here: {', '.join(allowed)})")

    def known(name: str, mapping: dict[str, str], within: set[str], where: str) -> None:
        unknown = [stage for stage in mapping if stage not in within]
        if unknown:
            problems.append(f"{name} names stages {where} has: {', '.join(unknown)} "
                            f"(stages: {', '.join(sorted(within)) or 'none'})")

    columns(CASE_VARIABLES, projection.variables, VALUE_COLUMNS)
    for name, mapping in ((STAGE_TIMESTAMPS, projection.first_entered),
                          (STAGE_TIMESTAMPS_LATEST, projection.last_entered)):
        known(name, mapping, stages, "no task or script")
        columns(name, mapping, TIME_COLUMNS)
    known(CLAIM_TIMESTAMPS, projection.claimed_at, task_stages, "no user task")
    columns(CLAIM_TIMESTAMPS, projection.claimed_at, TIME_COLUMNS)
    if projection.feedback_stage and projection.feedback_stage not in task_stages:
        problems.append(f"{FEEDBACK_STAGE} '{projection.feedback_stage}': no user task has this stage "
                        f"(stages: {', '.join(sorted(task_stages)) or 'none'})")
    if projection.feedback_fields and not projection.feedback_stage:
        problems.append(f"{FEEDBACK_FIELDS} needs {FEEDBACK_STAGE}: the stage of the callback they answer")
    columns(FEEDBACK_FIELDS, projection.feedback_fields, VALUE_COLUMNS)
    asked = {answer for form in feedback_forms for answer in (forms.get(form) or {}).get("properties", {})}
    unasked = [answer for answer in projection.feedback_fields if feedback_forms and answer not in asked]
    if unasked:
        problems.append(f"{FEEDBACK_FIELDS} names answers the callback's form ({', '.join(sorted(feedback_forms))}) "
                        f"does not ask: {', '.join(unasked)}")
    return problems


def stages_of(specs: list[Any], feedback_stage: str | None = None) -> tuple[set[str], set[str], set[str]]:
    """The stages of user tasks (their ``stage`` property), those scripts set (``stage = "..."``),
    and the forms of the tasks in ``feedback_stage``."""
    tasks, scripts, forms = set(), set(), set()
    for spec in specs:
        for ts in spec.task_specs.values():
            props = (getattr(ts, "extensions", None) or {}).get("properties", {})
            if props.get("stage"):
                tasks.add(props["stage"])
                if props["stage"] == feedback_stage and props.get("formJsonSchemaFilename"):
                    forms.add(props["formJsonSchemaFilename"])
            for source in (getattr(ts, "script", None), getattr(ts, "prescript", None),
                           getattr(ts, "postscript", None)):
                if isinstance(source, str) and "stage" in source:
                    scripts |= _assigned_stages(source)
    return tasks, scripts, forms


def _assigned_stages(script: str) -> set[str]:
    """The texts a script assigns to ``stage`` (it compiled at deploy already)."""
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()
    return {node.value.value for node in ast.walk(tree)
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            and any(isinstance(t, ast.Name) and t.id == "stage" for t in node.targets)}
