"""Try a draft: run a process that is not deployed, in memory, as the roles its lanes name.

A trial is a pure function of the draft's files, its start data and the steps taken so far
(each: a user task completed as a role, with form data). Every call compiles the draft as
deploy would, starts a fresh workflow and replays the steps; nothing is stored, so no case,
task row, inbox, figure or history event ever sees it, and nothing is left to clean up.
Time passes only by a step that waits (``{"wait": "PT4H"}``, working time too: ``"2WD"``):
the timers then due fire, as a due-work runner would fire them. Messages thrown go nowhere.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any, Callable

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import definitions, forms, policy, timers
from .errors import InvalidInput
from .org import Actor
from .readmodel import process_data, to_json
from .scripting import ScriptBudgetError

MAX_STEPS = 200  # a trial longer than this is a loop, not a test of a draft


def _pick(compiled: list[definitions.Compiled], key: str | None) -> definitions.Compiled:
    """The process to try: the one named, else the first that others do not merely call."""
    if key is not None:
        for c in compiled:
            if c.key == key:
                return c
        raise InvalidInput(f"no process '{key}' in these files", fields={"key": "a process id of the files"})
    callable_ = [c for c in compiled if definitions.CALLED_BY_PROPERTY not in c.properties]
    return (callable_ or compiled)[0]


def _ready(wf: BpmnWorkflow) -> list[SpiffTask]:
    ready: list[SpiffTask] = wf.get_tasks(state=TaskState.READY, manual=True)
    return ready


def _offered(task: SpiffTask) -> str | None:
    """The role a task is offered to: its ``candidateRole`` if it names one, else its lane's."""
    expr = (getattr(task.task_spec, "extensions", None) or {}).get("properties", {}).get("candidateRole")
    role: str | None = (task.workflow.script_engine.evaluate(task, expr) if expr else None) or task.task_spec.lane
    return role


def _task_dict(task: SpiffTask, loaded: definitions.LoadedDefinition) -> dict[str, Any]:
    spec = task.task_spec
    props = (getattr(spec, "extensions", None) or {}).get("properties", {})
    form = props.get(definitions.FORM_PROPERTY)
    return {"element": spec.bpmn_id or spec.name, "name": spec.bpmn_name or spec.name,
            "name_zh": props.get("nameZh"), "role": _offered(task), "form": form,
            "schema": loaded.forms.get(form) if form else None, "input": _plain(task.data)}


def _plain(data: dict[str, Any]) -> dict[str, Any]:
    """Task data as JSON can carry it (the trial answers what the form would be pre-filled with)."""
    plain: dict[str, Any] = json.loads(to_json(data))
    return plain


def _run(wf: BpmnWorkflow, where: str, field: str = "steps") -> list[dict[str, Any]]:
    """Engine steps until the draft waits; the timers that fired."""
    try:
        return timers.run_steps(wf)
    except (SpiffWorkflowException, ScriptBudgetError) as exc:
        raise InvalidInput(f"the draft failed {where}: {exc}", fields={field: str(exc)}) from None


def _wait(wf: BpmnWorkflow, wait: Callable[[str], None] | None, limit: str, number: int) -> list[dict[str, Any]]:
    """Let time pass; the timers then due fire. Returns them."""
    if wait is None:
        raise InvalidInput(f"step {number}: time cannot pass here", fields={f"steps.{number}": "no wait"})
    try:
        wait(limit)
    except ValueError as exc:
        raise InvalidInput(f"step {number}: {exc}", fields={f"steps.{number}": str(exc)}) from None
    return _run(wf, f"after step {number}", f"steps.{number}")


def run(actor: Actor, sources: dict[str, bytes], lane_map: dict[str, str] | None, start: dict[str, Any] | None,
        steps: list[dict[str, Any]], script_engine: PythonScriptEngine, key: str | None = None,
        case_data: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        wait: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Start the draft with ``start`` (checked by its start form) and replay ``steps``
    (``{"task": element id, "as": role, "data": {...}}``, or ``{"wait": limit}``: ``wait``
    moves the trial's clock on, and the timers then due fire); answer where it stands: the open
    tasks with their roles and forms, what was done, each element's state and count (as an
    instance's diagram is marked), and the process data. A step that names a task not open,
    a role the task is not offered to, or data its form refuses is a 400 naming the step.
    A case process's start data is a report, made into its case's data by ``case_data``."""
    policy.check_designer(actor)
    if len(steps) > MAX_STEPS:
        raise InvalidInput(f"at most {MAX_STEPS} steps", fields={"steps": f"at most {MAX_STEPS}"})
    compiled = _pick(definitions.compile_sources(sources, lane_map), key)
    loaded = definitions.restore(0, compiled.key, 0, compiled.spec_json, compiled.forms, compiled.properties)
    data = forms.validate(loaded.start_form, start or {})
    if loaded.is_case_process and case_data is not None:
        data = case_data(data)
    wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=script_engine)
    wf.task_tree.data.update(data)
    _run(wf, "at its start")
    done: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for number, step in enumerate(steps, 1):
        field = f"steps.{number}"
        if step.get("wait"):
            fired = _wait(wf, wait, step["wait"], number)
            counts.update(f["element"] for f in fired)
            done.append({"wait": step["wait"], "fired": [f["element"] for f in fired]})
            continue
        ready = _ready(wf)
        task = next((t for t in ready if (t.task_spec.bpmn_id or t.task_spec.name) == step["task"]), None)
        if task is None:
            raise InvalidInput(f"step {number}: task '{step['task']}' is not open",
                               fields={field: "open now: " + (", ".join(t.task_spec.bpmn_id for t in ready) or "none")})
        offered = _offered(task)
        if offered is not None and step["as"] != offered:
            raise InvalidInput(f"step {number}: task '{step['task']}' is offered to '{offered}', not '{step['as']}'",
                               fields={field: f"act as '{offered}'"})
        row = _task_dict(task, loaded)
        submitted = forms.validate(row["schema"], step.get("data") or {})
        task.data.update(submitted)
        try:
            task.run()
        except (SpiffWorkflowException, ScriptBudgetError) as exc:
            raise InvalidInput(f"step {number}: the draft failed after '{row['name']}': {exc}",
                               fields={field: str(exc)}) from None
        counts[row["element"]] += 1
        done.append({"element": row["element"], "name": row["name"], "as": step["as"], "data": submitted})
        _run(wf, f"after step {number}")
    open_tasks = [_task_dict(t, loaded) for t in _ready(wf)]
    elements: dict[str, dict[str, Any]] = {e: {"state": "completed", "count": n} for e, n in counts.items()}
    for t in open_tasks:
        entry = elements.setdefault(t["element"], {"state": "active", "count": 0})
        entry["state"], entry["count"] = "active", entry["count"] + 1
    waiting = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.WAITING)
               if getattr(t.task_spec, "event_definition", None) is not None and t.task_spec.bpmn_id]
    return {"key": loaded.key, "status": "completed" if wf.is_completed() else "running",
            "tasks": open_tasks, "done": done, "waiting": sorted(set(waiting)),
            "roles": sorted(set(compiled.lanes.values())), "elements": elements,
            "data": _plain(process_data(wf, _ready(wf)))}
