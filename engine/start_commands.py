"""The commands that start work: a case reported by staff (or checked without writing), a
case reported from a public channel, any other process started by key.

Each is a function taking the runtime as ``command.Engine`` and running in one
``rt.command()``; ``Runtime`` has a one-line method for each, so callers hold one object.
The case row and its instance are made by ``cmd.open_case`` and ``cmd.start`` (the
runtime's, as scripts' reported cases and messages start them too) from ``new_case`` and
``case_data``, which a draft's trial run uses as well.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import definitions, forms, org, policy, residents
from .command import case_process
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .inputs import check_text
from .model import Case, OrgUnit
from .photos import Stored as StoredPhoto
from .records import CaseRecord, TaskRow

if TYPE_CHECKING:
    from .command import Engine


@dataclass(frozen=True)
class CaseRef:
    """A case a command reported or answered for: what its caller shows or links to."""

    id: int
    number: str | None
    instance_id: int | None
    status_token: str | None  # the reporter's status link (public reports only)

    @classmethod
    def of(cls, case: Case | CaseRecord) -> CaseRef:
        return cls(case.id, case.number, case.instance_id, case.status_token)


@dataclass(frozen=True)
class Started:
    """A started instance as its starting transaction left it, with its open tasks."""

    id: int
    key: str
    version: int
    status: str
    started_at: datetime
    ended_at: datetime | None
    next_timer_at: datetime | None
    open_tasks: list[TaskRow]


def start_process(rt: Engine, actor: org.Actor | int | None, key: str, data: dict[str, Any] | None = None,
                  version: int | None = None) -> Started:
    """Start any deployed process by key (newest version unless one is given), if the
    actor may (``policy.check_start``; None: the system)."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.acting(s, actor)
        definition_id = definitions.definition_id(s, key, version)
        if definition_id is None:
            raise NotFound(f"process '{key}'" + (f" version {version}" if version else "") + " not deployed")
        loaded = rt.specs.get(s, definition_id)
        if loaded.is_case_process:
            raise InvalidInput(f"'{key}' is a case process: report a case to start it")
        policy.check_start(who, loaded)
        data = forms.validate(loaded.start_form, data or {})
        policy.check_start_data(s, who, loaded, data)
        inst = cmd.start(loaded, who.id if who else None, dict(data))
        assert inst.started_at is not None  # (cmd.start sets it)
        return Started(inst.id, inst.key, loaded.version, inst.status, inst.started_at, inst.ended_at,
                       inst.next_timer_at, cmd.open.get(inst.id, []))


def check_report(rt: Engine, actor: org.Actor | int, report: dict[str, Any], key: str | None = None,
                 external_ref: str | None = None) -> dict[str, Any]:
    """What report_case would refuse, refused the same way, with nothing written (a dry run)."""
    with rt.db.reading() as s:
        return _admit(rt, s, actor, report, key, external_ref)[2]


def report_case(rt: Engine, actor: org.Actor | int, report: dict[str, Any], key: str | None = None,
                external_ref: str | None = None, photos: list[StoredPhoto] | None = None) -> CaseRef:
    """Report a case to case process ``key`` (else the one deployed): validate it with the
    process's start form, create the case, start it.
    ``external_ref``: its number in the system it came from (one case per source and number);
    ``photos``: what was reported, prepared by ``engine.photos.prepare``."""
    with rt.command() as cmd:
        reporter, loaded, report, grid = _admit(rt, cmd.session, actor, report, key, external_ref)
        return CaseRef.of(cmd.open_case(loaded, report, grid, reporter.id, external_ref=external_ref,
                                        photos=photos))


def report_public(rt: Engine, report: dict[str, Any], key: str | None = None, *, via: dict[str, Any] | None = None,
                  photos: list[StoredPhoto] | None = None) -> CaseRef:
    """A report from outside, without an account (a resident's page or QR code, an Open311
    client): one of ``residents.PUBLIC_SOURCES``; the case gets a status link's token.
    ``via`` (the QR place, the client application) goes into the case's history."""
    with rt.command() as cmd:
        s = cmd.session
        loaded = cmd.case_process(key)
        report = forms.validate(loaded.start_form, report)
        if report["source"] not in residents.PUBLIC_SOURCES:
            raise InvalidInput(f"source '{report['source']}' is not a public channel",
                               fields={"source": f"one of {', '.join(residents.PUBLIC_SOURCES)}"})
        grid = org.grid_by_code(s, report["grid"])
        case = cmd.open_case(loaded, report, grid, None, status_token=secrets.token_urlsafe(24), photos=photos)
        if via:
            cmd.event("reported_via", case.instance_id, case.id, actor_id=None, payload=via)
        return CaseRef.of(case)


def _admit(rt: Engine, s: Session, actor: org.Actor | int, report: dict[str, Any], key: str | None,
           external_ref: str | None) -> tuple[org.Actor, definitions.LoadedDefinition, dict[str, Any], OrgUnit]:
    """Everything report_case checks before it writes: the reporter, the case process, the
    report against its start form, the grid in her area, a ticket not yet imported."""
    reporter = org.actor(s, actor)
    loaded = case_process(s, rt.specs, key)
    policy.check_start(reporter, loaded)
    report = forms.validate(loaded.start_form, report)
    grid = org.grid_by_code(s, report["grid"])
    if not policy.may_report_in(reporter, grid.path):
        raise Forbidden(f"grid '{grid.code}' is outside your area", reason="grid_outside_area")
    if external_ref is not None:
        check_text("external_ref", external_ref)
        known = s.scalar(select(Case.number).where(Case.source == report["source"],
                                                   Case.external_ref == external_ref))
        if known is not None:
            raise Conflict(f"{report['source']} ticket {external_ref} is already case {known}")
    return reporter, loaded, report, grid


def new_case(report: dict[str, Any], grid: OrgUnit, user_id: int | None, now: datetime) -> Case:
    """The case row of a checked report (not yet added to any session)."""
    reporter_info, location = report.get("reporter") or {}, report.get("location") or {}
    return Case(title=report["title"], description=report.get("description", ""),
                category=report["category"], urgency=report.get("urgency", "normal"),
                source=report["source"], grid=grid, org_path=grid.path,
                address=location.get("address"), lat=location.get("lat"), lon=location.get("lon"),
                reporter_name=reporter_info.get("name"), reporter_phone=reporter_info.get("phone"),
                reported_by_id=user_id, reported_at=now, updated_at=now)


def case_data(case: Case, grid: OrgUnit) -> dict[str, Any]:
    """A case process's start data: the case as its process sees it."""
    return {"title": case.title, "description": case.description, "category": case.category,
            "urgency": case.urgency, "source": case.source, "grid": grid.code,
            "grid_chain": org.chain_above(grid), "reporter_name": case.reporter_name,
            "reporter_phone": case.reporter_phone, "address": case.address,
            "lat": case.lat, "lon": case.lon, "case_number": case.number}
