"""Parse, check, version and cache process definitions (BPMN + DMN + JSON Schema forms).

Everything a designer can get wrong is caught here, at deploy time, with the file, element
id and line: unsafe or malformed XML, XSD violations, structural errors, expressions and
scripts that do not compile in the restricted evaluator, missing or invalid forms.
"""
from __future__ import annotations

import ast
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime
from typing import Any, Callable, Iterable

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.base import EventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import EventBasedGateway
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.script_task import ScriptEngineTask
from SpiffWorkflow.bpmn.specs.event_definitions.message import CorrelationProperty, MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.dmn.specs.model import DecisionTable
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.specs.base import TaskSpec
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.task import Task as SpiffTask

from . import caseprojection, casestages
from .errors import DeployError, InvalidInput
from .inputs import INT32_MAX
from .org import ROLES
from .model import ProcessDefinition
from .scripting import ScriptError, check_expression, check_script
from .state import SERIALIZER

SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
FORM_PROPERTY = "formJsonSchemaFilename"
START_FORM_PROPERTY = "startFormJsonSchemaFilename"
# The questions the reporter answers on her public feedback link (a case process's form; its
# ``x-task-data`` is added to her answers before they complete the feedback task).
CITIZEN_FEEDBACK_FORM_PROPERTY = "citizenFeedbackFormJsonSchemaFilename"
EXPRESSION_PROPERTIES = ("candidateOrgUnit", "candidateDepartment", "dueIn", "priority")
SENDERS_PROPERTY = "senders"  # on a message/signal catch event: the roles that may send it (engine/messaging.py)
OVERDUE_MODES = ("always", "unclaimed", "case")  # values of a timer's marksOverdue property
LANE_MAP_PROPERTY = "laneMap"  # process property: "LANE=ROLE, ..." (lanes not named keep their name)
CALLED_BY_PROPERTY = "calledBy"  # set at deploy: the processes of its bundle that call it
# The processes engine/exceptions.py starts for a case: a request's approval, a merged case's callback.
APPROVAL_PROCESS, CALLBACK_PROCESS = "exception_approval", "merged_callback"
MAX_ROLE_LENGTH = 40  # task.role
MAX_FILE_BYTES = 5 * 1024 * 1024

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                              dtd_validation=False, huge_tree=False, remove_comments=False)


def read_sources(paths: Iterable[str]) -> dict[str, bytes]:
    """Collect ``*.bpmn``, ``*.dmn`` and ``forms/*.json`` from files and folders.

    Keys are names relative to the folder given (``closed_loop.bpmn``, ``forms/verify.json``).
    """
    sources: dict[str, bytes] = {}
    for path in paths:
        if os.path.isdir(path):
            for root, _dirs, files in os.walk(path):
                for name in sorted(files):
                    full = os.path.join(root, name)
                    rel = os.path.relpath(full, path).replace(os.sep, "/")
                    if name.endswith((".bpmn", ".dmn")) or (rel.startswith("forms/") and name.endswith(".json")):
                        sources[rel] = _read(full)
        elif os.path.isfile(path):
            name = os.path.basename(path)
            key = f"forms/{name}" if name.endswith(".json") else name
            sources[key] = _read(path)
        else:
            raise DeployError("no such file or folder", file=path)
    return sources


def _read(path: str) -> bytes:
    if os.path.getsize(path) > MAX_FILE_BYTES:
        raise DeployError(f"file is larger than {MAX_FILE_BYTES} bytes", file=path)
    with open(path, "rb") as fh:
        return fh.read()


def parse_xml(name: str, data: bytes) -> etree._ElementTree:
    """Parse untrusted XML: no DOCTYPE (so no entities, XXE or billion laughs), no network."""
    if len(data) > MAX_FILE_BYTES:
        raise DeployError(f"file is larger than {MAX_FILE_BYTES} bytes", file=name)
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DeployError(f"malformed XML: {exc.msg}", file=name, line=exc.lineno) from None
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise DeployError("DOCTYPE declarations are not allowed", file=name, line=1)
    return tree


@dataclass
class Compiled:
    """One executable process ready to deploy."""

    key: str
    name: str | None
    spec_json: str
    forms: dict[str, Any]
    properties: dict[str, str]
    sources: dict[str, str]
    content_hash: str
    lanes: dict[str, str] = field(default_factory=dict)  # its lanes' names -> the role/group they offer to


@dataclass
class _Bundle:
    sources: dict[str, bytes]
    trees: dict[str, etree._ElementTree] = field(default_factory=dict)
    lines: dict[str, dict[str, int]] = field(default_factory=dict)  # file -> element id -> line
    forms: dict[str, Any] = field(default_factory=dict)

    def line_of(self, file: str | None, element: str | None) -> int | None:
        if not element:
            return None
        if file and file in self.lines:
            return self.lines[file].get(element)
        for ids in self.lines.values():
            if element in ids:
                return ids[element]
        return None

    def file_of(self, element: str) -> str | None:
        for file, ids in self.lines.items():
            if element in ids:
                return file
        return None


def compile_sources(sources: dict[str, bytes], lane_map: dict[str, str] | None = None) -> list[Compiled]:
    """Parse and check a set of files; return one ``Compiled`` per executable process.
    ``lane_map`` (lane name -> role or group) overrides the processes' own ``laneMap``."""
    bundle = _Bundle(sources)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    for name, data in sorted(sources.items()):
        if name.endswith(".json"):
            bundle.forms[name.removeprefix("forms/")] = _load_form(name, data)
            continue
        tree = parse_xml(name, data)
        _refuse_camunda_decisions(name, tree)
        bundle.trees[name] = tree
        bundle.lines[name] = {el.get("id"): el.sourceline for el in tree.iter()
                              if isinstance(el.tag, str) and el.get("id")}
        try:
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree.getroot(), filename=name)
            else:
                parser.add_bpmn_xml(tree, filename=name)
        except ValidationException as exc:
            raise _deploy_error(bundle, exc, name) from None
    if not bundle.trees:
        raise DeployError("no BPMN or DMN files given")
    keys = parser.get_process_ids()
    callers = _callers(bundle)
    compiled = []
    for key in keys:
        try:
            spec = parser.get_spec(key)
            subprocess_specs = parser.get_subprocess_specs(key)
        except ValidationException as exc:
            raise _deploy_error(bundle, exc, None) from None
        except SpiffWorkflowException as exc:
            raise DeployError(str(exc), element=key, file=bundle.file_of(key)) from None
        specs = [spec, *subprocess_specs.values()]
        properties = _process_properties(bundle, key)
        if callers.get(key):
            properties[CALLED_BY_PROPERTY] = ",".join(sorted(callers[key]))
        forms = _check_specs(bundle, specs, properties)
        task_stages, script_stages, _feedback_forms = caseprojection.stages_of(specs)
        problems = [*caseprojection.check(properties, specs, forms),
                    *casestages.check(properties, caseprojection.CaseProjection.of(properties).case_process,
                                       task_stages, script_stages)]
        if problems:
            raise DeployError("; ".join(problems), file=spec.file, element=key, line=bundle.line_of(spec.file, key))
        properties = casestages.deployed(properties, task_stages)
        spec_dict = {"spec": SERIALIZER.registry.convert(spec),
                     "subprocess_specs": {k: SERIALIZER.registry.convert(v) for k, v in subprocess_specs.items()}}
        lanes = {}
        for converted in (spec_dict["spec"], *spec_dict["subprocess_specs"].values()):
            mapped = _map_lanes(bundle, converted, lane_map or {})
            if converted is spec_dict["spec"]:
                lanes = mapped
        if any(role != lane for lane, role in lanes.items()):
            properties[LANE_MAP_PROPERTY] = ", ".join(f"{lane}={role}" for lane, role in sorted(lanes.items())
                                                      if role != lane)
        spec_json = json.dumps(spec_dict, sort_keys=True, default=str)
        files = {spec.file, *(s.file for s in subprocess_specs.values())} | _dmn_files(bundle)
        texts = {f: sources[f].decode("utf-8") for f in sorted(files) if f in sources}
        digest = hashlib.sha256(json.dumps([spec_json, forms, properties], sort_keys=True).encode()).hexdigest()
        compiled.append(Compiled(key, spec.description, spec_json, forms, properties, texts, digest, lanes))
    # Processes only ever called by others are deployed too (and cannot be started: see
    # policy.callable_only), but the bundle must contain at least one process that is not merely a callee.
    if keys and all(k in callers for k in keys):
        raise DeployError("every process is only a called process; no top-level process to deploy")
    return compiled


CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"


def _refuse_camunda_decisions(name: str, tree: etree._ElementTree) -> None:
    """Camunda's ``camunda:decisionRef`` is another dialect: SpiffWorkflow's parser would fail
    later with "No DMN Diagram available with id None"; say what to write instead."""
    for task in tree.iter(f"{{{BPMN_NS}}}businessRuleTask"):
        if task.get(f"{{{CAMUNDA_NS}}}decisionRef") and task.find(f".//{{{SPIFF_NS}}}calledDecisionId") is None:
            raise DeployError("camunda:decisionRef is not supported: name the decision with "
                              "<spiffworkflow:calledDecisionId> in the task's extensionElements",
                              file=name, element=task.get("id"), line=task.sourceline)


def _load_form(name: str, data: bytes) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DeployError(f"form is not valid JSON: {exc}", file=name) from None
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise DeployError(f"form is not a valid JSON Schema: {exc.message}", file=name) from None
    return schema


def _deploy_error(bundle: _Bundle, exc: ValidationException, fallback_file: str | None) -> DeployError:
    element = getattr(exc, "id", None) or None
    file = getattr(exc, "file_name", None) or fallback_file or (element and bundle.file_of(element))
    line = getattr(exc, "line_number", None) or bundle.line_of(file, element)
    message = str(exc).split("\n")[0]
    return DeployError(message, file=file, element=element, line=int(line) if line else None)


def _callers(bundle: _Bundle) -> dict[str, set[str]]:
    """Called process -> the processes of the bundle that call it (itself left out)."""
    found: dict[str, set[str]] = {}
    for tree in bundle.trees.values():
        for process in tree.iter(f"{{{BPMN_NS}}}process"):
            for el in process.iter(f"{{{BPMN_NS}}}callActivity"):
                callee = el.get("calledElement")
                if callee and callee != process.get("id"):
                    found.setdefault(callee, set()).add(process.get("id"))
    return found


def parse_lane_map(value: str, *, file: str | None = None, element: str | None = None) -> dict[str, str]:
    """``"A=grid_worker, Tester=qa"`` as {lane: role or group}."""
    mapping = {}
    for entry in filter(None, (e.strip() for e in value.split(","))):
        lane, sep, role = (p.strip() for p in entry.partition("="))
        if not sep or not lane or not role:
            raise DeployError(f"{LANE_MAP_PROPERTY}: '{entry}' is not LANE=ROLE", file=file, element=element)
        mapping[lane] = role
    return mapping


def _map_lanes(bundle: _Bundle, converted: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Write each task's role into the serialized spec of one process: its lane's name unless
    the deploy's ``overrides`` or the process's ``laneMap`` map the lane to another role or
    group. Returns the process's lanes -> roles."""
    key, file = converted["name"], converted.get("file")
    own = parse_lane_map(_process_properties(bundle, key).get(LANE_MAP_PROPERTY, ""), file=file, element=key)
    lanes = {}
    for ts in converted["task_specs"].values():
        lane = ts.get("lane")
        if lane is None:
            continue
        role = lanes[lane] = overrides.get(lane, own.get(lane, lane))
        if len(role) > MAX_ROLE_LENGTH:
            raise DeployError(f"lane '{lane}': a role or group name has at most {MAX_ROLE_LENGTH} characters; "
                              f"map the lane to one with {LANE_MAP_PROPERTY}", file=file, element=key)
        ts["lane"] = role
    return lanes


def _dmn_files(bundle: _Bundle) -> set[str]:
    return {name for name in bundle.trees if name.endswith(".dmn")}


def _process_properties(bundle: _Bundle, key: str) -> dict[str, str]:
    """Process-level ``spiffworkflow:property`` values (SpiffWorkflow ignores them)."""
    for tree in bundle.trees.values():
        for process in tree.iter(f"{{{BPMN_NS}}}process"):
            if process.get("id") == key:
                ext = process.find(f"{{{BPMN_NS}}}extensionElements")
                if ext is None:
                    return {}
                return {p.get("name"): p.get("value", "") for p in ext.iter(f"{{{SPIFF_NS}}}property")}
    return {}


def _check_specs(bundle: _Bundle, specs: list[BpmnProcessSpec], properties: dict[str, str]) -> dict[str, Any]:
    """Compile every expression and script; collect the forms the process uses."""
    forms: dict[str, Any] = {}

    def need_form(name: str, file: str | None, element: str | None) -> None:
        if name not in bundle.forms:
            raise DeployError(f"form '{name}' not found under forms/", file=file, element=element,
                              line=bundle.line_of(file, element))
        forms[name] = bundle.forms[name]

    for form_property in (START_FORM_PROPERTY, CITIZEN_FEEDBACK_FORM_PROPERTY):
        if properties.get(form_property):
            need_form(properties[form_property], specs[0].file, specs[0].name)
    for process_spec in specs:
        file = process_spec.file
        for ts in process_spec.task_specs.values():
            element = getattr(ts, "bpmn_id", None) or ts.name

            def check(source: str | None, kind: str, script: bool = False, file: str = file,
                      element: str = element) -> None:
                if source is None or source == "":
                    return
                try:
                    (check_script if script else check_expression)(str(source))
                except ScriptError as exc:
                    line = bundle.line_of(file, element)
                    raise DeployError(f"{kind}: {exc}", file=file, element=element, line=line) from None

            if isinstance(ts, (ExclusiveGateway, InclusiveGateway)):
                for condition, _target in ts.cond_task_specs:
                    if condition is not None:
                        check(condition.args[0], "condition")
            if isinstance(ts, ScriptEngineTask) and hasattr(ts, "script"):
                check(ts.script, "script", script=True)
            check(getattr(ts, "prescript", None), "preScript", script=True)
            check(getattr(ts, "postscript", None), "postScript", script=True)
            if isinstance(ts, CatchingEvent):
                definition = getattr(ts, "event_definition", None)
                if isinstance(definition, TimerEventDefinition):
                    check(definition.expression, "timer expression")
            for d in leaf_events(getattr(ts, "event_definition", None)):
                if isinstance(d, (MessageEventDefinition, SignalEventDefinition)):
                    check(getattr(d, "expression", None), "payload expression")
                    for prop in (*getattr(d, "correlation_properties", ()), *getattr(d, "process_correlations", ())):
                        check(prop.retrieval_expression, f"correlation property '{prop.name}'")
            engine = getattr(ts, "dmnEngine", None)
            if engine is not None:
                _check_decision(bundle, engine.decision_table)
            props = (getattr(ts, "extensions", None) or {}).get("properties", {})
            if "marksOverdue" in props and props["marksOverdue"] not in OVERDUE_MODES:
                raise DeployError(f"marksOverdue must be one of {', '.join(OVERDUE_MODES)}, not "
                                  f"'{props['marksOverdue']}'", file=file, element=element,
                                  line=bundle.line_of(file, element))
            for name in EXPRESSION_PROPERTIES:
                check(props.get(name), f"property {name}")
            unknown = [r for r in senders_of(ts) or () if r not in ROLES]
            if unknown:
                raise DeployError(f"property {SENDERS_PROPERTY} names unknown roles: {', '.join(unknown)} "
                                  f"(roles: {', '.join(ROLES)})", file=file, element=element,
                                  line=bundle.line_of(file, element))
            if props.get(FORM_PROPERTY):
                need_form(props[FORM_PROPERTY], file, element)
    return forms


def _check_decision(bundle: _Bundle, table: DecisionTable) -> None:
    """Every cell of a decision table compiles as the DMN engine will run it, or the deploy
    names the DMN file, the cell's id and its line."""
    def check(element_id: str, source: str | None, kind: str) -> None:
        if not source:
            return
        try:
            check_expression(source)
        except ScriptError as exc:
            file = bundle.file_of(element_id)
            raise DeployError(f"{kind}: {exc}", file=file, element=element_id,
                              line=bundle.line_of(file, element_id)) from None

    for column in table.inputs:
        check(column.id, column.expression, f"DMN input '{column.label or column.name}'")
    for rule in table.rules:
        for column, entry in zip(table.inputs, rule.inputEntries, strict=True):
            for cell in entry.lhs:
                if cell and column.expression:
                    check(entry.id, _input_test(column.expression, cell), f"DMN input entry (row {rule.row_number})")
        for entry in rule.outputEntries:
            check(entry.id, entry.text, f"DMN output (row {rule.row_number})")


def _input_test(expression: str, cell: str) -> str:
    """An input cell as SpiffWorkflow's DMN engine evaluates it: ``?`` stands for the input; a
    cell that parses on its own is compared with ``==``; any other (``> 5``) follows the input."""
    if "?" in cell:
        return cell.replace("?", "dmninputexpr")
    try:
        ast.parse(cell)
    except SyntaxError:
        return f"{expression} {cell}"
    return f"({expression}) == ({cell})"


# ---------------------------------------------------------------------------------------------
# Deploying and loading


@dataclass
class Deployed:
    key: str
    version: int
    definition_id: int
    created: bool
    warnings: list[str] = field(default_factory=list)  # deployed all the same (e.g. a lane nobody staffs)


def deploy(session: Session, sources: dict[str, bytes], *, by: str | None, now: datetime,
           lane_map: dict[str, str] | None = None,
           check: Callable[[Compiled], list[str]] | None = None) -> list[Deployed]:
    """Store each compiled process as a new version unless identical content is already the
    newest; ``check`` says what to warn about each (new or unchanged)."""
    results = []
    for c in compile_sources(sources, lane_map):
        warnings = check(c) if check else []
        latest = session.scalars(select(ProcessDefinition).where(ProcessDefinition.key == c.key)
                                 .order_by(ProcessDefinition.version.desc()).limit(1)).first()
        if latest is not None and latest.content_hash == c.content_hash:
            results.append(Deployed(c.key, latest.version, latest.id, False, warnings))
            continue
        version = (latest.version + 1) if latest else 1
        row = ProcessDefinition(key=c.key, version=version, name=c.name, content_hash=c.content_hash,
                                sources=c.sources, forms=c.forms, properties=c.properties,
                                spec=c.spec_json, deployed_at=now, deployed_by=by)
        session.add(row)
        session.flush()
        results.append(Deployed(c.key, version, row.id, True, warnings))
    return results


_PD = ProcessDefinition.__table__
_NEWEST = (select(_PD.c.id).where(_PD.c.key == bindparam("key")).order_by(_PD.c.version.desc()).limit(1))
_VERSION = select(_PD.c.id).where(_PD.c.key == bindparam("key"), _PD.c.version == bindparam("version"))


def definition_id(session: Session, key: str, version: int | None = None) -> int | None:
    """The id of a process's newest (or given) version: one indexed lookup per start."""
    if version is None:
        return session.connection().execute(_NEWEST, {"key": key}).scalar()
    if not 1 <= version <= INT32_MAX:  # no such version (and no database's parameter)
        return None
    return session.connection().execute(_VERSION, {"key": key, "version": version}).scalar()


_NEWEST_VERSIONS = select(_PD.c.key, func.max(_PD.c.version).label("version")).group_by(_PD.c.key).subquery()
_NEWEST_IDS = select(_PD.c.id, _PD.c.key).join(
    _NEWEST_VERSIONS, (_NEWEST_VERSIONS.c.key == _PD.c.key) & (_NEWEST_VERSIONS.c.version == _PD.c.version))
_PROPERTIES = select(_PD.c.id, _PD.c.properties).where(_PD.c.id.in_(bindparam("ids", expanding=True)))


def case_process_id(session: Session, key: str | None, specs: SpecCache) -> int | None:
    """The newest version of case process ``key``, or without a key of the one case process
    deployed (what reports start when they name none). None if there is none; InvalidInput
    when several are deployed and none is named. Versions never change, so whether one is a
    case process is read from its properties once (kept in ``specs``)."""
    if key is not None:
        return definition_id(session, key)
    connection = session.connection()
    newest = connection.execute(_NEWEST_IDS).all()
    known = specs.case_process
    unknown = [row.id for row in newest if row.id not in known]
    if unknown:
        for row in connection.execute(_PROPERTIES, {"ids": unknown}):
            known[row.id] = str((row.properties or {}).get("caseProcess", "")).lower() == "true"
    found = sorted((row.key, row.id) for row in newest if known.get(row.id))
    if len(found) > 1:
        raise InvalidInput(f"several case processes are deployed ({', '.join(k for k, _ in found)}): name the one "
                           "to report to", fields={"process": "the key of a case process"})
    return found[0][1] if found else None


def definition_row(session: Session, definition_id: int) -> ProcessDefinition | None:
    return session.get(ProcessDefinition, definition_id)


def find_definition(session: Session, key: str, version: int | None = None) -> ProcessDefinition | None:
    query = select(ProcessDefinition).where(ProcessDefinition.key == key)
    if version is not None:
        if not 1 <= version <= INT32_MAX:
            return None
        return session.scalars(query.where(ProcessDefinition.version == version)).first()
    return session.scalars(query.order_by(ProcessDefinition.version.desc()).limit(1)).first()


def list_definitions(session: Session) -> list[ProcessDefinition]:
    newest = select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("v")).group_by(
        ProcessDefinition.key).subquery()
    return list(session.scalars(select(ProcessDefinition).join(
        newest, (ProcessDefinition.key == newest.c.key) & (ProcessDefinition.version == newest.c.v))
        .order_by(ProcessDefinition.key)))


def decision_with_output(loaded: LoadedDefinition, output: str) -> Callable[[SpiffTask], Any] | None:
    """The ``result(task)`` of the first decision table (of a business rule task) with that output."""
    for spec in (loaded.spec, *loaded.subprocess_specs.values()):
        for ts in spec.task_specs.values():
            engine = getattr(ts, "dmnEngine", None)
            if engine is not None and any(o.name == output for o in engine.decision_table.outputs):
                result: Callable[[SpiffTask], Any] = engine.result
                return result
    return None


def senders_of(task_spec: TaskSpec, definition: EventDefinition | None = None) -> tuple[str, ...] | None:
    """The roles the ``senders`` property of the element catching ``definition`` names (comma
    or space separated), or None when it has none (then the default applies: see
    :func:`policy.may_send`). An event-based gateway catches for the events after it."""
    if definition is not None and isinstance(task_spec, EventBasedGateway):
        task_spec = task_spec.outputs[task_spec.event_definition.event_definitions.index(definition)]
    value = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get(SENDERS_PROPERTY)
    return None if value is None else tuple(r for r in value.replace(",", " ").split() if r)


def leaf_events(definition: EventDefinition | None) -> list[EventDefinition]:
    """The simple event definitions inside a (possibly multiple / event-gateway) definition."""
    if definition is None:
        return []
    if isinstance(definition, MultipleEventDefinition):
        return [leaf for d in definition.event_definitions for leaf in leaf_events(d)]
    return [definition]


@dataclass(frozen=True)
class Catcher:
    """An element that catches a message or signal: its message's correlation properties
    (retrieval expressions), who may send it, whether it starts the process."""

    element: str
    correlation_properties: tuple[CorrelationProperty, ...]
    senders: tuple[str, ...] | None
    starts: bool


@dataclass
class LoadedDefinition:
    """A deployed version restored to SpiffWorkflow objects, shared by all its instances."""

    id: int
    key: str
    version: int
    spec: Any
    subprocess_specs: dict[str, Any]
    forms: dict[str, Any]
    properties: dict[str, str]

    @cached_property
    def catches_events(self) -> bool:
        """Whether any of its specs waits for a message or signal (only then are waits synced)."""
        return any(isinstance(d, (MessageEventDefinition, SignalEventDefinition))
                   for spec in (self.spec, *self.subprocess_specs.values()) for ts in spec.task_specs.values()
                   for d in leaf_events(getattr(ts, "event_definition", None)))

    @cached_property
    def catchers(self) -> dict[tuple[str, str], list[Catcher]]:
        """(kind, name) -> each element of its specs that catches that message or signal."""
        found: dict[tuple[str, str], list[Catcher]] = {}
        starts = set(self.spec.bpmn_start_events) if hasattr(self.spec, "bpmn_start_events") else set()
        for spec in (self.spec, *self.subprocess_specs.values()):
            for ts in spec.task_specs.values():
                for d in leaf_events(getattr(ts, "event_definition", None)):
                    kind = "message" if isinstance(d, MessageEventDefinition) else \
                        "signal" if isinstance(d, SignalEventDefinition) else None
                    if kind is None or not isinstance(ts, CatchingEvent):
                        continue
                    found.setdefault((kind, d.name), []).append(Catcher(
                        ts.bpmn_id or ts.name, tuple(getattr(d, "correlation_properties", ())), senders_of(ts, d),
                        ts in starts))
        return found

    @property
    def start_form(self) -> dict[str, Any] | None:
        return self.forms.get(self.properties.get(START_FORM_PROPERTY, ""))

    @property
    def citizen_feedback_form(self) -> dict[str, Any] | None:
        return self.forms.get(self.properties.get(CITIZEN_FEEDBACK_FORM_PROPERTY, ""))

    @property
    def is_case_process(self) -> bool:
        return self.properties.get("caseProcess", "").lower() == "true"

    @cached_property
    def projection(self) -> caseprojection.CaseProjection:
        """What its steps write into its case row (the runtime's hooks)."""
        return caseprojection.CaseProjection.of(self.properties)


def restore(definition_id: int, key: str, version: int, spec_json: str, forms: dict[str, Any],
            properties: dict[str, str]) -> LoadedDefinition:
    """SpiffWorkflow's specs from a compiled process (deployed, or a draft being tried)."""
    specs = json.loads(spec_json)
    return LoadedDefinition(definition_id, key, version, SERIALIZER.registry.restore(specs["spec"]),
                            {k: SERIALIZER.registry.restore(v) for k, v in specs["subprocess_specs"].items()},
                            forms, properties)


class SpecCache:
    """Specs are restored once per definition version and kept; instances never store them."""

    def __init__(self) -> None:
        self._items: dict[int, LoadedDefinition] = {}
        self._lock = threading.Lock()
        self.case_process: dict[int, bool] = {}  # definition id -> a case process? (case_process_id)

    def get(self, session: Session, definition_id: int) -> LoadedDefinition:
        loaded = self._items.get(definition_id)
        if loaded is None:
            row = session.get(ProcessDefinition, definition_id)
            assert row is not None, f"no process definition {definition_id}"
            loaded = restore(row.id, row.key, row.version, row.spec, row.forms, row.properties)
            with self._lock:
                self._items.setdefault(definition_id, loaded)
        return self._items[definition_id]
