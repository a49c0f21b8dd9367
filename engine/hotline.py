"""The 12345 hotline: its tickets become cases, and what became of them goes back.

A mapping file (TOML, see ``workflows/hotline/12345.toml``) says which column of the
hotline system's spreadsheet holds what, and how its words translate into ours (its
categories into the case process's, its urgency, its areas into grids). The designer keeps
it beside the processes: a new hotline category is a line there, not code.

Each ticket becomes a case through the engine's own command (``start_commands.report_case``),
with the ticket number on the case (unique per source), so a second run of the same file
creates nothing twice; a row that cannot become a case is reported with the reason and
nothing of it is stored.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable

import jsonschema
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import casestages, org, policy, start_commands
from .errors import Conflict, EngineError, Forbidden, InvalidInput
from .model import Case, Task
from .org import Actor

if TYPE_CHECKING:
    from .command import Engine

SOURCE = "hotline"
FIELDS = ("ticket", "title", "description", "category", "urgency", "grid", "address", "reporter_name",
          "reporter_phone")
REQUIRED = ("ticket", "title", "category", "grid")
EXPORT_FIELDS = ("ticket", "number", "status", "stage", "result", "contacted", "resolved", "satisfaction",
                 "comment", "feedback_at", "due_at", "closed_at")
MAX_TICKET = 64
# Where a field of the report form comes from in a row (for naming the column of an error).
FORM_FIELDS = {"title": "title", "description": "description", "category": "category", "urgency": "urgency",
               "grid": "grid", "location": "address", "location.address": "address", "reporter": "reporter_phone",
               "reporter.name": "reporter_name", "reporter.phone": "reporter_phone"}

_TABLE = {"type": "object", "additionalProperties": {"type": "string"}}
MAPPING_SCHEMA = {
    "type": "object", "additionalProperties": False, "required": ["columns"],
    "properties": {
        "sheet": {"type": "string"},
        "columns": {"type": "object", "additionalProperties": False, "required": list(REQUIRED),
                    "properties": {f: {"type": "string", "minLength": 1} for f in FIELDS}},
        "values": {"type": "object", "additionalProperties": False,
                   "properties": {f: _TABLE for f in FIELDS if f != "ticket"}},
        "defaults": {"type": "object", "additionalProperties": False,
                     "properties": {f: {"type": "string"} for f in FIELDS if f not in ("ticket", "title")}},
        "export": {"type": "object", "additionalProperties": False, "properties": {
            "columns": {"type": "object", "additionalProperties": False,
                        "properties": {f: {"type": "string", "minLength": 1} for f in EXPORT_FIELDS}},
            "values": {"type": "object", "additionalProperties": False,
                       "properties": {f: _TABLE for f in ("status", "stage", "satisfaction", "contacted",
                                                          "resolved")}}}},
    },
}


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    sheet: str | None = None
    export_columns: dict[str, str] = field(default_factory=dict)
    export_values: dict[str, dict[str, str]] = field(default_factory=dict)

    def column(self, name: str) -> str:
        return self.columns.get(name, name)


def load_mapping(path: str) -> Mapping:
    """Read and check a mapping file; InvalidInput says what is wrong and where."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise InvalidInput(f"{path}: {exc.strerror}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(MAPPING_SCHEMA).iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the file"
        raise InvalidInput(f"{path}: {where}: {error.message}")
    export = data.get("export", {})
    return Mapping(columns=data["columns"], values=data.get("values", {}), defaults=data.get("defaults", {}),
                   sheet=data.get("sheet"),
                   export_columns={f: export.get("columns", {}).get(f, f) for f in EXPORT_FIELDS},
                   export_values=export.get("values", {}))


class RowError(Exception):
    """A row that cannot become a case; the message names the column."""


def missing_columns(header: list[str], mapping: Mapping) -> list[str]:
    return [mapping.columns[f] for f in FIELDS if f in mapping.columns and mapping.columns[f] not in header]


def to_report(row: dict[str, str], mapping: Mapping) -> tuple[str, dict[str, Any]]:
    """The ticket number and the case report (the report form's shape) of one row."""
    if row.get(""):
        raise RowError(f"more cells than the header has columns: {row['']}")
    values: dict[str, str] = {}
    for name in FIELDS:
        raw = row.get(mapping.columns[name], "") if name in mapping.columns else ""
        table = mapping.values.get(name)
        if raw and table is not None:
            if raw not in table:
                raise RowError(f"{mapping.column(name)}: '{raw[:100]}' is not in the mapping's [values.{name}]")
            raw = table[raw]
        raw = raw or mapping.defaults.get(name, "")  # defaults are in our words already
        if raw:
            values[name] = raw
    for name in REQUIRED:
        if name not in values:
            raise RowError(f"{mapping.column(name)}: empty")
    if len(values["ticket"]) > MAX_TICKET:
        raise RowError(f"{mapping.column('ticket')}: longer than {MAX_TICKET} characters")
    report: dict[str, Any] = {"title": values["title"], "category": values["category"], "source": SOURCE,
                              "grid": values["grid"], "description": values.get("description", ""),
                              "urgency": values.get("urgency", "normal")}
    reporter = {k: values[f"reporter_{k}"] for k in ("name", "phone") if f"reporter_{k}" in values}
    if reporter:
        report["reporter"] = reporter
    report["location"] = {"address": values["address"]} if "address" in values else {}
    return values["ticket"], report


def _reason(exc: EngineError, mapping: Mapping) -> str:
    if not exc.fields:
        return exc.message
    return "; ".join(f"{mapping.column(FORM_FIELDS.get(name, name))}: {problem}"
                     for name, problem in exc.fields.items())


@dataclass(frozen=True)
class Outcome:
    """What became of one row: created, valid (dry run), exists (imported before) or rejected."""

    line: int
    ticket: str | None
    result: str
    detail: str = ""


def import_rows(rt: Engine, actor: Actor | int, rows: list[dict[str, str]], mapping: Mapping, *,
                dry_run: bool = False, progress: Callable[[], None] = lambda: None) -> list[Outcome]:
    """Each row as its own report command by ``actor``, held to its rules (``policy.check_start``,
    ``policy.may_report_in``: a row she may not report is rejected with the reason); line
    numbers count the header as line 1. A dry run checks every row as the import would and
    stores nothing."""
    with rt.db.reading() as s:
        who = org.actor(s, actor)
    outcomes: list[Outcome] = []
    seen: dict[str, int] = {}  # ticket: the line it was first on
    for line, row in enumerate(rows, start=2):
        outcomes.append(_import_row(rt, who, line, row, mapping, dry_run, seen))
        progress()
    return outcomes


def _import_row(rt: Engine, who: Actor, line: int, row: dict[str, str], mapping: Mapping, dry_run: bool,
                seen: dict[str, int]) -> Outcome:
    try:
        ticket, report = to_report(row, mapping)
    except RowError as exc:
        return Outcome(line, row.get(mapping.columns["ticket"]) or None, "rejected", str(exc))
    if ticket in seen:
        return Outcome(line, ticket, "exists", f"the same ticket as line {seen[ticket]}")
    seen[ticket] = line
    try:
        if dry_run:
            start_commands.check_report(rt, who, report, external_ref=ticket)
            return Outcome(line, ticket, "valid")
        case = start_commands.report_case(rt, who, report, external_ref=ticket)
    except Conflict as exc:
        return Outcome(line, ticket, "exists", exc.message)
    except EngineError as exc:
        return Outcome(line, ticket, "rejected", _reason(exc, mapping))
    return Outcome(line, ticket, "created", case.number or "")


# ------------------------------------------------------------------------------ export

def _yes_no(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _exported(mapping: Mapping, name: str, value: str | datetime | None) -> str | datetime | None:
    """A text value as the mapping's [export] values translate it."""
    return mapping.export_values.get(name, {}).get(value, value) if isinstance(value, str) else value


def export_rows(s: Session, actor: Actor | None, since: datetime, mapping: Mapping
                ) -> tuple[list[str], list[list[Any]]]:
    """Every hotline case changed since ``since`` (of the actor's area; None: the operator,
    everything): its ticket, case number, status, stage, what was done, the callback's
    answers and its times, headed and translated as the mapping's [export] says."""
    if not policy.may_export_hotline(actor):
        raise Forbidden("only acceptors and supervisors export hotline cases")
    query = (select(Case).where(Case.source == SOURCE, Case.external_ref.is_not(None), Case.updated_at >= since)
             .order_by(Case.updated_at, Case.id))
    if actor is not None:
        if not actor.org_path:
            return [mapping.export_columns[f] for f in EXPORT_FIELDS], []
        query = query.where(policy.within(Case.org_path, actor.org_path))
    cases = list(s.scalars(query))
    results: dict[int, str] = {}
    # What was done: the last resolution of a task of a handling stage of the case's process version.
    stages = casestages.of_instances(s, (c.instance_id for c in cases))
    handling = {c.id: stages.get(c.instance_id or 0, casestages.NONE).handling for c in cases}
    named = {stage for names in handling.values() for stage in names}
    if named:
        done = s.execute(select(Task.case_id, Task.stage, Task.data).where(
            Task.case_id.in_([c.id for c in cases]), Task.status == "completed", Task.stage.in_(named))
            .order_by(Task.completed_at, Task.id))
        for case_id, stage, data in done:
            if stage in handling[case_id] and isinstance(data, dict) and data.get("resolution"):
                results[case_id] = data["resolution"]
    rows: list[list[Any]] = []
    for case in cases:
        plain: dict[str, str | datetime | None] = {
            "ticket": case.external_ref, "number": case.number, "status": case.status, "stage": case.stage,
            "result": results.get(case.id, ""), "contacted": _yes_no(case.feedback_contacted),
            "resolved": _yes_no(case.feedback_resolved), "satisfaction": case.satisfaction or "",
            "comment": case.feedback_comment or "", "feedback_at": case.feedback_at, "due_at": case.due_at,
            "closed_at": case.closed_at}
        rows.append([_exported(mapping, f, plain[f]) for f in EXPORT_FIELDS])
    return [mapping.export_columns[f] for f in EXPORT_FIELDS], rows
