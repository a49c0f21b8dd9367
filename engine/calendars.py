"""The working calendar as a designer looks after it: which years have a published State
Council notice, which deadlines were counted on statutory holidays alone (provisional)
because their year had none yet, and loading a notice when it is published.

Where a year's days come from, first found wins:

1. the newest notice loaded for that year (``gridloop calendar load``, ``POST
   /calendar/notices``), kept in the database (``calendar_notice``) so every process and
   worker reads the same; a command checks for a newer load when it first needs the calendar
   (:func:`refresh`, ``Command.calendar``);
2. the year in the shipped ``workflows/calendars/cn.json``, the defaults;
3. the ``holidays`` package's statutory holidays: deadlines counted so are provisional.

Loading a notice recomputes, in the same transaction, every provisional deadline of its
year that an open case or running process still waits on (:func:`load`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from SpiffWorkflow.task import TaskState

from . import deadlines, notices, org, policy, readmodel, records, timers
from .errors import Conflict
from .model import CalendarNotice, Event, ProcessInstance, User
from .state import compact, dump_state
from .workcalendar import WorkCalendar

if TYPE_CHECKING:
    from .command import Command, Engine

MAX_LISTED = 500


def refresh(rt: Engine, s: Session, version: int | None = None) -> None:
    """Take up the notices loaded since this process last looked: ``version`` is the newest
    notice's id if the caller read it already (with an instance's lock), else one indexed ``max``."""
    if version is None:
        version = records.notice_version(s)
    if version != rt.calendar.version:
        loaded = {row.year: row.notice for row in s.scalars(select(CalendarNotice).order_by(CalendarNotice.id))}
        rt.calendar = rt.calendar.with_notices(loaded, version)


def calendar_status(s: Session, actor: org.Actor, rt: Engine) -> dict[str, Any]:
    """Published years, the notices loaded, and the newest provisional deadlines whose years
    still have no notice (instance, case, limit, due, years)."""
    policy.check_designer(actor)
    refresh(rt, s)
    calendar = rt.calendar
    published = set(calendar.covered_years)
    query = (select(Event.id, Event.instance_id, Event.case_id, Event.at, Event.payload)
             .where(Event.type == "deadline_provisional").order_by(Event.id.desc()).limit(MAX_LISTED))
    provisional: list[dict[str, Any]] = []
    rows = s.execute(query).all()
    while rows and len(provisional) < MAX_LISTED:  # page back past the notes of years since published
        provisional += [{"instance_id": r.instance_id, "case_id": r.case_id, "at": r.at, **r.payload}
                        for r in rows if set((r.payload or {}).get("years", ())) - published]
        rows = s.execute(query.where(Event.id < rows[-1].id)).all()
    del provisional[MAX_LISTED:]
    loads = s.execute(select(CalendarNotice.id, CalendarNotice.year, CalendarNotice.sha256,
                             CalendarNotice.loaded_at, CalendarNotice.notice, User.username)
                      .outerjoin(User, User.id == CalendarNotice.loaded_by_id)
                      .order_by(CalendarNotice.id.desc()).limit(MAX_LISTED))
    return {"country": calendar.country, "published_years": sorted(published),
            "notices": [{"id": r.id, "year": r.year, "source": r.notice["source"], "sha256": r.sha256,
                         "loaded_at": r.loaded_at, "loaded_by": r.username} for r in loads],
            "provisional": provisional}


@dataclass(frozen=True)
class NoticeLoaded:
    """A loaded notice and each due time it moved (the ``deadline_recomputed`` payloads, with
    their ``instance_id`` and ``case_id``)."""

    id: int
    year: int
    source: str
    sha256: str
    moved: list[dict[str, Any]]


def load(rt: Engine, actor: org.Actor | int | None, raw: bytes | str) -> NoticeLoaded:
    """Check and store a notice (designers; ``None`` is the system), then move the open
    provisional deadlines of its year: all in one transaction, nothing if anything is wrong."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.acting(s, actor)
        policy.check_calendar(who)
        user_id = who.id if who is not None else None
        notice = notices.parse(raw, rt.calendar.weekend)
        now = rt.clock.now()
        replaces = rt.calendar.notices.get(notice.year)
        row = CalendarNotice(year=notice.year, notice=notice.content, sha256=notice.sha256,
                             loaded_by_id=user_id, loaded_at=now)
        s.add(row)
        s.flush()
        calendar = rt.calendar.with_notices({**rt.calendar.notices, notice.year: notice.content}, row.id)
        why = {"year": notice.year, "notice": notice.content["source"], "notice_id": row.id}
        moved = _recompute(cmd, calendar, why, user_id, now)
        cmd.event("calendar_notice_loaded", None, None, None, user_id,
                  {"year": notice.year, "source": notice.content["source"], "sha256": notice.sha256,
                   "notice_id": row.id, "replaces": (replaces or {}).get("source"), "moved": len(moved)})
    return NoticeLoaded(row.id, notice.year, notice.content["source"], notice.sha256, moved)


def _recompute(cmd: Command, calendar: WorkCalendar, why: dict[str, Any], actor_id: int | None,
               now: datetime) -> list[dict[str, Any]]:
    """Each running instance's provisional deadlines of the notice's year, counted again on
    ``calendar`` from the start and limit they were counted with; closed cases stay as they are."""
    s, year = cmd.session, why["year"]
    notes: dict[int, list[dict[str, Any]]] = {}  # instance id: its provisional notes
    for instance_id, payload in s.execute(
            select(Event.instance_id, Event.payload).join(ProcessInstance, ProcessInstance.id == Event.instance_id)
            .where(Event.type == "deadline_provisional", ProcessInstance.status == "running").order_by(Event.id)):
        if year in (payload or {}).get("years", ()) and payload.get("start"):
            notes.setdefault(instance_id, []).append(payload)
    moved: list[dict[str, Any]] = []
    for instance_id, found in notes.items():
        inst = records.lock_instance(s, instance_id)
        assert inst is not None  # (instances are never deleted)
        case = cmd.case(inst.case_id)
        if inst.status != "running" or (case is not None and case.status != "open"):
            continue
        changes = _changes(s, calendar, inst.id, found)
        if not changes:
            continue
        loaded = cmd.loaded(inst)
        wf = cmd.restore(inst, loaded)
        moves = deadlines.recompute(cmd, inst, wf, case, changes, why, actor_id, now)
        for note in found:
            start = datetime.fromisoformat(note["start"])
            due = calendar.add(start, note["limit"])
            years = calendar.provisional_years(start, due)
            if years:  # counted again, still into a year without a notice
                cmd.event("deadline_provisional", inst, inst.case_id, note.get("task"), None,
                          {**note, "due": due.isoformat(), "years": years})
        compact(wf)
        inst.state = dump_state(wf)
        inst.next_timer_at = timers.next_due(wf)
        inst.data = readmodel.to_json(readmodel.process_data(wf, wf.get_tasks(state=TaskState.READY, manual=True)))
        if not records.save_instance(s, inst):
            raise Conflict("a case was changed by another command at the same time; load the notice again")
        cmd.saved[inst.id] = (inst, wf)
        moved.extend({"instance_id": inst.id, "case_id": inst.case_id, **m} for m in moves)
    return moved


def _changes(s: Session, calendar: WorkCalendar, instance_id: int,
             found: list[dict[str, Any]]) -> dict[datetime, tuple[datetime, str]]:
    """Old due time (as the instance holds it now) -> (new due time, limit). A deadline moved by
    earlier loads is followed to where each load, in turn, put it."""
    earlier: dict[int, dict[str, str]] = {}  # per load: from -> to
    for e in s.scalars(select(Event.payload).where(Event.instance_id == instance_id,
                                                   Event.type == "deadline_recomputed").order_by(Event.id)):
        earlier.setdefault(e["notice_id"], {})[e["from"]] = e["to"]
    changes: dict[datetime, tuple[datetime, str]] = {}
    for note in found:
        current = note["due"]
        for moves in earlier.values():
            current = moves.get(current, current)
        old, new = datetime.fromisoformat(current), calendar.add(datetime.fromisoformat(note["start"]), note["limit"])
        if old != new:
            changes.setdefault(old, (new, note["limit"]))
    return changes
