"""A history as a timeline: what each event says, for the case page, the task page's brief and
the diagram's element list. Each item carries the key of its sentence (web/i18n.py's
``EVENTS`` words it in the page's language), the task, people, units and process it names in
both languages, its coded values and its free-text note: the engine decides what an event
means, the web only translates it."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from . import queries

UNIT_EVENTS = ("escalated", "rework", "returned", "superior_notified", "handed_down")  # name a unit by code
REPORTS_IN = ("dept_liaison",)  # roles whose claim is a "report in" (报到): the liaison answering a whistle
NOTE_FIELDS = ("resolution", "note", "comment", "return_reason", "reason")  # free text shown under a sentence
MOVES_DUE = ("due_extended", "task_extended", "deadline_recomputed")  # move a due time ``from`` ``to``
NAMES_TIMER = ("timer_fired", "task_overdue")  # their payload names the timer, not the task


Event = dict[str, Any]  # a row of ``queries.history``
Names = dict[str, tuple[str, str | None]]  # (name, English name) by code


def read(s: Session, history: list[Event], satisfaction: str | None = None) -> list[dict[str, Any]]:
    """``history`` (``queries.history``) as timeline items, with the consultation units,
    processes and assignees its payloads code by name (three batch reads); ``satisfaction``:
    the case's, for a ``case_closed`` whose payload does not carry it."""
    def coded(types: tuple[str, ...], field: str) -> set[str]:
        return {str(v) for e in history if e["type"] in types and (v := (e["payload"] or {}).get(field))}
    return items(history, satisfaction=satisfaction, units=queries.unit_names(s, coded(UNIT_EVENTS, "consult_unit")),
                 processes=queries.process_names(s, coded(("instance_started",), "key")),
                 users=queries.user_names(s, coded(("task_assigned",), "assignee")))


def items(history: list[Event], *, satisfaction: str | None = None, units: Names | None = None,
          processes: dict[str, str] | None = None, users: Names | None = None) -> list[dict[str, Any]]:
    """The items of ``history`` given the names its payloads code. Task names come from the
    ``task_created`` events of the same history, so events that name a task only by id
    (timers, overdue marks) or in English only still read in both languages."""
    tasks = {e["task_id"]: e["payload"] for e in history
             if e["type"] == "task_created" and e.get("task_id") and e.get("payload")}
    return [_item(e, tasks.get(e.get("task_id")), satisfaction, units or {}, processes or {}, users or {})
            for e in history]


def _item(event: Event, known: dict[str, Any] | None, satisfaction: str | None, units: Names,
          processes: dict[str, str], users: Names) -> dict[str, Any]:
    payload = event.get("payload") or {}
    kind = event["type"]
    key = kind
    if kind == "task_claimed" and (known or payload).get("role") in REPORTS_IN:
        key = "task_reported_in"
    elif kind == "task_completed" and payload.get("via") == "public_link":
        key = "feedback_by_link"
    if kind in NAMES_TIMER:
        task = known or {"element": payload.get("attached_to") or payload.get("element")}
    else:
        task = payload if payload.get("name_zh") or not known else {**payload, **known}
    data: dict[str, Any] = payload["data"] if isinstance(payload.get("data"), dict) else {}
    unit, assignee = payload.get("consult_unit"), payload.get("assignee")
    return {
        "type": kind, "key": key, "at": event["at"],
        "element": payload.get("element") or (known or {}).get("element"),
        "actor": {"username": event.get("actor"), "name": event.get("actor_name"),
                  "name_en": event.get("actor_name_en")} if event.get("actor") else None,
        "task": {"name": task.get("name"), "name_zh": task.get("name_zh"), "element": task.get("element")},
        "values": {k: v for k, v in payload.items() if isinstance(v, (str, int, float))},
        "process": processes.get(str(payload.get("key"))) or payload.get("key"),
        "assignee": users.get(assignee, (assignee, None)) if assignee else None,
        "unit": units.get(unit, (unit, None)) if unit else None,
        "satisfaction": payload.get("satisfaction") or data.get("satisfaction") or satisfaction,
        "moves_due": kind in MOVES_DUE,
        "note": _note(kind, payload, data),
    }


def _note(kind: str, payload: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The free text an event carries: a form's resolution or comment, an urging's note, an error."""
    if kind == "timer_failed":
        error = payload.get("error")
        return str(error) if error is not None else None
    for source in (data, payload):
        found = next((str(source[f]) for f in NOTE_FIELDS if isinstance(source.get(f), str) and source[f]), None)
        if found:
            return found
    return None
