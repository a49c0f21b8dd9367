"""What a process says of its stages besides the case projection: their names in zh-CN and
English, what a citizen is told at each, in which the case is handled (what was done), and
what a photo added to a task of each shows.

Declared as process properties in its BPMN (docs/modelling.md) beside the projection's, checked
at deploy (:func:`check`: a property naming a stage the process does not have is an error) and
stored with the definition; the pages, the residents' status link, Open311, the 12345
export and task photos read them from the stored properties of the case's own version, never from a workflow.
The engine names no stage but those it sets itself (:data:`ENGINE_STAGES`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .caseprojection import parse_map
from .model import Case, ProcessDefinition, ProcessInstance

STAGE_LABELS_ZH = "stageLabelsZh"  # "stage=中文名, ...": what the Chinese pages call each stage
STAGE_LABELS_EN = "stageLabelsEn"  # "stage=English name, ...": the English pages' (a stage labelled in both)
CITIZEN_STAGES = "citizenStages"  # "stage=status, ...": what the status link says at a stage
HANDLING_STAGES = "handlingStages"  # "stage, ...": their tasks' `resolution` is what was done (12345 export)
PHOTO_KINDS = "photoKinds"  # "stage=kind, ...": what a photo added to a task of the stage shows
TASK_STAGES = "taskStages"  # set at deploy when it labels stages: its user tasks' (the inbox's stage filter)
CASE_ONLY = (CITIZEN_STAGES, HANDLING_STAGES, PHOTO_KINDS)
# What the status link may tell a citizen (web/i18n.py words each); a stage not named is in progress.
CITIZEN_STATUSES = ("received", "in_progress", "checking", "awaiting_feedback", "done", "not_accepted")
IN_PROGRESS = "in_progress"
# What a photo shows (web/i18n.py words each): a task's photo is a resolution unless its stage says otherwise.
KINDS_OF_PHOTO = ("report", "resolution", "verification")
RESOLUTION = "resolution"
# The stages the engine gives a case it ends outside its process (engine/exceptions.py).
ENGINE_STAGES = ("voided", "merged")


@dataclass(frozen=True)
class CaseStages:
    """One deployed version's stage properties."""

    labels: dict[str, tuple[str, str]] = field(default_factory=dict)  # stage -> (zh, en), as declared
    citizen: dict[str, str] = field(default_factory=dict)  # stage -> one of CITIZEN_STATUSES
    handling: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    photo_kinds: dict[str, str] = field(default_factory=dict)  # stage -> one of KINDS_OF_PHOTO

    @classmethod
    def of(cls, properties: dict[str, Any]) -> CaseStages:
        zh, en = (parse_map(str(properties.get(name) or "")) for name in (STAGE_LABELS_ZH, STAGE_LABELS_EN))
        labels = {stage: (zh.get(stage, en.get(stage, stage)), en.get(stage, zh.get(stage, stage)))
                  for stage in {**zh, **en}}
        return cls(labels, parse_map(str(properties.get(CITIZEN_STAGES) or "")),
                   tuple(parse_map(str(properties.get(HANDLING_STAGES) or ""))),
                   tuple(parse_map(str(properties.get(TASK_STAGES) or ""))),
                   parse_map(str(properties.get(PHOTO_KINDS) or "")))

    def citizen_status(self, stage: str | None) -> str:
        return self.citizen.get(stage or "", IN_PROGRESS)

    def photo_kind(self, stage: str | None) -> str:
        return self.photo_kinds.get(stage or "", RESOLUTION)


NONE = CaseStages()


@dataclass(frozen=True)
class Vocabulary:
    """The stage names of every version deployed (a newer version's name wins), and the
    stages their user tasks have: what pages name and filter stages by."""

    labels: dict[str, tuple[str, str]]
    task_stages: tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# Read from the stored definitions (each version's read once per process: a version never changes)

_by_definition: dict[tuple[str, int, str], CaseStages] = {}


def _versions(s: Session, rows: Iterable[tuple[int, str]]) -> dict[int, CaseStages]:
    """Definition id -> its stage properties, for (id, content hash) rows; each read once."""
    url = str(s.get_bind().engine.url)
    wanted = {id_: (url, id_, digest) for id_, digest in rows}
    missing = [id_ for id_, key in wanted.items() if key not in _by_definition]
    if missing:
        for id_, properties in s.execute(select(ProcessDefinition.id, ProcessDefinition.properties)
                                         .where(ProcessDefinition.id.in_(missing))):
            _by_definition[wanted[id_]] = CaseStages.of(properties or {})
    return {id_: _by_definition[key] for id_, key in wanted.items()}


def of_instances(s: Session, instance_ids: Iterable[int | None]) -> dict[int, CaseStages]:
    """Instance id -> the stage properties of the version it runs on (cases: their instance)."""
    ids = {i for i in instance_ids if i is not None}
    if not ids:
        return {}
    rows = s.execute(select(ProcessInstance.id, ProcessDefinition.id, ProcessDefinition.content_hash)
                     .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                     .where(ProcessInstance.id.in_(ids))).all()
    versions = _versions(s, {(definition_id, digest) for _inst, definition_id, digest in rows})
    return {inst: versions[definition_id] for inst, definition_id, _digest in rows}


def of_instance(s: Session, instance_id: int | None) -> CaseStages:
    return of_instances(s, [instance_id]).get(instance_id or 0, NONE)


def of_case(s: Session, case_id: int) -> CaseStages:
    """The stage properties of the version a case's process runs on."""
    return of_instance(s, s.scalar(select(Case.instance_id).where(Case.id == case_id)))


def vocabulary(s: Session) -> Vocabulary:
    """Every deployed version's stage names merged, oldest first (so the newest name wins and
    the first declaration's order stands), and the stages of their user tasks in that order."""
    rows = s.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash)
                     .order_by(ProcessDefinition.id)).all()
    labels: dict[str, tuple[str, str]] = {}
    tasks: set[str] = set()
    for stages in _versions(s, [(row.id, row.content_hash) for row in rows]).values():
        labels.update(stages.labels)
        tasks.update(stages.tasks)
    return Vocabulary(labels, (*(code for code in labels if code in tasks), *sorted(tasks - labels.keys())))


# ---------------------------------------------------------------------------------------------
# Checked at deploy


def check(properties: dict[str, str], case_process: bool, task_stages: set[str], script_stages: set[str]
          ) -> list[str]:
    """What is wrong with a process's stage properties: stages neither its tasks nor its
    scripts (nor the engine) have, a stage named in one language only, a citizen status the
    status link does not know, a handling stage or photo kind's stage no user task has, a
    kind of photo the pages do not know. Empty if nothing."""
    problems = [f"{name} applies to a case process only (caseProcess=true)"
                for name in CASE_ONLY if properties.get(name) and not case_process]
    stages = task_stages | script_stages | set(ENGINE_STAGES)
    declared = CaseStages.of({k: v for k, v in properties.items() if k != TASK_STAGES})
    zh, en = (parse_map(properties.get(name, "")) for name in (STAGE_LABELS_ZH, STAGE_LABELS_EN))

    def known(name: str, named: Iterable[str], within: set[str], where: str) -> None:
        unknown = [stage for stage in named if stage not in within]
        if unknown:
            problems.append(f"{name} names stages {where} has: {', '.join(unknown)} "
                            f"(stages: {', '.join(sorted(within)) or 'none'})")

    known(STAGE_LABELS_ZH, zh, stages, "no task or script")
    known(STAGE_LABELS_EN, en, stages, "no task or script")
    for name, have, other in ((STAGE_LABELS_EN, en, zh), (STAGE_LABELS_ZH, zh, en)):
        lacking = [stage for stage in other if stage not in have]
        if lacking:
            problems.append(f"{name} lacks stages the other language labels: {', '.join(lacking)}")
    known(CITIZEN_STAGES, declared.citizen, stages, "no task or script")
    wrong = [f"{stage}={status}" for stage, status in declared.citizen.items() if status not in CITIZEN_STATUSES]
    if wrong:
        problems.append(f"{CITIZEN_STAGES}: {', '.join(wrong)}: a citizen is told one of "
                        f"{', '.join(CITIZEN_STATUSES)}")
    known(HANDLING_STAGES, declared.handling, task_stages, "no user task")
    known(PHOTO_KINDS, declared.photo_kinds, task_stages, "no user task")
    wrong = [f"{stage}={kind}" for stage, kind in declared.photo_kinds.items() if kind not in KINDS_OF_PHOTO]
    if wrong:
        problems.append(f"{PHOTO_KINDS}: {', '.join(wrong)}: a photo shows one of {', '.join(KINDS_OF_PHOTO)}")
    return problems


def deployed(properties: dict[str, str], task_stages: set[str]) -> dict[str, str]:
    """The properties as stored: a process that labels stages keeps its user tasks' stages."""
    if properties.get(STAGE_LABELS_ZH) or properties.get(STAGE_LABELS_EN):
        return {**properties, TASK_STAGES: ", ".join(sorted(task_stages))}
    return {k: v for k, v in properties.items() if k != TASK_STAGES}
