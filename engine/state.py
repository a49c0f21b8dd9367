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
from uuid import UUID

from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.specs.Join import Join
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import TaskState

STATE_FORMAT = "gridloop-1"
_DONE = TaskState.COMPLETED | TaskState.CANCELLED


class _StateConverter(BpmnWorkflowConverter):
    """Like SpiffWorkflow's converter, but the spec is left out and supplied on restore."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct, spec=None, subprocess_specs=None):
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
    return BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(config))


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
    ser = _serializer()
    ser.registry._encoder_mode = True
    try:
        dct = ser.to_dict(workflow)
        dct["format"] = STATE_FORMAT
        return json.dumps(dct, cls=ser._encoder_cls, separators=(",", ":"))
    finally:
        ser.registry._encoder_mode = False


def load_state(text: str, spec, subprocess_specs, script_engine) -> BpmnWorkflow:
    dct = json.loads(text)
    dct.pop("format", None)
    workflow = _serializer().registry.restore(dct, spec=spec, subprocess_specs=subprocess_specs)
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


def _compact_tree(wf) -> int:
    unfinished = [t for t in wf.tasks.values() if not t.state & _DONE]
    if not unfinished:
        return 0
    root = _new_root(unfinished)
    before = len(wf.tasks)
    if root is not wf.task_tree:
        root._parent = None
        wf.task_tree = root
    _prune_finished_branches(root)
    keep = {}
    stack = [root]
    while stack:  # pre-order, so a parent is always restored before its children
        task = stack.pop()
        keep[task.id] = task
        stack.extend(reversed(task.children))
    wf.tasks = keep
    if wf.last_task is not None and wf.last_task.id not in keep:
        wf.last_task = root
    return before - len(keep)


def _new_root(unfinished):
    """The deepest finished task above (or at) the common ancestor of all unfinished tasks."""
    common = None
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
    for node in reversed(common):
        if node.state & _DONE:
            return node
    return common[0]


def _prune_finished_branches(root) -> None:
    """Under unfinished tasks, remove child subtrees that are entirely finished (e.g. the
    branches a repeating timer has already run) and waiting duplicates of one join (a cycle
    timer adds one per pass; when the join fires it keeps one and cancels the rest anyway).
    Loop and multi-instance parents keep their children."""
    stack = [root]
    while stack:
        task = stack.pop()
        if not task.state & _DONE and not isinstance(task.task_spec, LoopTask):
            kept, joins = [], set()
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


def _all_done(task) -> bool:
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
