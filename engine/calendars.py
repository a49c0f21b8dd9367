"""The working calendar as a designer looks after it: which years have a published State
Council notice, and which deadlines were counted on statutory holidays alone (provisional)
because their year had none yet."""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import org
from .model import Event
from .versions import check_designer
from .workcalendar import WorkCalendar

MAX_LISTED = 500


def calendar_status(s: Session, actor: org.Actor, calendar: WorkCalendar) -> dict[str, Any]:
    """Published years, and the newest provisional deadlines (instance, case, limit, due, years)."""
    check_designer(actor)
    rows = s.execute(select(Event.instance_id, Event.case_id, Event.at, Event.payload)
                     .where(Event.type == "deadline_provisional").order_by(Event.id.desc()).limit(MAX_LISTED))
    return {"country": calendar.country, "published_years": list(calendar.covered_years),
            "provisional": [{"instance_id": r.instance_id, "case_id": r.case_id, "at": r.at, **(r.payload or {})}
                            for r in rows]}
