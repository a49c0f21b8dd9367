"""What residents do without an account: report from a QR code or the plain public page, and
follow their case by its status link. Everything shown here is in the citizen's words: a
coarse stage, the deadline and what was done, never staff names or internal codes."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import casestages, definitions, photos, places, queries
from .errors import InvalidInput, NotFound
from .model import Case, ProcessDefinition, ProcessInstance, Task

if TYPE_CHECKING:
    from .runtime import Runtime
    from .start_commands import CaseRef

# The sources of reports made without an account (start_commands.report_public).
PUBLIC_SOURCES = ("resident", "qr", "open311")


@dataclass(frozen=True)
class PublicReport:
    """What a resident types: the rest (place, grid, source) comes from the code she scanned."""

    category: str
    description: str = ""
    name: str | None = None
    phone: str | None = None
    detail: str | None = None  # where exactly: "unit 3, 5th floor"


def report(rt: Runtime, place: places.PlaceInfo, answer: PublicReport, source: str,
           uploads: list[photos.Upload] | tuple[photos.Upload, ...] = ()) -> CaseRef:
    """Report at a place: the QR code's (source ``qr``) or the compound picked on the plain
    page (``resident``), with at most ``photos.PUBLIC_MAX`` photos. The case process's start
    form checks the result."""
    names = {c["code"]: c["name"] for c in rt.categories()}
    if answer.category not in names:
        raise InvalidInput(f"unknown category '{answer.category}'", fields={"category": "choose a category"})
    try:
        stored = photos.prepare(rt, list(uploads), photos.PUBLIC_MAX)
    except InvalidInput as exc:  # her form has one photo field
        reason = next(iter(exc.field_reasons.values()), (exc.reason, {}))
        raise type(exc)(exc.message, fields={"photos": exc.message}, reason=exc.reason,
                        field_reasons={"photos": reason}) from None
    reporter = {k: v for k, v in (("name", answer.name), ("phone", answer.phone)) if v}
    address = f"{place.address} {answer.detail}" if answer.detail else place.address
    location: dict[str, Any] = {"address": address[:200]}
    if place.lat is not None and place.lon is not None:
        location.update(lat=place.lat, lon=place.lon)
    body = {"title": f"{names[answer.category]}·{place.name}"[:100], "description": answer.description,
            "category": answer.category, "source": source, "grid": place.grid, "location": location}
    if reporter:
        body["reporter"] = reporter
    return rt.report_public(body, via={"ref": place.code}, photos=stored)


def _resolution(s: Session, case_id: int) -> str | None:
    """What was done, as the handler wrote it (the newest completed task that said so)."""
    for (data,) in s.execute(select(Task.data).where(Task.case_id == case_id, Task.status == "completed")
                             .order_by(Task.completed_at.desc(), Task.id.desc())):
        resolution = data.get("resolution") if isinstance(data, dict) else None
        if isinstance(resolution, str) and resolution.strip():
            return resolution.strip()
    return None


def status(s: Session, token: str) -> dict[str, Any]:
    """The status link's view of a case: number, category, coarse stage, deadline, and when
    done what was done; the feedback link while her answer is awaited."""
    case = s.scalars(select(Case).where(Case.status_token == token)).first()
    if case is None:
        raise NotFound("unknown status link")
    return citizen_view(s, case)


def citizen_view(s: Session, case: Case) -> dict[str, Any]:
    """The case in the citizen's words: its stage as its process version's ``citizenStages`` says."""
    stage = casestages.of_instance(s, case.instance_id).citizen_status(case.stage)
    waiting = stage == "awaiting_feedback" and case.feedback_at is None and case.feedback_token is not None
    return {"number": case.number, "category": case.category, "stage": stage, "status": case.status,
            "reported_at": case.reported_at, "due_at": case.due_at, "updated_at": case.updated_at,
            "closed_at": case.closed_at, "address": case.address,
            "resolution": _resolution(s, case.id) if stage in ("checking", "awaiting_feedback", "done") else None,
            "feedback_token": case.feedback_token if waiting else None}



def feedback_link(s: Session, token: str, now: datetime) -> dict[str, Any]:
    """The reporter's feedback link as she sees it: the link's state, what was done, and the
    questions of her case's process version (its citizen feedback form; the feedback task's
    own form where the process names none)."""
    link = queries.feedback_link(s, token, now)
    case = s.scalars(select(Case).where(Case.feedback_token == token)).one()
    properties = s.scalar(select(ProcessDefinition.properties).join(
        ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id)
        .where(ProcessInstance.id == case.instance_id)) or {}
    assert case.instance_id is not None  # a case with a feedback link was handled by a process
    forms = queries.instance_forms(s, case.instance_id)
    citizen_form = properties.get(definitions.CITIZEN_FEEDBACK_FORM_PROPERTY)
    citizen = forms.get(citizen_form) if citizen_form is not None else None
    return {**link, "schema": citizen or link["schema"], "resolution": _resolution(s, case.id)}
