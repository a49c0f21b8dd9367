"""How views reach the engine: the app's Runtime, its clock and calendar's time zone, a
read-only session, the case process's report form, and names (users', org units') for task
dicts the pages show."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, tzinfo

from flask import current_app
from sqlalchemy.orm import Session

from gridloop.engine import definitions, queries
from gridloop.engine.errors import NotFound
from gridloop.engine.runtime import Runtime



def runtime() -> Runtime:
    return current_app.extensions["gridloop"]


def now() -> datetime:
    return runtime().clock.now()


def local_tz() -> tzinfo:
    """The working calendar's time zone: where "today" and "this week" begin."""
    return runtime().calendar.tz


def reading() -> AbstractContextManager[Session]:
    return runtime().db.reading()


def case_process_forms(s: Session) -> tuple[dict, dict]:
    """The forms and properties of the newest version of the case process reports start
    (Runtime.report_case's): its start form is the report form, and its enum labels name
    coded values on every page."""
    definition_id = definitions.case_process_id(s, None, runtime().specs)
    row = definitions.definition_row(s, definition_id) if definition_id is not None else None
    if row is None:
        raise NotFound("no case process is deployed")
    return row.forms, row.properties


def report_form(s: Session) -> dict | None:
    forms, properties = case_process_forms(s)
    return forms.get(properties.get(definitions.START_FORM_PROPERTY))


# ------------------------------------------------------------------------------ task lists

def with_names(s: Session, items: list[dict]) -> list[dict]:
    """Task dicts with the holder's display names and their org unit's names (both languages),
    for pages that show names where the API gives codes: two batch queries."""
    people = queries.user_names(s, {t["assignee"] for t in items if t.get("assignee")})
    units = queries.unit_names(s, {t["org_unit"] for t in items if t.get("org_unit")})
    for t in items:
        t["assignee_name"], t["assignee_name_en"] = people.get(t.get("assignee"), (None, None))
        t["org_unit_name"], t["org_unit_name_en"] = units.get(t.get("org_unit"), (None, None))
    return items
