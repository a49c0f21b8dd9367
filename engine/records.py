"""Row I/O of the commands' hot path: process instances, task and case rows, history.

Every command reads and writes these rows a few times, so the statements are built once and
run on the session's connection with bound parameters: on SQLite, building an ORM statement
and flushing a unit of work costs more than running the SQL.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, exists, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.orm import Session

from . import rollups
from .model import Case, CaseException, CalendarNotice, Event, ProcessInstance, Task

_PI = ProcessInstance.__table__
_T = Task.__table__
_TASK = [c for c in _T.c if c.key != "input"]  # commands never need a task's input data
_CASE = Case.__table__
_INSTANCE_COLUMNS = (_PI.c.id, _PI.c.definition_id, _PI.c.key, _PI.c.case_id, _PI.c.status, _PI.c.revision,
                     _PI.c.started_by_id, _PI.c.ended_at, _PI.c.next_timer_at)
# The newest holiday notice's id (0: none), read with an instance's lock: the command then
# knows whether its working calendar is current without a statement of its own (engine/calendars.py).
_NOTICE_VERSION = select(func.coalesce(func.max(CalendarNotice.__table__.c.id), 0))
# FOR NO KEY UPDATE: commands on one instance queue behind each other, while rows that only
# reference the instance (a claim's history event) can still be inserted meanwhile.
_LOCK_INSTANCE = (select(*_INSTANCE_COLUMNS, _NOTICE_VERSION.scalar_subquery()).where(_PI.c.id == bindparam("iid"))
                  .with_for_update(key_share=True))
_OPEN = ("open", "claimed")
# A task's instance, locked, with the task and the instance's other open tasks. The row lock
# is granted last: the task rows, and the unlocked copy ``seen`` of the instance row, are as
# they were when the statement began, while the locked row is re-read once granted. Equal
# revisions mean no command committed in between, so those task rows are current.
_SEEN, _TARGET = _PI.alias("seen"), _T.alias("target")
_LOCK_TASK_INSTANCE = (
    select(*_INSTANCE_COLUMNS, _NOTICE_VERSION.scalar_subquery(), _SEEN.c.revision, *_TASK)
    .select_from(_PI.join(_SEEN, _SEEN.c.id == _PI.c.id).join(_T, _T.c.instance_id == _PI.c.id))
    .where(_PI.c.id == select(_TARGET.c.instance_id).where(_TARGET.c.id == bindparam("tid")).scalar_subquery(),
           or_(_T.c.id == bindparam("tid"), _T.c.status.in_(_OPEN)))
    .with_for_update(of=_PI, key_share=True))
_STATE = select(_PI.c.state).where(_PI.c.id == bindparam("iid"))
_SAVE_INSTANCE = (update(_PI).where(_PI.c.id == bindparam("iid"), _PI.c.revision == bindparam("old_revision"))
                  .values(state=bindparam("state"), data=bindparam("data"), revision=bindparam("new_revision"),
                          status=bindparam("status"), ended_at=bindparam("ended_at"),
                          next_timer_at=bindparam("next_timer_at")))
_OPEN_TASKS = select(*_TASK).where(_T.c.instance_id == bindparam("iid"), _T.c.status.in_(_OPEN))
_LOAD_TASK = select(*_TASK).where(_T.c.id == bindparam("tid"))
_FINISH_TASK = update(_T).where(_T.c.id == bindparam("tid"), _T.c.status == bindparam("seen_status"),
                                _T.c.assignee_id.is_not_distinct_from(bindparam("seen_assignee")))
# ^ the SET clause comes from the parameters
_EXCEPTIONS = CaseException.__table__
# With the case, whether any exception request names it (for it, or merging into it): nearly
# every command ends a task and every case ends, and only such a case may have requests to
# withdraw or merged cases to call back (engine/exceptions.py ``ended``). Two index probes.
_LOAD_CASE = select(_CASE, or_(exists().where(_EXCEPTIONS.c.case_id == _CASE.c.id),
                               exists().where(_EXCEPTIONS.c.original_case_id == _CASE.c.id)).label("has_requests")
                    ).where(_CASE.c.id == bindparam("cid"))
_SAVE_CASE = update(_CASE).where(_CASE.c.id == bindparam("cid"))
_INSERT_TASKS = _T.insert()
_INSERT_EVENTS = Event.__table__.insert()


class TaskRow:
    """A task row as commands read, change and hand it on: plain attributes named like the
    ``Task`` model's, without the ORM's bookkeeping (a command builds several of these)."""

    __slots__ = tuple(c.key for c in _TASK)
    id: str
    instance_id: int
    case_id: int | None
    process_key: str
    element_id: str
    name: str
    name_zh: str | None
    form: str | None
    stage: str | None
    role: str | None
    org_unit_code: str | None
    org_path: str | None
    department: str | None
    candidate_user_id: int | None
    excluded_user_id: int | None
    assignee_id: int | None
    status: str
    priority: int
    category: str | None
    due_at: datetime | None
    created_at: datetime
    claimed_at: datetime | None
    completed_at: datetime | None
    completed_by_id: int | None
    data: dict[str, Any] | None
    urged_at: datetime | None
    urge_count: int
    overdue_at: datetime | None

    def __init__(self, values: Mapping[str, Any] | RowMapping) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


@dataclass
class Instance:
    """The process-instance row as a command sees it."""

    id: int
    definition_id: int
    key: str
    case_id: int | None
    status: str
    revision: int
    started_by_id: int | None
    ended_at: datetime | None = None
    next_timer_at: datetime | None = None
    state: str | None = None
    data: str | None = None  # JSON text of the process data
    started_at: datetime | None = None  # known to the command that starts it
    notice_version: int | None = None  # read with its lock: the newest holiday notice's id (0: none)


class CaseRecord:
    """A case row: attribute writes are remembered and saved in one UPDATE when the command
    ends; ``saved`` holds the row as stored (what the rollup counts until then).
    ``has_requests``: an exception request named the case (for it, or merging into it) when
    it was loaded, or was asked in this command."""

    __slots__ = ("values", "changes", "saved", "has_requests")
    values: dict[str, Any]
    changes: dict[str, Any]
    saved: dict[str, Any]
    has_requests: bool

    def __init__(self, values: dict[str, Any], has_requests: bool = False):
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "changes", {})
        object.__setattr__(self, "saved", dict(values))
        object.__setattr__(self, "has_requests", has_requests)

    def __getattr__(self, name: str) -> Any:  # the row's columns
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in self.values:
            raise AttributeError(name)
        self.values[name] = value
        self.changes[name] = value

    def save(self, s: Session, tz: ZoneInfo, rollup_delta: rollups.Delta) -> None:
        """Write the changes, and add what they change in the figures' rollup to the command's
        ``rollup_delta``."""
        if self.changes:
            s.connection().execute(_SAVE_CASE, {"cid": self.values["id"], **self.changes})
            rollups.change(rollup_delta, tz, self.saved, self.values)
            self.changes.clear()
            object.__setattr__(self, "saved", dict(self.values))


def task_row(task: Task) -> TaskRow:
    """A ``Task`` model row as a plain ``TaskRow``: what a command answers (never an ORM row)."""
    return TaskRow({name: getattr(task, name) for name in TaskRow.__slots__})


def task_names(task: TaskRow | Task) -> dict[str, Any]:
    """What history events say about a task: its element and its name in both languages."""
    return {"element": task.element_id, "name": task.name, "name_zh": task.name_zh}


def insert_instance(s: Session, definition_id: int, key: str, case_id: int | None, started_by_id: int | None,
                    now: datetime) -> Instance:
    new_id = s.execute(insert(_PI).values(definition_id=definition_id, key=key, case_id=case_id, status="running",
                                          state="", revision=0, started_at=now, started_by_id=started_by_id)
                       .returning(_PI.c.id)).scalar_one()
    return Instance(new_id, definition_id, key, case_id, "running", 0, started_by_id, started_at=now)


def lock_instance(s: Session, instance_id: int) -> Instance | None:
    """Lock an instance's row (FOR NO KEY UPDATE on PostgreSQL)."""
    row = s.connection().execute(_LOCK_INSTANCE, {"iid": instance_id}).first()
    if row is None:
        return None
    inst = Instance(*row[:-1])
    inst.notice_version = row[-1]
    return inst


def lock_task_instance(s: Session, task_id: str) -> tuple[Instance, TaskRow, dict[str, TaskRow] | None] | None:
    """Lock a task's instance row; read the task and the instance's open tasks in the same
    statement. The open tasks (by id) are None if another command committed while this one
    waited for the lock; the task row is then read again. Even so a claim may have
    committed since: a command that changes the task must use :func:`finish_task`."""
    rows = s.connection().execute(_LOCK_TASK_INSTANCE, {"tid": task_id}).all()
    if not rows:
        return None
    n, keys = len(_INSTANCE_COLUMNS), TaskRow.__slots__
    inst = Instance(*rows[0][:n])
    inst.notice_version = rows[0][n]
    tasks = {t.id: t for t in (TaskRow(dict(zip(keys, row[n + 2:], strict=True))) for row in rows)}
    if rows[0][n + 1] != inst.revision:
        task = load_task(s, task_id)
        assert task is not None  # it was there when the statement began; tasks are never deleted
        return inst, task, None
    return inst, tasks[task_id], {task_id: t for task_id, t in tasks.items() if t.status in _OPEN}


def notice_version(s: Session) -> int:
    """The newest holiday notice's id (0: none)."""
    version: int = s.connection().execute(_NOTICE_VERSION).scalar_one()
    return version


def state_of(s: Session, instance_id: int) -> str:
    state: str = s.connection().execute(_STATE, {"iid": instance_id}).scalar_one()
    return state


def save_instance(s: Session, inst: Instance) -> bool:
    """Write state, process data and status if nobody else saved since we read; bump the
    revision. One statement: storing the data costs no round trip."""
    saved = s.connection().execute(_SAVE_INSTANCE, {
        "iid": inst.id, "old_revision": inst.revision, "new_revision": inst.revision + 1, "state": inst.state,
        "data": inst.data, "status": inst.status, "ended_at": inst.ended_at,
        "next_timer_at": inst.next_timer_at}).rowcount
    if saved == 1:
        inst.revision += 1
    return saved == 1


def open_tasks(s: Session, instance_id: int) -> dict[str, TaskRow]:
    """The instance's open task rows by id."""
    return {r.id: TaskRow(r._mapping) for r in s.connection().execute(_OPEN_TASKS, {"iid": instance_id})}


def load_task(s: Session, task_id: str) -> TaskRow | None:
    row = s.connection().execute(_LOAD_TASK, {"tid": task_id}).first()
    return TaskRow(row._mapping) if row is not None else None


def finish_task(s: Session, task: TaskRow, values: dict[str, Any]) -> bool:
    """Write ``values`` if the task's status and holder are still those of ``task`` (a claim
    may have committed since it was read); False if not."""
    return s.connection().execute(_FINISH_TASK, {"tid": task.id, "seen_status": task.status,
                                                 "seen_assignee": task.assignee_id, **values}).rowcount == 1


def load_case(s: Session, case_id: int) -> CaseRecord | None:
    row = s.connection().execute(_LOAD_CASE, {"cid": case_id}).first()
    if row is None:
        return None
    values = dict(row._mapping)
    return CaseRecord(values, bool(values.pop("has_requests")))


def insert_tasks(s: Session, rows: list[dict[str, Any]]) -> None:
    s.connection().execute(_INSERT_TASKS, rows)


def insert_events(s: Session, rows: list[dict[str, Any]]) -> None:
    """A command's history in one executemany, each row credited to the command's actor (the
    first among them: the events the engine recorded in her command carry none)."""
    by = next((row["actor_id"] for row in rows if row["actor_id"] is not None), None)
    for row in rows:
        row["caused_by_id"] = by
    s.connection().execute(_INSERT_EVENTS, rows)
