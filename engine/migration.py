"""Moving running instances from one version of a process to another.

An instance can move when every element its stored state still refers to (the active ones
and the few finished ones compaction keeps; not those merely expected to come, which are
predicted anew from the target's flows) exists in the target version, in the process or
called process of the same id. A dry run answers that per instance from the stored state's
JSON (no workflow is restored, nothing is written); a move is one transaction per instance:
lock it, check again, restore it onto the target version's spec, run it until it waits, store
it and its read model, and record ``instance_migrated`` in its history.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import TaskState

from . import org, policy, records
from .definitions import definition_id
from .errors import Conflict, InvalidInput, NotFound
from .model import ProcessInstance, Task
from .state import load_state

if TYPE_CHECKING:
    from .definitions import LoadedDefinition
    from .command import Engine

MAX_INSTANCES = 1000  # per request; a larger move is done in several


@dataclass(frozen=True)
class InstanceMove:
    """One instance's answer: whether it can move (a dry run) or moved, and why not."""

    id: int
    ok: bool
    reason: str | None = None


_NOT_YET = TaskState.PREDICTED_MASK | TaskState.FUTURE


def _unpredicted(state_json: str) -> dict[str, Any]:
    """The stored state without the tasks SpiffWorkflow merely expects to come (FUTURE and
    predicted): those follow the old version's flows, and are predicted anew on the target."""
    state: dict[str, Any] = json.loads(state_json)
    for tree in (state, *state.get("subprocesses", {}).values()):
        gone = {i for i, t in tree["tasks"].items() if t["state"] & _NOT_YET}
        tree["tasks"] = {i: t for i, t in tree["tasks"].items() if i not in gone}
        for task in tree["tasks"].values():
            task["children"] = [c for c in task["children"] if c not in gone]
    return state


def _predict(wf: BpmnWorkflow) -> None:
    for w in (wf, *wf.subprocesses.values()):
        for task in list(w.tasks.values()):
            if task.state & (TaskState.READY | TaskState.WAITING | TaskState.STARTED):
                task.task_spec._predict(task, mask=TaskState.PREDICTED_MASK | TaskState.DEFINITE_MASK)


def blocker(state: dict[str, Any], target: LoadedDefinition) -> str | None:
    """Why an instance with this (unpredicted) stored state cannot run on ``target``."""
    names = set(target.spec.task_specs)
    for task in state["tasks"].values():
        if task["task_spec"] not in names:
            return f"element '{task['task_spec']}' does not exist in version {target.version}"
    for sub in state.get("subprocesses", {}).values():
        spec = target.subprocess_specs.get(sub.get("spec"))
        if spec is None:
            return f"called process '{sub.get('spec')}' does not exist in version {target.version}"
        for task in sub["tasks"].values():
            if task["task_spec"] not in spec.task_specs:
                return (f"element '{task['task_spec']}' of '{sub.get('spec')}' "
                        f"does not exist in version {target.version}")
    return None


def _targets(rt: Engine, s: Session, key: str, from_version: int, to_version: int
             ) -> tuple[int, LoadedDefinition]:
    source_id, target_id = definition_id(s, key, from_version), definition_id(s, key, to_version)
    if source_id is None or target_id is None:
        missing = from_version if source_id is None else to_version
        raise NotFound(f"process '{key}' version {missing} not deployed")
    if source_id == target_id:
        raise InvalidInput("from and to are the same version", fields={"to_version": "another version"})
    return source_id, rt.specs.get(s, target_id)


def migrate(rt: Engine, actor: org.Actor | int, key: str, from_version: int, to_version: int,
            instances: list[int] | None = None, dry_run: bool = True) -> list[InstanceMove]:
    """Per instance, in id order (then those asked for that are not running on ``from_version``):
    whether it can move (dry run) or moved."""
    if instances is not None and len(instances) > MAX_INSTANCES:
        raise InvalidInput("too many instances", fields={"instances": f"at most {MAX_INSTANCES}"})
    with rt.db.reading() as s:
        who = org.actor(s, actor)
        policy.check_designer(who)
        source_id, target = _targets(rt, s, key, from_version, to_version)
        query = select(ProcessInstance.id).where(ProcessInstance.definition_id == source_id,
                                                 ProcessInstance.status == "running")
        if instances is not None:
            query = query.where(ProcessInstance.id.in_(instances))
        ids = list(s.scalars(query.order_by(ProcessInstance.id).limit(MAX_INSTANCES)))
        if dry_run:
            return [InstanceMove(i, (reason := blocker(_unpredicted(records.state_of(s, i)), target)) is None, reason)
                    for i in ids] + _not_there(instances, ids, key, from_version)
    results = [_move(rt, who.id, i, source_id, target, from_version) for i in ids]
    return results + _not_there(instances, ids, key, from_version)


def _not_there(asked: list[int] | None, found: list[int], key: str, version: int) -> list[InstanceMove]:
    return [InstanceMove(i, False, f"not a running instance of {key} version {version}")
            for i in sorted(set(asked or []) - set(found))]


def _move(rt: Engine, user_id: int, instance_id: int, source_id: int, target: LoadedDefinition,
          from_version: int) -> InstanceMove:
    try:
        with rt.command() as cmd:
            s = cmd.session
            inst = cmd.lock(instance_id)
            if inst.definition_id != source_id:
                raise Conflict("it moved to another version meanwhile")
            state = _unpredicted(records.state_of(s, instance_id))
            reason = blocker(state, target)
            if reason is not None:
                return InstanceMove(instance_id, False, reason)
            wf = load_state(json.dumps(state), target.spec, target.subprocess_specs, rt.script_engine)
            _predict(wf)
            rt.workflows.take(instance_id, inst.revision)  # the cached one runs on the old spec
            s.execute(update(ProcessInstance).where(ProcessInstance.id == instance_id)
                      .values(definition_id=target.id))
            inst.definition_id = target.id
            _rename_open_tasks(s, instance_id, target)
            cmd.event("instance_migrated", inst, inst.case_id, None, user_id,
                      {"from_version": from_version, "to_version": target.version})
            cmd.advance(inst, target, wf, user_id)
            return InstanceMove(instance_id, True)
    except Conflict as exc:
        return InstanceMove(instance_id, False, exc.message)


def _rename_open_tasks(s: Session, instance_id: int, target: LoadedDefinition) -> None:
    """Open task rows show the target version's task names."""
    specs = [target.spec, *target.subprocess_specs.values()]
    for task_id, element in s.execute(select(Task.id, Task.element_id).where(
            Task.instance_id == instance_id, Task.status.in_(("open", "claimed")))).all():
        spec = next((sp.task_specs[element] for sp in specs if element in sp.task_specs), None)
        if spec is not None and spec.bpmn_name:
            s.execute(update(Task).where(Task.id == task_id).values(name=spec.bpmn_name))
