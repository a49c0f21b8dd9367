"""Workflow state: serialized without the spec, and compacted so it never grows with history.

SpiffWorkflow embeds the whole spec in every serialization and keeps every completed task
in an ever-deeper tree (a loop nests one level per pass, and its task iterator stops at
depth 1000). Gridloop stores the spec once per definition version, and before each save
cuts the finished past off the tree: what users need of it is already in the task and
event tables.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from datetime import date, timedelta, timezone
from itertools import pairwise
from typing import Any
from uuid import UUID
from weakref import WeakKeyDictionary

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.control import BoundaryEventJoin, StartEventJoin
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState
from SpiffWorkflow.util.deep_merge import DeepMerge

from . import jsontext
from .errors import ProcessError

STATE_FORMAT = "gridloop-1"
_DONE = TaskState.COMPLETED | TaskState.CANCELLED
# Joins that look at their split's children only: while one is unfinished its split is at or
# below the kept root (the split's other children are unfinished too), and once finished
# nothing counts them.
_LOCAL_JOINS = (BoundaryEventJoin, StartEventJoin)


class _StateConverter(BpmnWorkflowConverter):  # type: ignore[misc]  # SpiffWorkflow ships no types
    """Like SpiffWorkflow's converter, but the spec is left out and supplied on restore."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: BpmnProcessSpec | None = None,
                  subprocess_specs: dict[str, BpmnProcessSpec] | None = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_serializer() -> BpmnWorkflowSerializer:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = _StateConverter
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))
    # The date and time values scripts may put into task data (engine/scripting.py); Spiff's
    # own timedelta conversion drops microseconds.
    registry = serializer.registry
    registry.register(timedelta, lambda v: {"days": v.days, "seconds": v.seconds, "microseconds": v.microseconds},
                      lambda v: timedelta(**v))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(timezone, lambda v: {"offset": registry.convert(v.utcoffset(None)), "name": v.tzname(None)},
                      lambda v: timezone(registry.restore(v["offset"]), v["name"]))
    return serializer


# Used for specs (stateless conversions); instance state uses one serializer per thread
# because SpiffWorkflow's registry keeps a mode flag while encoding.
SERIALIZER = _make_serializer()
_local = threading.local()


def _serializer() -> BpmnWorkflowSerializer:
    ser = getattr(_local, "serializer", None)
    if ser is None:
        ser = _local.serializer = _make_serializer()
    return ser


def dump_state(workflow: BpmnWorkflow) -> str:
    """The state as JSON; ProcessError if a script left a value JSON cannot hold (``range(3)``)."""
    ser = _serializer()
    ser.registry._encoder_mode = True
    try:
        dct = ser.to_dict(workflow)
        dct["format"] = STATE_FORMAT
        try:
            return jsontext.dumps(dct, ser._encoder_cls().default)
        except (TypeError, ValueError) as exc:
            raise ProcessError(_unstorable(workflow, ser) or f"the process data cannot be stored: {exc}") from None
    finally:
        ser.registry._encoder_mode = False


def _unstorable(workflow: BpmnWorkflow, ser: BpmnWorkflowSerializer) -> str | None:
    """Which element last left which variable that cannot be stored, said for the designer."""
    for task in sorted(workflow.get_tasks(), key=lambda t: t.last_state_change):  # the first to hold it
        for name, value in task.data.items():
            try:
                json.dumps(ser.registry.convert(value), cls=ser._encoder_cls)
            except (TypeError, ValueError):
                return (f"element '{task.task_spec.bpmn_id or task.task_spec.name}' left '{name}' as a "
                        f"{type(value).__name__}, which cannot be stored: process data holds JSON values only")
    return None


def load_state(text: str, spec: BpmnProcessSpec, subprocess_specs: dict[str, BpmnProcessSpec],
               script_engine: PythonScriptEngine) -> BpmnWorkflow:
    dct = json.loads(text)
    dct.pop("format", None)
    workflow: BpmnWorkflow = _serializer().registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
    workflow.script_engine = script_engine
    return workflow


def compact(workflow: BpmnWorkflow) -> int:
    """Drop finished history from the top workflow and its subprocesses; return tasks dropped."""
    dropped = 0
    for wf in [workflow, *workflow.subprocesses.values()]:
        dropped += _compact_tree(wf)
    live = {tid for wf in [workflow, *workflow.subprocesses.values()] for tid in wf.tasks}
    for sp_id in [k for k in workflow.subprocesses if k not in live]:
        dropped += len(workflow.subprocesses[sp_id].tasks)
        del workflow.subprocesses[sp_id]
    return dropped


def _compact_tree(wf: BpmnWorkflow) -> int:
    """Keep the unfinished tasks and what SpiffWorkflow may still consult about the past:

    * the tree below the deepest finished task above all unfinished ones (boundary event and
      event start splits look at their children there);
    * above it, only the nearest ancestor of each join, join input and split spec, in their
      order: joins ask "which is my nearest ancestor of spec X" (a parallel merge in a loop
      fires once each of its inputs is found above it), and those answers do not change;
    * of the finished branches cut away, the newest join task per (join, input, states) with
      its input task: parallel and inclusive merges count such finished tokens of sibling
      branches, and a merge takes over their inputs' data.

    All of it is bounded by the process's size, not by how long it has run."""
    unfinished = [t for t in wf.tasks.values() if not t.state & _DONE]
    if not unfinished:
        return 0
    before = len(wf.tasks)
    root = _new_root(unfinished)
    _prune_finished_branches(root)
    kept = _subtree(root)
    chain = _nearest_ancestors(root)
    evidence = _join_evidence(wf, root, kept)
    kept.update((t.id, t) for t in chain)
    rescued = {t.id: t for pair in evidence for t in pair if t.id not in kept}
    for upper, lower in pairwise([*chain, root]):
        upper._children = [lower.id]
        lower._parent = upper.id
    top = chain[0] if chain else root
    top._parent = None
    for task in rescued.values():
        task._children = [c for c in task._children if c in rescued]
        if task._parent in kept:
            if task.id not in kept[task._parent]._children:
                kept[task._parent]._children.append(task.id)
        elif task._parent not in rescued and top.task_spec is wf.spec.start:
            # Under the workflow's start task only: under another it would pass for a child
            # that task's spec looks at (a boundary event split's main task).
            task._parent = top.id
            top._children.append(task.id)
    wf.task_tree = top
    # Pre-order: the chain (each the parent of the next), then the subtree of its last, ``root``.
    wf.tasks = _subtree(top) if rescued else {**{t.id: t for t in chain}, **kept}
    if wf.last_task is not None and wf.last_task.id not in wf.tasks:
        wf.last_task = root
    return before - len(wf.tasks)


def _subtree(top: SpiffTask) -> dict[UUID, SpiffTask]:
    """The tasks under ``top`` by id, in pre-order: a parent is restored before its children."""
    tasks: dict[UUID, SpiffTask] = {}
    stack = [top]
    while stack:
        task = stack.pop()
        tasks[task.id] = task
        stack.extend(reversed(task.children))
    return tasks


def _nearest_ancestors(root: SpiffTask) -> list[SpiffTask]:
    """The ancestors of ``root`` a join may look for, top first: the workflow's start task and
    the nearest one of each spec that is a join, a join's input or a structured join's split
    (boundary and start event joins need none), and a kept join's input."""
    relevant = _join_relevant(root.workflow.spec)
    chain: list[SpiffTask] = []
    seen: set[str] = set()
    below = root
    node = root.parent
    while node is not None:
        name = node.task_spec.name
        below_is_kept_join = bool(chain) and chain[-1] is below and isinstance(below.task_spec, Join)
        if (name in relevant and name not in seen) or below_is_kept_join:
            seen.add(name)
            chain.append(node)
        below, node = node, node.parent
    chain.reverse()
    return chain


_RELEVANT: WeakKeyDictionary[BpmnProcessSpec, frozenset[str]] = WeakKeyDictionary()


def _join_relevant(spec: BpmnProcessSpec) -> frozenset[str]:
    """The spec names of :func:`_nearest_ancestors`, once per process spec (specs never change)."""
    names = _RELEVANT.get(spec)
    if names is None:
        found = {spec.start.name}  # where cut-off evidence hangs
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, Join) and not isinstance(task_spec, _LOCAL_JOINS):
                found.update([task_spec.name, task_spec.split_task, *(s.name for s in task_spec.inputs)])
        names = _RELEVANT[spec] = frozenset(found)
    return names


def _join_evidence(wf: BpmnWorkflow, root: SpiffTask, kept: dict[UUID, SpiffTask]
                   ) -> list[tuple[SpiffTask, SpiffTask]]:
    """(input task, join task) of finished join tasks cut away from sibling branches (not from
    above ``root``: joins ignore their ancestors; not of boundary or start event joins, whose
    finished tasks nothing counts), one of each kind. A merge takes over the
    inputs' data of all of them, oldest first, so the newest input task of a kind gets the
    data of the older ones merged under its own (unless it stays in the tree anyway)."""
    found = [t for t in wf.tasks.values() if isinstance(t.task_spec, Join) and t.state & _DONE
             and not isinstance(t.task_spec, _LOCAL_JOINS) and t.id not in kept and t.parent is not None]
    if not found:
        return []
    above: set[UUID] = set()
    node = root.parent
    while node is not None:
        above.add(node.id)
        node = node.parent
    found = [t for t in found if t.id not in above]
    kinds: dict[tuple[str, str, int, int], list[SpiffTask]] = {}
    for task in sorted(found, key=lambda t: t.last_state_change):
        kinds.setdefault((task.task_spec.name, task.parent.task_spec.name, task.parent.state, task.state),
                         []).append(task)
    evidence: list[tuple[SpiffTask, SpiffTask]] = []
    for joins in kinds.values():
        newest = joins[-1]
        if len(joins) > 1 and newest.parent.id not in kept and newest.parent.id not in above:
            merged: dict[str, Any] = {}
            for join in joins:
                DeepMerge.merge(merged, join.parent.data)
            newest.parent.data = merged
        evidence.append((newest.parent, newest))
    return evidence


def _new_root(unfinished: list[SpiffTask]) -> SpiffTask:
    """The deepest finished task above (or at) the common ancestor of all unfinished tasks."""
    common: list[SpiffTask] | None = None
    for task in unfinished:
        chain = []
        node = task
        while node is not None:
            chain.append(node)
            node = node.parent
        chain.reverse()
        if common is None:
            common = chain
        else:
            n = 0
            while n < len(common) and n < len(chain) and common[n] is chain[n]:
                n += 1
            common = common[:n]
    assert common is not None  # the compacted workflow has unfinished tasks
    for node in reversed(common):
        if node.state & _DONE:
            return node
    return common[0]


def _prune_finished_branches(root: SpiffTask) -> None:
    """Under unfinished tasks, remove child subtrees that are entirely finished (e.g. the
    branches a repeating timer has already run) and waiting duplicates of one join (a cycle
    timer adds one per pass; when the join fires it keeps one and cancels the rest anyway).
    Loop and multi-instance parents keep their children."""
    stack = [root]
    while stack:
        task = stack.pop()
        if not task.state & _DONE and not isinstance(task.task_spec, LoopTask):
            kept: list[SpiffTask] = []
            joins: set[str] = set()
            for child in task.children:
                if _all_done(child):
                    continue
                if isinstance(child.task_spec, Join) and child.state == TaskState.WAITING and not child._children:
                    if child.task_spec.name in joins:
                        continue
                    joins.add(child.task_spec.name)
                kept.append(child)
            if len(kept) != len(task._children):
                task._children = [c.id for c in kept]
        stack.extend(task.children)


def _all_done(task: SpiffTask) -> bool:
    stack = [task]
    while stack:
        node = stack.pop()
        if not node.state & _DONE:
            return False
        stack.extend(node.children)
    return True


class WorkflowCache:
    """Live workflows of recently used instances, each valid only at the revision it was saved
    with. A command that finds the row (read under its lock) at that revision skips the
    deserialization; any other revision, or a failed command, falls back to the stored state."""

    def __init__(self, size: int = 2000):
        self._items: OrderedDict[int, tuple[int, BpmnWorkflow]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, instance_id: int, revision: int) -> BpmnWorkflow | None:
        """Remove and return the workflow if it is current; the caller owns it from now on."""
        with self._lock:
            item = self._items.pop(instance_id, None)
        return item[1] if item is not None and item[0] == revision else None

    def put(self, instance_id: int, revision: int, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[instance_id] = (revision, workflow)
            self._items.move_to_end(instance_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
