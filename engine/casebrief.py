"""What came before a task: the case's recent history and the last word of each kind that the
task's holder needs in front of her (the resolution she must verify, the citizen's complaint
behind a rework, why a case was escalated or returned), each with who said it and when.

Read from the history table only (never a workflow); the caller must be allowed to see the task.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from .model import Event, User
from .org import Actor
from .queries import visible_task

RECENT = 8  # timeline events a task page shows
# Bookkeeping a caseworker does not need on a task page (the case page shows everything).
QUIET = ("instance_started", "task_created", "task_cancelled", "stage_changed", "instance_completed",
         "message_sent", "message_received", "signal_sent", "signal_received", "deadline_provisional")
# Submitted fields that carry each kind of note, by the form's field name (workflows/forms/).
NOTE_FIELDS = {"resolution": ("resolution",), "return": ("return_reason",), "complaint": ("comment",),
               "escalation": ("note",), "verification": ("note",), "refusal": ("comment",)}
UNSATISFIED = "unsatisfied"


def _kind(payload: dict[str, Any]) -> str | None:
    """Which kind of note a completed task's data is, from what it submitted."""
    data = payload.get("data")
    if not isinstance(data, dict):
        data = {}
    outcome = payload.get("outcome")
    if data.get("satisfaction") == UNSATISFIED:
        return "complaint"
    if outcome == "escalate":
        return "escalation"
    if outcome == "failed":
        return "verification"
    if outcome == "refuse":
        return "refusal"
    if data.get("return_reason"):
        return "return"
    if data.get("resolution"):
        return "resolution"
    return None


def _note(event: Row[Any]) -> dict[str, Any] | None:
    payload = event.payload or {}
    kind: str | None
    text: str | None
    if event.type == "escalated":  # a climb the process made itself (a department let its limit pass)
        if event.actor_id is not None:
            return None  # the escalating task's completion already says who and why
        kind, text = "escalation", None
    elif event.type == "task_completed":
        kind = _kind(payload)
        if kind is None:
            return None
        data = payload.get("data") or {}
        text = next((data[f] for f in NOTE_FIELDS[kind] if isinstance(data.get(f), str) and data[f].strip()), None)
    else:
        return None
    return {"kind": kind, "text": text, "reason": payload.get("reason"), "at": event.at,
            "by": event.username, "by_name": event.display_name, "by_name_en": event.display_name_en,
            "task_id": event.task_id,
            "task": {"element": payload.get("element"), "name": payload.get("name"), "name_zh": payload.get("name_zh")},
            "outcome": payload.get("outcome"), "escalation_level": payload.get("escalation_level")}


def task_brief(s: Session, actor: Actor, task_id: str) -> dict[str, Any]:
    """The task's case in brief: ``recent`` (its last RECENT notable events, oldest first, as
    ``queries.history`` gives them) and ``notes`` (the newest note of each kind, newest first:
    resolution, complaint, escalation, return, verification, refusal)."""
    task = visible_task(s, actor, task_id)
    if task.case_id is None:
        return {"recent": [], "notes": []}
    rows = s.execute(select(Event.id, Event.type, Event.at, Event.actor_id, Event.task_id, Event.payload,
                            User.username, User.display_name, User.display_name_en)
                     .outerjoin(User, User.id == Event.actor_id)
                     .where(Event.case_id == task.case_id).order_by(Event.id.desc())).all()
    notes: dict[str, dict[str, Any]] = {}
    for row in rows:
        note = _note(row)
        if note is not None and note["kind"] not in notes and note["task_id"] != task.id:
            notes[note["kind"]] = note
    recent = [{"id": r.id, "type": r.type, "at": r.at, "actor": r.username, "actor_name": r.display_name,
               "actor_name_en": r.display_name_en,
               "task_id": r.task_id, "payload": r.payload} for r in rows if r.type not in QUIET][:RECENT]
    return {"recent": recent[::-1], "notes": list(notes.values())}
