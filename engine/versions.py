"""Deployed versions as a designer sees them: each key's versions, their files, and what
changed between two of them, element by element.

Reads only definition rows and counts of instances; the diff parses the stored BPMN/DMN
texts (never a spec or a workflow).
"""
from __future__ import annotations

import json
from operator import itemgetter
from typing import Any

from lxml import etree
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import org, policy
from .definitions import BPMN_NS, SPIFF_NS, find_definition, parse_xml
from .errors import NotFound
from .model import ProcessDefinition, ProcessInstance

_B, _S = f"{{{BPMN_NS}}}", f"{{{SPIFF_NS}}}"


def _running_by_definition(s: Session) -> dict[int, int]:
    return {definition_id: n for definition_id, n in s.execute(
        select(ProcessInstance.definition_id, func.count())
        .where(ProcessInstance.status == "running").group_by(ProcessInstance.definition_id))}


def overview(s: Session, actor: org.Actor) -> list[dict[str, Any]]:
    """Each key: name, newest version, how many versions, running instances (all versions)."""
    policy.check_designer(actor)
    running = _running_by_definition(s)
    keys: dict[str, dict[str, Any]] = {}
    for row in s.execute(select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.version,
                                ProcessDefinition.name, ProcessDefinition.deployed_at, ProcessDefinition.properties)
                         .order_by(ProcessDefinition.key, ProcessDefinition.version)):
        entry = keys.setdefault(row.key, {"key": row.key, "versions": 0, "running": 0})
        entry.update(name=row.name, latest_version=row.version, deployed_at=row.deployed_at,
                     case_process=(row.properties or {}).get("caseProcess", "").lower() == "true")
        entry["versions"] += 1
        entry["running"] += running.get(row.id, 0)
    return list(keys.values())


def versions(s: Session, actor: org.Actor, key: str) -> list[dict[str, Any]]:
    """A key's versions, newest first: who deployed it, when, its content hash, running instances."""
    policy.check_designer(actor)
    running = _running_by_definition(s)
    rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.version, ProcessDefinition.name,
                            ProcessDefinition.content_hash, ProcessDefinition.deployed_at,
                            ProcessDefinition.deployed_by)
                     .where(ProcessDefinition.key == key).order_by(ProcessDefinition.version.desc())).all()
    if not rows:
        raise NotFound(f"process '{key}' not deployed")
    return [{"version": r.version, "name": r.name, "content_hash": r.content_hash, "deployed_at": r.deployed_at,
             "deployed_by": r.deployed_by, "running": running.get(r.id, 0)} for r in rows]


def sources(s: Session, key: str, version: int | None) -> tuple[ProcessDefinition, dict[str, str]]:
    row = find_definition(s, key, version)
    if row is None:
        raise NotFound(f"process '{key}'" + (f" version {version}" if version else "") + " not deployed")
    return row, dict(row.sources or {})


def version_files(s: Session, actor: org.Actor, key: str, version: int | None = None) -> tuple[int, dict[str, str]]:
    """(version, all its files: BPMN, DMN and ``forms/*.json``) of ``key`` (newest unless
    given): what the modeler edits and deploys again."""
    policy.check_designer(actor)
    row, files = sources(s, key, version)
    for name, schema in (row.forms or {}).items():
        files[f"forms/{name}"] = json.dumps(schema, ensure_ascii=False, indent=2) + "\n"
    return row.version, files


def version_xml(s: Session, actor: org.Actor, key: str, version: int) -> tuple[str, str]:
    """(file name, BPMN text) of the file that holds the process ``key`` in that version."""
    policy.check_designer(actor)
    _, files = sources(s, key, version)
    return main_file(files, key)


def main_file(files: dict[str, str], key: str) -> tuple[str, str]:
    for name, text in files.items():
        if name.endswith(".bpmn") and f'id="{key}"' in text:
            return name, text
    name = next(n for n in files if n.endswith(".bpmn"))
    return name, files[name]


# ---------------------------------------------------------------------------------- diff

def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path)
    return found.text.strip() if found is not None and found.text else None


def _elements(files: dict[str, str]) -> dict[str | None, dict[str, Any]]:
    """id -> what a designer would call a change of it, for every BPMN element and DMN rule."""
    out: dict[str | None, dict[str, Any]] = {}  # (an element without an id: None)
    for name, text in files.items():
        root = parse_xml(name, text.encode()).getroot()
        if name.endswith(".dmn"):
            for rule in root.iter("{*}rule"):
                out[rule.get("id")] = {"type": "rule", "name": _text(rule, "{*}description"), "file": name,
                                       "inputs": [e.findtext("{*}text") for e in rule.iter("{*}inputEntry")],
                                       "outputs": [e.findtext("{*}text") for e in rule.iter("{*}outputEntry")]}
            continue
        lanes = {ref.text.strip(): lane.get("name") for lane in root.iter(f"{_B}lane")
                 for ref in lane.iter(f"{_B}flowNodeRef") if ref.text}
        for el in root.iter():
            if not isinstance(el.tag, str) or not el.tag.startswith(_B) or not el.get("id"):
                continue
            kind = etree.QName(el).localname
            if kind in ("definitions", "process", "laneSet", "lane", "message", "signal", "error", "escalation",
                        "collaboration", "participant") or kind.endswith("EventDefinition") or kind in (
                        "conditionExpression", "script", "timeDuration", "timeDate", "timeCycle"):
                continue
            item: dict[str, Any] = {"type": kind, "name": el.get("name"), "file": name}
            if kind == "sequenceFlow":
                item.update(source=el.get("sourceRef"), target=el.get("targetRef"),
                            condition=_text(el, f"{_B}conditionExpression"))
            else:
                item["lane"] = lanes.get(el.get("id", ""))
            for timer in el.findall(f"{_B}timerEventDefinition"):
                for t in ("timeDuration", "timeDate", "timeCycle"):
                    if _text(timer, f"{_B}{t}"):
                        item["timer"] = f"{t} {_text(timer, f'{_B}{t}')}"
            if _text(el, f"{_B}script"):
                item["script"] = _text(el, f"{_B}script")
            props = {p.get("name"): p.get("value") for p in el.iter(f"{_S}property")}
            if props:
                item["properties"] = props
            if el.get("default"):
                item["default"] = el.get("default")
            if el.get("attachedToRef"):
                item["attached_to"] = el.get("attachedToRef")
            out[el.get("id")] = item
    return out


def diff(s: Session, actor: org.Actor, key: str, old: int, new: int) -> dict[str, list[dict[str, Any]]]:
    """Elements (tasks, flows, conditions, timers, lanes, scripts, properties, DMN rules) added,
    removed or changed from version ``old`` to version ``new``."""
    policy.check_designer(actor)
    before = _elements(sources(s, key, old)[1])
    after = _elements(sources(s, key, new)[1])
    added = [{"id": i, "type": after[i]["type"], "name": after[i]["name"]} for i in after if i not in before]
    removed = [{"id": i, "type": before[i]["type"], "name": before[i]["name"]} for i in before if i not in after]
    changed = []
    for i in before.keys() & after.keys():
        fields = sorted(set(before[i]) | set(after[i]))
        changes = {f: [before[i].get(f), after[i].get(f)] for f in fields
                   if f != "file" and before[i].get(f) != after[i].get(f)}
        if changes:
            changed.append({"id": i, "type": after[i]["type"], "name": after[i]["name"], "changes": changes})
    return {"added": sorted(added, key=itemgetter("id")), "removed": sorted(removed, key=itemgetter("id")),
            "changed": sorted(changed, key=itemgetter("id"))}
