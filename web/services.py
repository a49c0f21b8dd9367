"""How views reach the engine: the app's Runtime, its clock, a read-only session and the
case process's forms."""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from engine import definitions
from engine.errors import NotFound
from engine.runtime import Runtime

CASE_PROCESS = "closed_loop"  # the process reports start (Runtime.report_case's default)


def runtime() -> Runtime:
    return current_app.extensions["gridloop"]


def now() -> datetime:
    return runtime().clock.now()


def reading() -> AbstractContextManager[Session]:
    return runtime().db.reading()


def case_process_forms(s: Session) -> tuple[dict, dict]:
    """The forms and properties of the newest case process: its start form is the report
    form, its feedback form the public page's."""
    row = definitions.find_definition(s, CASE_PROCESS)
    if row is None:
        raise NotFound(f"process '{CASE_PROCESS}' not deployed")
    return row.forms, row.properties


def report_form(s: Session) -> dict | None:
    forms, properties = case_process_forms(s)
    return forms.get(properties.get(definitions.START_FORM_PROPERTY))
