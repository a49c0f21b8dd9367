"""One command's unit of work: the typed context every command runs in.

``Runtime.command()`` opens a transaction and yields a :class:`Command`; the command (claim,
complete, a message, a timer, an urge, an approval's decision, a migration: a function in its
subject's module, see engine/runtime.py's docstring) acts through it
and the runtime finishes it when the block ends: the decisions, merged cases' callbacks and
thrown messages its steps left are applied, the case rows and the rollup saved, the history
written in one batch, then (committed) the live workflows cached and an incident raised.

Modules that run inside a command take the ``Command`` and use its public API (``lock``,
``restore``, ``advance``, ``start``, ``event``, ``case`` ...). They see the runtime only as
:class:`Engine`, a protocol defined here, so none of them imports ``engine.runtime``: the
runtime imports them, never the other way round.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from . import definitions, org, records
from .errors import Conflict, IncidentOpened, InvalidInput, NotFound
from .model import Case
from .records import CaseRecord, Instance, TaskRow
from .state import load_state

if TYPE_CHECKING:
    from .rollups import Cell
    from SpiffWorkflow.bpmn.util.event import BpmnEvent
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

    from . import images, photostore
    from .clock import Clock
    from .db import Database
    from .state import WorkflowCache
    from .workcalendar import WorkCalendar


class Engine(Protocol):
    """What commands and the modules they call use of the runtime (``engine.runtime.Runtime``)."""

    db: Database
    clock: Clock
    calendar: WorkCalendar
    specs: definitions.SpecCache
    workflows: WorkflowCache
    script_engine: Any
    org_paths: dict[str, str]
    photo_store: photostore.PhotoStore
    photo_limits: images.Limits

    def command(self) -> AbstractContextManager[Command]: ...

    def advance(self, cmd: Command, inst: Instance, loaded: definitions.LoadedDefinition, wf: BpmnWorkflow,
                actor_id: int | None, now: datetime) -> None: ...

    def start(self, cmd: Command, loaded: definitions.LoadedDefinition, user_id: int | None, data: dict[str, Any],
              case: Case | None, linked_case_id: int | None = None) -> Instance: ...

    def open_case(self, cmd: Command, loaded: definitions.LoadedDefinition, report: dict[str, Any], grid: Any,
                  user_id: int | None, status_token: str | None = None, external_ref: str | None = None,
                  source_instance_id: int | None = None, photos: list[Any] | None = None) -> Case: ...


@dataclass(slots=True, eq=False)
class Command:
    """A running command: its session and everything it changed that is written or acted on
    when it ends."""

    session: Session
    engine: Engine
    events: list[dict[str, Any]] = field(default_factory=list)  # history rows, inserted in one batch at the end
    saved: dict[int, tuple[Instance, BpmnWorkflow]] = field(default_factory=dict)  # live workflows it stored
    done: set[str] = field(default_factory=set)  # ids of the tasks it completed
    open: dict[int, list[TaskRow]] = field(default_factory=dict)  # instance id -> open tasks after its steps
    open_rows: dict[int, dict[str, TaskRow]] = field(default_factory=dict)  # open task rows read before acting
    cases: dict[int, CaseRecord | None] = field(default_factory=dict)  # its one record of each case it touched
    thrown: list[tuple[Instance, int | None, BpmnEvent]] = field(default_factory=list)  # for other instances
    # the exception decisions of scripts
    decided: list[tuple[int, int | None, dict[str, Any]]] = field(default_factory=list)
    incident: IncidentOpened | None = None  # raised once committed
    rollup_delta: defaultdict[Cell, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    notice_version: int | None = None  # the newest holiday notice's id, if read with a lock
    calendar_checked: bool = False  # the working calendar was checked against the notices

    def now(self) -> datetime:
        return self.engine.clock.now()

    def event(self, type_: str, inst: Instance | int | None, case_id: Case | CaseRecord | int | None,
              task_id: str | None = None, actor_id: int | None = None, payload: dict[str, Any] | None = None) -> None:
        """Append a history event (written with the others when the command ends)."""
        instance_id = inst.id if isinstance(inst, Instance) else inst
        case_id = case_id.id if isinstance(case_id, (Case, CaseRecord)) else case_id
        # Same keys in every row, so the whole batch is one executemany.
        self.events.append({"instance_id": instance_id, "case_id": case_id, "task_id": task_id,
                            "type": type_, "actor_id": actor_id, "at": self.engine.clock.now(), "payload": payload,
                            "caused_by_id": None})

    def calendar(self) -> WorkCalendar:
        """The working calendar, current: its first use in a command takes up a holiday notice
        another process loaded (engine/calendars.py), checked against the version read with an
        instance's lock if there was one, else with a statement of its own. Commands that
        count no deadline (a claim) never ask."""
        if not self.calendar_checked:
            from .calendars import refresh
            refresh(self.engine, self.session, self.notice_version)
            self.calendar_checked = True
        return self.engine.calendar

    def locked(self, inst: Instance) -> Instance:
        """Note what the lock of ``inst`` read besides its row (the notice version)."""
        if inst.notice_version is not None and not self.calendar_checked:
            self.notice_version = inst.notice_version
        return inst

    def case(self, case_id: int | None) -> CaseRecord | None:
        """The command's one record of a case (loaded once, saved when the command ends)."""
        if case_id is None:
            return None
        if case_id not in self.cases:
            self.cases[case_id] = records.load_case(self.session, case_id)
        return self.cases[case_id]

    def save_cases(self) -> None:
        self.session.flush()
        for record in self.cases.values():
            if record is not None:
                record.save(self.session, self.engine.calendar.tz, self.rollup_delta)

    def lock(self, instance_id: int) -> Instance:
        """Lock a running instance's row: FOR NO KEY UPDATE on PostgreSQL, SQLite's write
        transaction is already exclusive. Its state is loaded only if the live-workflow cache misses."""
        inst = records.lock_instance(self.session, instance_id)
        if inst is None:
            raise NotFound(f"process instance {instance_id} not found")
        return check_running(self.locked(inst))

    def loaded(self, inst: Instance) -> definitions.LoadedDefinition:
        """The instance's version, compiled (from the per-version cache)."""
        return self.engine.specs.get(self.session, inst.definition_id)

    def restore(self, inst: Instance, loaded: definitions.LoadedDefinition) -> BpmnWorkflow:
        """The instance's workflow: the live one if the cache holds its revision, else loaded."""
        self.calendar()  # current before any script counts a deadline (Runtime.deadline)
        cached = self.engine.workflows.take(inst.id, inst.revision)
        if cached is not None:
            return cached
        return load_state(records.state_of(self.session, inst.id), loaded.spec, loaded.subprocess_specs,
                          self.engine.script_engine)

    def catch_up(self, inst: Instance, loaded: definitions.LoadedDefinition, wf: BpmnWorkflow) -> bool:
        """Fire the timers that came due before this command, before it acts: time limits
        take effect at their due time, whether or not a due-work runner got there first (a
        late completion or report-in is marked overdue; one after an escalating limit finds
        its task cancelled). True if it fired anything."""
        if inst.next_timer_at is None or inst.next_timer_at > self.engine.clock.now():
            return False
        self.engine.advance(self, inst, loaded, wf, None, self.engine.clock.now())
        return True

    def advance(self, inst: Instance, loaded: definitions.LoadedDefinition, wf: BpmnWorkflow,
                actor_id: int | None, now: datetime | None = None) -> None:
        """Run until the workflow waits, then store its state and sync the read model."""
        self.engine.advance(self, inst, loaded, wf, actor_id, now or self.engine.clock.now())

    def start(self, loaded: definitions.LoadedDefinition, user_id: int | None, data: dict[str, Any],
              case: Case | None = None, linked_case_id: int | None = None) -> Instance:
        """Start an instance: of a case process for ``case``, or of any process, linked to the
        case ``linked_case_id`` (its tasks and history show on that case) or to none."""
        return self.engine.start(self, loaded, user_id, data, case, linked_case_id)

    def open_case(self, loaded: definitions.LoadedDefinition, report: dict[str, Any], grid: Any, user_id: int | None,
                  **options: Any) -> Case:
        """Create a checked report's case and start its process (see ``Runtime.open_case``)."""
        return self.engine.open_case(self, loaded, report, grid, user_id, **options)

    def case_process(self, key: str | None) -> definitions.LoadedDefinition:
        """The newest version of a deployed case process (``key``, else the one deployed)."""
        return case_process(self.session, self.engine.specs, key)

    def org_path(self, code: str) -> str:
        """Org units are never re-parented (codes are permanent), so their paths are cached."""
        path = self.engine.org_paths.get(code)
        if path is None:
            path = self.engine.org_paths[code] = org.unit_by_code(self.session, code).path
        return path


def case_process(s: Session, specs: definitions.SpecCache, key: str | None) -> definitions.LoadedDefinition:
    """The newest version of the deployed case process ``key``, else of the one deployed
    (InvalidInput naming them when several are)."""
    definition_id = definitions.case_process_id(s, key, specs)
    if definition_id is None:
        raise NotFound(f"process '{key}' not deployed" if key else "no case process is deployed")
    loaded = specs.get(s, definition_id)
    if not loaded.is_case_process:
        raise InvalidInput(f"'{key}' is not a case process")
    return loaded


def check_running(inst: Instance) -> Instance:
    """The instance, if commands may act on it."""
    if inst.status == "incident":
        raise Conflict(f"process instance {inst.id} has an open incident; a designer or supervisor "
                       "must retry it first")
    if inst.status != "running":
        raise Conflict(f"process instance {inst.id} is {inst.status}")
    return inst
