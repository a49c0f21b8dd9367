"""Messages and signals: sent through the API, or thrown by one instance to others.

A message reaches the waiting instances it correlates with, in one of two ways that can be
combined (docs/modelling.md):

* by **variables**: the sender names task-data values (``{"order_no": "A-1"}``) that the
  waiting task's data must hold;
* by **BPMN correlation**: the message's ``correlationProperty`` retrieval expressions
  (``messagePath`` / ``formalExpression``) compute correlation key values from the payload,
  and a waiting instance whose process holds values for one of those keys takes only a
  message with the same values (SpiffWorkflow's rule; a process without values yet takes
  any). The values an instance waits with are stored in ``message_wait.correlation`` under
  ``@keys`` (or ``@any``), so the database finds the candidates; the restored workflow
  decides.

A message nobody waits for starts the deployed processes whose start event catches it. A
message thrown by an instance goes to one instance (the one waiting longest among those it
correlates with) or starts processes; a signal goes to every instance waiting for it. Both
happen in the thrower's transaction, after its steps, and are recorded on both sides.

Who may send: the roles in the catching element's ``senders`` property (designers when it
has none); the engine itself (a throw) always may.
"""
from __future__ import annotations

import json
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Iterable

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty, MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.task import TaskState

from . import definitions, inputs, org, policy, readmodel, records
from .errors import Conflict, Forbidden, InvalidInput, NotFound, ProcessError
from .model import MessageWait, ProcessDefinition

if TYPE_CHECKING:
    from .command import Command, Engine

# Deliveries one command may make: messages bouncing between instances forever are a model error.
MAX_DELIVERIES = 200


class Delivered(list[int]):
    """The ids of the instances a message or signal reached, in id order; ``started`` are
    those it started."""

    def __init__(self, reached: Iterable[int] = (), started: Iterable[int] = ()) -> None:
        super().__init__(reached)
        self.started = list(started)


def send(rt: Engine, actor: org.Actor | int | None, kind: str, name: str, correlation: dict[str, Any],
         payload: dict[str, Any], instance_id: int | None = None) -> Delivered:
    """A sender's message or signal (``actor``: the acting user, or None for the engine itself)."""
    if not isinstance(correlation, dict) or not isinstance(payload, dict):
        raise InvalidInput("correlation and payload must be JSON objects")
    inputs.check_text("name", name)
    inputs.check_json(correlation, "correlation")
    inputs.check_json(payload, "payload")
    bad_keys = [k for k in correlation if not k.isidentifier()]
    if bad_keys:
        raise InvalidInput(f"correlation keys are process variable names, not {bad_keys}",
                           fields={"correlation": "keys must be variable names"})
    with rt.command() as cmd:
        s = cmd.session
        who = org.acting(s, actor)
        catchers = _catchers(cmd, kind, name)
        if catchers and not any(policy.may_send(who, c.senders) for _loaded, c in catchers):
            raise Forbidden(f"you may not send {kind} '{name}'")
        pairs = _key_candidates(rt.script_engine, catchers, payload) if kind == "message" else []
        uncorrelated = kind == "message" and not correlation and not pairs and instance_id is None
        reached: list[int] = []
        if not uncorrelated:
            query = select(MessageWait.instance_id, MessageWait.correlation).where(
                MessageWait.name == name, MessageWait.kind == kind, *readmodel.correlated(s, correlation))
            if kind == "message":
                query = query.where(*readmodel.keyed(s, pairs))
            if instance_id is not None:
                query = query.where(MessageWait.instance_id == instance_id)
            targets = sorted({iid for iid, values in s.execute(query)  # the database narrowed; Python decides
                              if readmodel.matches(values, correlation)})
            reached = [iid for iid in targets
                       if _offer(cmd, iid, kind, name, payload, None, correlation, who, _id_of(who))]
        started: list[int] = []
        if kind == "message" and not reached and instance_id is None:
            started = _start(cmd, name, payload, None, who, _id_of(who))
            if not started and uncorrelated:
                raise InvalidInput(f"message '{name}' starts no process: say which instances it is for with a "
                                   "correlation (or a payload carrying its correlation properties)",
                                   fields={"correlation": "must name at least one variable"})
        if not reached and not started:
            raise NotFound(f"no process instance is waiting for {kind} '{name}'"
                           + (f" with {correlation}" if correlation else "")
                           + (f" (instance {instance_id})" if instance_id is not None else ""))
        return Delivered(reached + started, started)


def _id_of(actor: org.Actor | None) -> int | None:
    return actor.id if actor is not None else None


def dispatch(cmd: Command) -> None:
    """Deliver what the command's instances threw and did not catch themselves (a message
    to one instance, or a start; a signal to all), then what those threw in turn."""
    s, thrown, done = cmd.session, cmd.thrown, 0
    while thrown:
        inst, actor_id, event = thrown.pop(0)
        definition = event.event_definition
        kind = "message" if isinstance(definition, MessageEventDefinition) else \
            "signal" if isinstance(definition, SignalEventDefinition) else None
        if kind is None:
            continue  # an error or escalation nobody caught: the process already went on
        done += 1
        if done > MAX_DELIVERIES:
            raise ProcessError(f"more than {MAX_DELIVERIES} messages and signals in one command: "
                               "do the processes keep answering each other?")
        payload, values = event.payload, dict(event.correlations or {})
        query = select(MessageWait.instance_id).where(
            MessageWait.name == definition.name, MessageWait.kind == kind, MessageWait.instance_id != inst.id)
        if kind == "message":
            query = query.where(*readmodel.keyed(s, list(values.items())))
        reached: list[int] = []
        started: list[int] = []
        for iid in sorted(set(s.scalars(query))):
            if _offer(cmd, iid, kind, definition.name, payload, values, {}, None, actor_id, source=inst.id):
                reached.append(iid)
                if kind == "message":
                    break  # a message has one recipient
        if kind == "message" and not reached:
            started = _start(cmd, definition.name, payload, values, None, actor_id, source=inst.id)
        cmd.event(f"{kind}_sent", inst, inst.case_id, None, actor_id,
                  {"name": definition.name, "correlation": _plain(values), "payload": _plain(payload),
                   "to": reached, "started": started})


def _offer(cmd: Command, instance_id: int, kind: str, name: str, payload: Any, values: dict[str, Any] | None,
           correlation: dict[str, Any], actor: org.Actor | None, actor_id: int | None,
           source: int | None = None) -> bool:
    """Deliver to one instance if it (still) waits for this with matching correlation.
    ``values`` are the message's BPMN correlation values (None: computed from the payload by
    the catching element's own retrieval expressions)."""
    target = _take(cmd, instance_id)
    if target is None:
        return False
    inst, loaded, wf = target
    cmd.catch_up(inst, loaded, wf)  # a time limit that came first wins
    catching: list[tuple[SpiffTask, EventDefinition, BpmnEvent]] = []
    for task in list(wf.event_manager.tasks.values()):
        if task.state != TaskState.WAITING or not readmodel.matches(readmodel.task_values(task), correlation):
            continue
        for d in definitions.leaf_events(task.task_spec.event_definition):
            wanted = MessageEventDefinition if kind == "message" else SignalEventDefinition
            if d.name != name or not isinstance(d, wanted):
                continue
            keys = values if values is not None or kind != "message" else \
                correlations_from(cmd.engine.script_engine, d.correlation_properties, payload)
            event = BpmnEvent(d, payload=payload, correlations=keys)
            if task.task_spec.catches(task, event):
                catching.append((task, d, event))
                break
    if not catching:
        return False
    if not all(policy.may_send(actor, definitions.senders_of(task.task_spec, d)) for task, d, _event in catching):
        raise Forbidden(f"you may not send {kind} '{name}' to process instance {instance_id}")
    event = catching[0][2]
    event.payload = deepcopy(payload)  # the receiver's own copy (a thrower's payload is its data)
    try:
        if kind == "message":
            wf.send_event(event)
        else:
            wf.catch(event)
    except SpiffWorkflowException as exc:
        raise ProcessError(f"instance {instance_id} could not take {kind} '{name}': {exc}") from None
    received = {"name": name, "correlation": correlation, "payload": _plain(payload)}
    if event.correlations:
        received["keys"] = _plain(event.correlations)
    if source is not None:
        received["from"] = source
    cmd.event(f"{kind}_received", inst, inst.case_id, None, actor_id, received)
    cmd.advance(inst, loaded, wf, actor_id)
    return True


def _take(cmd: Command, instance_id: int
          ) -> tuple[records.Instance, definitions.LoadedDefinition, BpmnWorkflow] | None:
    """The instance locked with its live workflow: the command's own if it already acted on
    it, else locked now (None if it is no longer running)."""
    live = cmd.saved.get(instance_id)
    if live is not None:
        inst, wf = live
        return inst, cmd.loaded(inst), wf
    try:
        locked = records.lock_instance(cmd.session, instance_id)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "40P01":  # two throwers waited for each other
            raise Conflict("instances sending each other messages collided; retry") from None
        raise
    if locked is None or locked.status != "running":
        return None
    cmd.locked(locked)
    loaded = cmd.loaded(locked)
    return locked, loaded, cmd.restore(locked, loaded)


def _start(cmd: Command, name: str, payload: Any, values: dict[str, Any] | None, actor: org.Actor | None,
           actor_id: int | None, source: int | None = None) -> list[int]:
    """Start each deployed process (newest version) whose start event catches message ``name``."""
    s = cmd.session
    newest = s.scalars(select(func.max(ProcessDefinition.id)).group_by(ProcessDefinition.key)).all()
    started: list[int] = []
    for definition_id in sorted(newest):
        loaded = cmd.engine.specs.get(s, definition_id)
        starts = [c for c in loaded.catchers.get(("message", name), []) if c.starts]
        if not starts or loaded.is_case_process:
            continue
        if not all(policy.may_send(actor, c.senders) for c in starts):
            raise Forbidden(f"you may not start '{loaded.key}' with message '{name}'")
        inst = cmd.start(loaded, actor_id, {})
        if not _offer(cmd, inst.id, "message", name, payload, values, {}, actor, actor_id, source):
            raise ProcessError(f"'{loaded.key}' did not start with message '{name}'")
        started.append(inst.id)
    return started


def _catchers(cmd: Command, kind: str, name: str) -> list[tuple[definitions.LoadedDefinition, definitions.Catcher]]:
    """Every element of any deployed version that catches this message or signal."""
    s, specs = cmd.session, cmd.engine.specs
    ids = s.scalars(select(ProcessDefinition.id).order_by(ProcessDefinition.id)).all()
    return [(loaded, c) for loaded in (specs.get(s, i) for i in ids) for c in loaded.catchers.get((kind, name), [])]


def _key_candidates(script_engine: PythonScriptEngine,
                    catchers: list[tuple[definitions.LoadedDefinition, definitions.Catcher]],
                    payload: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The correlation key values each catching element's retrieval expressions find in the
    payload: the candidates the database looks for (each instance is then checked with its own)."""
    pairs: list[tuple[str, dict[str, Any]]] = []
    for _loaded, c in catchers:
        for pair in correlations_from(script_engine, c.correlation_properties, payload).items():
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def correlations_from(script_engine: PythonScriptEngine, properties: Iterable[CorrelationProperty], payload: Any
                      ) -> dict[str, dict[str, Any]]:
    """Correlation key -> {property: value}, as SpiffWorkflow computes them, with the engine's
    restricted evaluator; a property the payload does not carry is left out."""
    found: dict[str, dict[str, Any]] = {}
    if not isinstance(payload, dict):
        return found
    for prop in properties:
        try:
            value = script_engine.environment.evaluate(prop.retrieval_expression, dict(payload))
        except Exception:  # noqa: BLE001 - any failure means: this payload does not carry it
            continue
        for key in prop.correlation_keys:
            found.setdefault(key, {})[prop.name] = value
    return found


def _plain(value: Any) -> Any:
    """A payload as history can store it (JSON; anything else as text)."""
    return json.loads(json.dumps(value, default=str))
