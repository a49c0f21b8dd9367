"""Where an instance stands in its diagram, from the read model (no workflow is restored).

Per BPMN element: ``active`` (an open user task), ``overdue`` (open and past its limit or
marked by a timer), ``incident`` (where the instance failed or stalled) or ``completed``, and
``count``: how often it was passed — user tasks by their task rows, timers by their firings,
so rework and escalation loops show as counts above 1. Gateways and script tasks leave no
rows and are not marked.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .model import Event, Incident, Task
from .org import Actor
from .queries import visible_instance

__all__ = ["instance_diagram", "visible_instance"]

_RANK = {"completed": 0, "active": 1, "overdue": 2, "incident": 3}


def instance_diagram(s: Session, actor: Actor, instance_id: int, now: datetime) -> dict[str, Any]:
    inst = visible_instance(s, actor, instance_id)
    elements: dict[str, dict[str, Any]] = {}
    counts: Counter[str | None] = Counter()

    def mark(element: str | None, state: str) -> None:
        if element is None:
            return
        current = elements.setdefault(element, {"state": state, "count": 0})
        if _RANK[state] > _RANK[current["state"]]:
            current["state"] = state

    for element, status, due_at, overdue_at in s.execute(
            select(Task.element_id, Task.status, Task.due_at, Task.overdue_at).where(Task.instance_id == instance_id)):
        if status == "cancelled":
            continue
        counts[element] += 1
        if status in ("open", "claimed"):
            late = overdue_at is not None or (due_at is not None and due_at < now)
            mark(element, "overdue" if late else "active")
        else:
            mark(element, "completed")
    for (payload,) in s.execute(select(Event.payload).where(Event.instance_id == instance_id,
                                                            Event.type == "timer_fired")):
        element = (payload or {}).get("element")
        counts[element] += 1
        mark(element, "completed")
    for (element,) in s.execute(select(Incident.element).where(Incident.instance_id == instance_id,
                                                              Incident.status == "open")):
        mark(element, "incident")
    for element, entry in elements.items():
        entry["count"] = counts.get(element, 0)
    return {"instance_id": inst.id, "key": inst.key, "version": inst.version, "status": inst.status,
            "elements": elements}
