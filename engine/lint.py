"""Check a set of process files as deploy would, plus the designer's lint rules.

Deploy refuses what cannot run (``definitions.compile_sources``: unsafe or malformed XML, XSD
errors, missing forms, decisions or called processes, expressions that do not compile). The
lint rules below find what runs but goes wrong later: a task nobody is offered, a condition
testing a value its form never asks for, a gateway without a way out, a timer that will not
parse, elements no token reaches or from which no end is reached. Each problem names the
file, line and element, so the modeler can mark it and ``gridloop check`` can print
``file:line: element: message``.
"""
from __future__ import annotations

import ast
import json
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .definitions import (BPMN_NS, FORM_PROPERTY, LANE_MAP_PROPERTY, SPIFF_NS, compile_sources, parse_lane_map,
                          parse_xml)
from .errors import DeployError
from .model import User

_B = f"{{{BPMN_NS}}}"
_S = f"{{{SPIFF_NS}}}"
_ACTIVITIES = ("task", "userTask", "manualTask", "scriptTask", "serviceTask", "businessRuleTask", "sendTask",
               "receiveTask", "callActivity", "subProcess")
_ENDS = ("endEvent",)


@dataclass(frozen=True)
class Problem:
    file: str | None
    line: int | None
    element: str | None
    message: str
    severity: str = "error"  # error: deploy refuses it; warning: it deploys but will go wrong

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.file or '-'}:{self.line or 0}: {self.element or '-'}: {self.severity}: {self.message}"


def check(sources: dict[str, bytes], session: Session | None = None,
          lane_map: dict[str, str] | None = None) -> list[Problem]:
    """Everything deploy would refuse (as one error) and every lint finding, in file order;
    ``lane_map`` is the deploy's (lanes offered to other roles or groups, see definitions)."""
    try:
        compile_sources(sources, lane_map)
    except DeployError as exc:
        return [Problem(exc.file, exc.line, exc.element, exc.message.split(": ", 1)[-1]
                        if exc.file or exc.element or exc.line else exc.message)]
    forms = {name.removeprefix("forms/"): json.loads(data) for name, data in sources.items() if name.endswith(".json")}
    problems: list[Problem] = []
    roles = _roles_with_users(session) if session is not None else None
    for name, data in sorted(sources.items()):
        if name.endswith(".bpmn"):
            tree = parse_xml(name, data)
            for process in tree.iter(f"{_B}process"):
                if process.get("isExecutable", "true") == "false":
                    continue
                problems.extend(_lint_process(name, process, forms, roles, lane_map or {}))
    return problems


def _roles_with_users(session: Session) -> set[str]:
    return {role for roles in session.scalars(select(User.roles).where(User.active.is_(True))) for role in roles or []}


def _local(el: etree._Element) -> str:
    name: str = etree.QName(el).localname
    return name


def _lint_process(file: str, process: etree._Element, forms: dict[str, Any], roles: set[str] | None,
                  lane_map: dict[str, str]) -> Iterable[Problem]:
    def problem(el: etree._Element | None, message: str, severity: str = "warning") -> Problem:
        return Problem(file, el.sourceline if el is not None else None, el.get("id") if el is not None else None,
                       message, severity)

    nodes = {el.get("id"): el for el in process if isinstance(el.tag, str) and el.get("id")
             and _local(el) not in ("sequenceFlow", "laneSet", "extensionElements", "documentation")}
    flows = [el for el in process.iter(f"{_B}sequenceFlow")]
    lanes = {ref.text.strip(): lane.get("name") or lane.get("id")
             for lane in process.iter(f"{_B}lane") for ref in lane.iter(f"{_B}flowNodeRef") if ref.text}
    own = process.find(f"{_B}extensionElements")
    offered = {**parse_lane_map(next((p.get("value", "") for p in own.iter(f"{_S}property")
                                      if p.get("name") == LANE_MAP_PROPERTY), "") if own is not None else ""),
               **lane_map}  # lane -> the role or group its tasks are offered to
    outgoing: dict[str, list[etree._Element]] = {}
    incoming: dict[str, list[etree._Element]] = {}
    for flow in flows:
        outgoing.setdefault(flow.get("sourceRef"), []).append(flow)
        incoming.setdefault(flow.get("targetRef"), []).append(flow)

    # 1. every user task is offered to someone, and its form covers what follows tests
    for task in process.iter(f"{_B}userTask"):
        props = {p.get("name"): p.get("value") for p in task.iter(f"{_S}property")}
        lane = lanes.get(task.get("id"))
        candidates = any(k.startswith("candidate") for k in props)
        if lane is None and not candidates:
            yield problem(task, "no lane and no candidates: only the user who started the instance is offered it")
        elif lane is not None and roles is not None and offered.get(lane, lane) not in roles and not candidates:
            yield problem(task, f"lane '{lane}' matches no active user: nobody can be offered this task")
        form = forms.get(props.get(FORM_PROPERTY) or "")
        for flow in outgoing.get(task.get("id"), []):
            gateway = nodes.get(flow.get("targetRef"))
            if gateway is None or _local(gateway) not in ("exclusiveGateway", "inclusiveGateway"):
                continue
            yield from _conditions_against_form(problem, task, gateway, outgoing.get(gateway.get("id"), []),
                                                form, props.get(FORM_PROPERTY))

    # 2. exclusive gateways always have a way out
    for gateway in process.iter(f"{_B}exclusiveGateway", f"{_B}inclusiveGateway"):
        outs = outgoing.get(gateway.get("id"), [])
        if len(outs) < 2:
            continue
        default = gateway.get("default")
        bare = [f for f in outs if f.find(f"{_B}conditionExpression") is None and f.get("id") != default]
        if bare:
            yield problem(gateway, f"flow '{bare[0].get('id')}' has no condition and is not the default", "error")
        elif default is None and not _covered(outs, _forms_before(gateway, incoming, nodes, forms)):
            yield problem(gateway, "no default flow, and the conditions may all be false: the instance "
                                   "would fail here")

    # 3. timer expressions that are literals must parse
    for timer in process.iter(f"{_B}timerEventDefinition"):
        for kind in ("timeDuration", "timeDate", "timeCycle"):
            el = timer.find(f"{_B}{kind}")
            if el is not None and el.text:
                message = _timer_problem(kind, el.text.strip())
                if message:
                    yield problem(timer.getparent(), message, "error")

    # 4. reachability: from the start events forward, and to an end backward
    starts = [i for i, el in nodes.items() if _local(el) == "startEvent" and _local(el.getparent()) == "process"]
    attached: dict[str, list[str]] = {}
    for i, el in nodes.items():
        if _local(el) == "boundaryEvent":
            attached.setdefault(el.get("attachedToRef"), []).append(i)
    forward = {i: [f.get("targetRef") for f in outgoing.get(i, [])] + attached.get(i, []) for i in nodes}
    reached = _walk(starts, forward)
    event_subprocesses = {i for i, el in nodes.items() if _local(el) == "subProcess"
                          and el.get("triggeredByEvent") == "true"}
    for i, el in nodes.items():
        if i not in reached and i not in event_subprocesses and _local(el) in (*_ACTIVITIES, "exclusiveGateway",
                                                                               "parallelGateway", "inclusiveGateway",
                                                                               "eventBasedGateway", "endEvent",
                                                                               "intermediateCatchEvent",
                                                                               "intermediateThrowEvent"):
            yield problem(el, "unreachable: no path from a start event leads here")
    backward: dict[str, list[str]] = {}
    for source, targets in forward.items():
        for target in targets:
            backward.setdefault(target, []).append(source)
    ends = [i for i, el in nodes.items() if _local(el) in _ENDS]
    finishing = _walk(ends, backward)
    for i in sorted(reached - finishing, key=lambda i: nodes[i].sourceline or 0):
        if i in nodes and _local(nodes[i]) != "boundaryEvent":
            yield problem(nodes[i], "no path from here reaches an end event")


def _forms_before(gateway: etree._Element, incoming: dict[str, list[etree._Element]], nodes: dict[str, etree._Element],
                  forms: dict[str, Any]) -> dict[str, Any]:
    """The forms of the user tasks that lead straight into ``gateway`` (all forms if others do)."""
    found: dict[str, Any] = {}
    for flow in incoming.get(gateway.get("id"), []):
        source = nodes.get(flow.get("sourceRef"))
        name = next((p.get("value") for p in source.iter(f"{_S}property") if p.get("name") == FORM_PROPERTY),
                    None) if source is not None and _local(source) == "userTask" else None
        if name is None or name not in forms:
            return forms
        found[name] = forms[name]
    return found or forms


def _walk(starts: list[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    stack = list(starts)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        stack.extend(edges.get(node, []))
    return seen


def _conditions_against_form(problem: Callable[..., Problem], task: etree._Element, gateway: etree._Element,
                             flows: list[etree._Element], form: dict[str, Any] | None,
                             form_name: str | None) -> Iterator[Problem]:
    fields = (form or {}).get("properties", {})
    for flow in flows:
        condition = flow.find(f"{_B}conditionExpression")
        if condition is None or not (condition.text or "").strip():
            continue
        try:
            tree = ast.parse(condition.text.strip(), mode="eval")
        except SyntaxError:
            continue  # deploy reports it
        for name, value in _equality_tests(tree):
            field = fields.get(name)
            if form is not None and field is None:
                yield problem(flow, f"condition tests '{name}', which form '{form_name}' of '{task.get('id')}' "
                                    "does not ask for")
            elif field is not None and "enum" in field and value is not _ANY and value not in field["enum"]:
                yield problem(flow, f"condition tests {name} == {value!r}, which form '{form_name}' never gives "
                                    f"(one of {field['enum']})", "error")


_ANY = object()


_COMPLEMENTS = {(ast.Eq, ast.NotEq), (ast.Lt, ast.GtE), (ast.Gt, ast.LtE)}


def _tests(node: ast.AST) -> list[tuple[str, type[ast.cmpop], object]] | None:
    """``x == 1 or x == 2`` → [(x, Eq, 1), (x, Eq, 2)]; None for anything else."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or):
        tests = []
        for value in node.values:
            part = _tests(value)
            if part is None:
                return None
            tests.extend(part)
        return tests
    if (isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and len(node.ops) == 1
            and isinstance(node.comparators[0], ast.Constant)):
        return [(node.left.id, type(node.ops[0]), node.comparators[0].value)]
    return None


def _covered(flows: list[etree._Element], forms: dict[str, Any]) -> bool:
    """Whether the conditions of a gateway's flows always leave one true: complementary tests
    (``x == v`` / ``x != v``, ``x < v`` / ``x >= v``), or ``x == ...`` for every value the form
    before the gateway lets ``x`` take."""
    tests: list[tuple[str, type[ast.cmpop], object]] = []
    for flow in flows:
        try:
            node = ast.parse((flow.find(f"{_B}conditionExpression").text or "").strip(), mode="eval").body
        except SyntaxError:
            return True  # deploy reports it
        found = _tests(node)
        if found is None:
            return False
        tests.extend(found)
    if len({name for name, _, _ in tests}) != 1:
        return False
    if any((a, b) in _COMPLEMENTS and x == y for _, a, x in tests for _, b, y in tests):
        return True
    name = tests[0][0]
    equal = {value for _, op, value in tests if op is ast.Eq}
    enums = [field["enum"] for form in forms.values() for field_name, field in _fields(form)
             if field_name == name and "enum" in field]
    return bool(enums) and all(set(enum) <= equal for enum in enums)


def _fields(schema: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """(name, field schema) of a form, including those of ``if/then`` branches."""
    if not isinstance(schema, dict):
        return
    for name, field in (schema.get("properties") or {}).items():
        if isinstance(field, dict):
            yield name, field
    for key in ("then", "else"):
        yield from _fields(schema.get(key))
    for sub in schema.get("allOf", []) or []:
        yield from _fields(sub)


def _equality_tests(tree: ast.AST) -> Iterable[tuple[str, object]]:
    """(variable, literal) of ``variable == literal`` tests; (variable, _ANY) for other uses."""
    compared: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and len(node.ops) == 1 \
                and isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and isinstance(node.comparators[0], ast.Constant):
            compared.add(id(node.left))
            yield node.left.id, node.comparators[0].value
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in compared and node.id not in ("True", "False", "None"):
            yield node.id, _ANY


def _timer_problem(kind: str, text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None  # an expression of the data: checked when it runs
    if not isinstance(value, str):
        return f"{kind} must be an ISO 8601 string, not {value!r}"
    try:
        if kind == "timeDuration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "timeDate":
            TimerEventDefinition.get_datetime(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises several kinds
        return f"{kind} '{value}' does not parse: {exc}"
    return None
