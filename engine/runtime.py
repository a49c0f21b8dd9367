"""The runtime: one database, clock and working calendar, the caches every command shares
(compiled versions, live workflows, org paths) and the command machinery itself.

``command()`` opens a command's transaction and unit of work (engine/command.py) and finishes
it; ``advance`` runs a workflow's engine steps until it waits. A command is one transaction:
lock the instance -> restore its workflow (spec from the per-version cache) -> act -> run
engine steps until it waits -> compact and store the state -> sync the read model (task
rows, case row, next timer) -> append history -> commit. All of it happens, or none.

The commands are functions in the modules of their subjects, taking the runtime as
``command.Engine``: ``start_commands`` (report a case, start a process), ``task_commands``
(claim, unclaim, complete, public feedback), ``supervision`` (urge, assign), ``exceptions``
(requests), ``messaging`` (messages, signals), ``photos`` (add photos), ``calendars`` (load
a holiday notice), ``incidents`` (retry), ``design_commands`` (deploy, check, try a draft),
``migration``; and what administrators and users keep: ``groups``, ``liaisons``, ``users``,
``open311`` (client keys), ``subscriptions``, ``failed_deliveries``, ``saved_filters``.
``Runtime`` keeps a one-line method for each, so the web layer, the CLI and tests call
``rt.claim(...)`` on one object; only the due-work runners (engine/worker.py,
engine/celery_app.py) call ``timers.run_due`` / ``fire_next`` themselves.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy.exc import IntegrityError
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import TaskState

from . import (calendars, casereports, deadlines, definitions, design_commands, exceptions, failed_deliveries,
               groups, heap, images, incidents, liaisons, lint, messaging, migration, open311, org,
               photos, photostore, places, readmodel, records, rollups, saved_filters, start_commands,
               subscriptions, supervision, task_commands, timers, users)
from .clock import Clock
from .command import Command, case_process
from .db import Database
from .errors import Conflict, IncidentOpened, ProcessError
from .model import Case, OrgUnit
from .photos import Stored as StoredPhoto
from .photos import record as record_photos
from .records import Instance, TaskRow
from .scripting import ScriptBudgetError, make_script_engine
from .start_commands import CaseRef, Started
from .state import WorkflowCache, compact, dump_state
from .task_commands import Completed
from .workcalendar import WorkCalendar, parse_limit

WORKFLOWS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "workflows")
CALENDAR_FILE = os.path.join(WORKFLOWS_DIR, "calendars", "cn.json")

# Deadlines computed by the running command that count days of a year with no published notice.
_PROVISIONAL: ContextVar[list[dict[str, Any]] | None] = ContextVar("gridloop_provisional_deadlines", default=None)


class Runtime:
    """One database, clock and working calendar, the caches commands share, and a one-line
    method for each public command (they live in the modules named in this module's docstring)."""

    def __init__(self, db: Database, clock: Clock | None = None, calendar: WorkCalendar | None = None):
        self.db = db
        self.clock = clock or Clock()
        self.calendar = calendar or WorkCalendar.from_file(CALENDAR_FILE)
        self.specs = definitions.SpecCache()
        self.org_paths: dict[str, str] = {}  # org unit code -> path (codes are permanent)
        self.workflows = WorkflowCache()
        self._categories: dict[int, list[dict[str, Any]]] = {}
        self.grid_locator = places.GridLocator()
        self.photo_store: photostore.PhotoStore = photostore.from_env()
        self.photo_limits = images.Limits.from_env()
        self.script_engine = make_script_engine({"now": self.clock.now, "deadline": self.deadline,
                                                 "extend_due": deadlines.extend_due,
                                                 "report_case": casereports.report_case,
                                                 "decide_exception": exceptions.decide_exception,
                                                 "resume_case": exceptions.resume_case})
        heap.settle()  # the first runtime of a process: startup is over

    def deadline(self, limit: str, start: datetime | str | None = None) -> str:
        """``now()`` (or ``start``, a time or its ISO 8601 text such as ``due_at``) plus a time
        limit in the working calendar, as ISO 8601. A
        deadline counting days of a year without a published holiday notice is noted, and the
        command records it in the instance's history (``deadline_provisional``)."""
        start = deadlines.as_time(start, "deadline's start") if start is not None else self.clock.now()
        parsed = parse_limit(limit)
        due = self.calendar.add(start, parsed)
        noted = _PROVISIONAL.get()
        if noted is not None and parsed.kind != "elapsed":
            years = self.calendar.provisional_years(start, due)
            if years:
                noted.append({"limit": limit, "start": start.isoformat(), "due": due.isoformat(), "years": years})
        return due.isoformat()

    # ------------------------------------------------------------------ definitions
    # (engine/design_commands.py, engine/migration.py)

    def deploy(self, paths: list[str] | None = None, *, sources: dict[str, bytes] | None = None,
               by: str | None = None, lane_map: dict[str, str] | None = None) -> list[definitions.Deployed]:
        """Deploy ``sources``, else the files of ``paths`` (else of workflows/)."""
        if sources is None:
            sources = definitions.read_sources(paths or [WORKFLOWS_DIR])
        return design_commands.deploy(self, sources, by=by, lane_map=lane_map)

    def check_files(self, actor: org.Actor | int, sources: dict[str, bytes],
                    lane_map: dict[str, str] | None = None) -> list[lint.Problem]:
        return design_commands.check_files(self, actor, sources, lane_map)

    def deploy_files(self, actor: org.Actor | int, sources: dict[str, bytes],
                     lane_map: dict[str, str] | None = None) -> list[definitions.Deployed]:
        return design_commands.deploy_files(self, actor, sources, lane_map)

    def try_draft(self, actor: org.Actor | int, sources: dict[str, bytes], lane_map: dict[str, str] | None,
                  start: dict[str, Any] | None, steps: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
        return design_commands.try_draft(self, actor, sources, lane_map, start, steps, key)

    def migrate(self, actor: org.Actor | int, key: str, from_version: int, to_version: int,
                instances: list[int] | None = None, dry_run: bool = True) -> list[migration.InstanceMove]:
        return migration.migrate(self, actor, key, from_version, to_version, instances, dry_run)

    # ------------------------------------------------------------------ reads of a case process (cached)

    def categories(self, key: str | None = None) -> list[dict[str, Any]]:
        """The case categories of a case process (``key``, else the one deployed): names from
        its start form, department and grid admission from its routing decision table
        (evaluated, so the DMN stays the truth)."""
        with self.db.reading() as s:
            loaded = case_process(s, self.specs, key)
        if loaded.id not in self._categories:  # a version's categories never change
            self._categories[loaded.id] = self._evaluate_categories(loaded)
        return self._categories[loaded.id]

    def case_start_form(self, key: str | None = None) -> dict[str, Any]:
        """The report form of the newest version of a case process."""
        with self.db.reading() as s:
            return case_process(s, self.specs, key).start_form or {}

    def _evaluate_categories(self, loaded: definitions.LoadedDefinition) -> list[dict[str, Any]]:
        schema = loaded.start_form or {}
        field = schema.get("properties", {}).get("category", {})
        labels = field.get("x-enum-labels", {})
        decide = definitions.decision_with_output(loaded, "department")
        result = []
        for code in field.get("enum", []):
            routing = decide(_Probe({"category": code, "urgency": "normal"}, self.script_engine)) if decide else {}
            result.append({"code": code, "name": labels.get(code, {}).get("zh", code),
                           "name_en": labels.get(code, {}).get("en", code),
                           "department": routing.get("department"),
                           "grid_may_handle": bool(routing.get("grid_may_handle"))})
        return result

    # ------------------------------------------------------------------ starting (engine/start_commands.py)

    def start_process(self, actor: org.Actor | int | None, key: str, data: dict[str, Any] | None = None,
                      version: int | None = None) -> Started:
        return start_commands.start_process(self, actor, key, data, version)

    def check_report(self, actor: org.Actor | int, report: dict[str, Any], key: str | None = None,
                     external_ref: str | None = None) -> dict[str, Any]:
        return start_commands.check_report(self, actor, report, key, external_ref)

    def report_case(self, actor: org.Actor | int, report: dict[str, Any], key: str | None = None,
                    external_ref: str | None = None, photos: list[StoredPhoto] | None = None) -> CaseRef:
        return start_commands.report_case(self, actor, report, key, external_ref, photos)

    def report_public(self, report: dict[str, Any], key: str | None = None, *, via: dict[str, Any] | None = None,
                      photos: list[StoredPhoto] | None = None) -> CaseRef:
        return start_commands.report_public(self, report, key, via=via, photos=photos)

    # ------------------------------------------------------------------ inside a command (command.Engine)

    def open_case(self, cmd: Command, loaded: definitions.LoadedDefinition, report: dict[str, Any], grid: OrgUnit,
                  user_id: int | None,
                  status_token: str | None = None, external_ref: str | None = None,
                  source_instance_id: int | None = None, photos: list[StoredPhoto] | None = None) -> Case:
        """In ``cmd``: create the case of a checked report (``grid``: its grid's row) and start
        its process; ``source_instance_id``: the instance whose script reported it."""
        s, now = cmd.session, self.clock.now()
        case = start_commands.new_case(report, grid, user_id, now)
        case.status_token, case.external_ref = status_token, external_ref
        case.source_instance_id = source_instance_id
        s.add(case)
        try:
            s.flush()
        except IntegrityError:  # the same ticket, imported at the same moment by another command
            if external_ref is None:
                raise
            raise Conflict(f"{case.source} ticket {external_ref} is already a case") from None
        case.number = f"GL{now:%Y%m%d}{case.id:06d}"
        rollups.change(cmd.rollup_delta, self.calendar.tz, None,
                       {name: getattr(case, name) for name in rollups.WATCHED})
        cmd.start(loaded, user_id, start_commands.case_data(case, grid), case=case)
        if photos:
            record_photos(cmd, case.id, case.instance_id, None, "report", photos, user_id)
        cmd.save_cases()
        s.refresh(case)
        return case

    def start(self, cmd: Command, loaded: definitions.LoadedDefinition, user_id: int | None, data: dict[str, Any],
              case: Case | None, linked_case_id: int | None = None) -> Instance:
        """In ``cmd``: start an instance (see ``Command.start``)."""
        s, now = cmd.session, self.clock.now()
        cmd.calendar()  # current before any script counts a deadline (Runtime.deadline)
        wf = BpmnWorkflow(loaded.spec, loaded.subprocess_specs, script_engine=self.script_engine)
        wf.task_tree.data.update(data)
        inst = records.insert_instance(s, loaded.id, loaded.key, case.id if case else linked_case_id, user_id, now)
        if case is not None:
            case.instance_id = inst.id
            s.flush()
        cmd.event("instance_started", inst, inst.case_id, actor_id=user_id, payload={"key": loaded.key,
                                                                            "version": loaded.version})
        if case is not None:
            cmd.event("case_reported", inst, case, actor_id=user_id,
                      payload={"number": case.number, "source": case.source, "category": case.category})
        self.advance(cmd, inst, loaded, wf, user_id, now)
        return inst

    # ------------------------------------------------------------------ task commands (engine/task_commands.py)

    def claim(self, actor: org.Actor | int, task_id: str) -> TaskRow:
        return task_commands.claim(self, actor, task_id)

    def unclaim(self, actor: org.Actor | int, task_id: str) -> TaskRow:
        return task_commands.unclaim(self, actor, task_id)

    def complete_task(self, actor: org.Actor | int, task_id: str, data: Any) -> Completed:
        return task_commands.complete(self, actor, task_id, data)

    def submit_feedback(self, token: str, data: Any, *, citizen: bool = False) -> CaseRef:
        return task_commands.submit_feedback(self, token, data, citizen=citizen)

    # ------------------------------------------------------------------ supervision and exceptions
    # (engine/supervision.py, engine/exceptions.py)

    def urge(self, actor: org.Actor | int, task_id: str, note: str | None = None) -> TaskRow:
        return supervision.urge(self, actor, task_id, note)

    def assign(self, actor: org.Actor | int, task_id: str, username: str) -> TaskRow:
        return supervision.assign(self, actor, task_id, username)

    def request_exception(self, actor: org.Actor | int, case_id: int, body: dict[str, Any]
                          ) -> exceptions.ExceptionRequestRef:
        return exceptions.request(self, actor, case_id, body)

    # ------------------------------------------------------------------ messages and signals (engine/messaging.py)

    def send_message(self, actor: org.Actor | int | None, name: str, correlation: dict[str, Any] | None = None,
                     payload: dict[str, Any] | None = None, instance_id: int | None = None) -> messaging.Delivered:
        """Deliver a BPMN message to the waiting instances it correlates with (``correlation``:
        variable -> value, and/or the message's correlation properties in ``payload``), or
        start the processes it starts; see :mod:`engine.messaging`."""
        return messaging.send(self, actor, "message", name, correlation or {}, payload or {}, instance_id)

    def send_signal(self, actor: org.Actor | int | None, name: str, payload: dict[str, Any] | None = None
                    ) -> messaging.Delivered:
        """Broadcast a BPMN signal to every instance waiting for it."""
        return messaging.send(self, actor, "signal", name, {}, payload or {})

    # ------------------------------------------------------------------ photos and holiday notices
    # (engine/photos.py, engine/calendars.py)

    def add_case_photos(self, actor: org.Actor | int, case_id: int, uploads: list[photos.Upload]
                        ) -> list[photos.PhotoInfo]:
        return photos.add_to_case(self, actor, case_id, uploads)

    def add_task_photos(self, actor: org.Actor | int, task_id: str, uploads: list[photos.Upload]
                        ) -> list[photos.PhotoInfo]:
        return photos.add_to_task(self, actor, task_id, uploads)

    def load_calendar_notice(self, actor: org.Actor | int | None, raw: bytes | str) -> calendars.NoticeLoaded:
        return calendars.load(self, actor, raw)

    # ------------------------------------------------------------------ incidents (engine/incidents.py)

    def retry_incident(self, actor: org.Actor | int, incident_id: int) -> incidents.IncidentRow:
        return incidents.retry(self, actor, incident_id)

    # ------------------------------------------------------------------ groups (engine/groups.py)

    def create_group(self, actor: org.Actor | int | None, name: str, title: str | None = None) -> groups.GroupRow:
        return groups.create(self, actor, name, title)

    def add_group_members(self, actor: org.Actor | int | None, name: str, usernames: Sequence[str]
                          ) -> groups.GroupRow:
        return groups.add_members(self, actor, name, usernames)

    def remove_group_members(self, actor: org.Actor | int | None, name: str, usernames: Sequence[str]
                             ) -> groups.GroupRow:
        return groups.remove_members(self, actor, name, usernames)

    # ------------------------------------------------------------------ liaisons' areas (engine/liaisons.py)

    def bind_liaison(self, actor: org.Actor | int | None, username: str, unit_codes: Sequence[str]
                     ) -> liaisons.LiaisonAreas:
        return liaisons.bind(self, actor, username, unit_codes)

    def unbind_liaison(self, actor: org.Actor | int | None, username: str, unit_code: str) -> liaisons.LiaisonAreas:
        return liaisons.unbind(self, actor, username, unit_code)

    # ------------------------------------------------------------------ saved inbox filters (engine/saved_filters.py)

    def save_filter(self, actor: org.Actor | int, name: Any, scope: Any, params: Any) -> saved_filters.FilterRow:
        return saved_filters.create(self, actor, name, scope, params)

    def rename_filter(self, actor: org.Actor | int, filter_id: int, name: Any) -> saved_filters.FilterRow:
        return saved_filters.rename(self, actor, filter_id, name)

    def delete_filter(self, actor: org.Actor | int, filter_id: int) -> None:
        saved_filters.delete(self, actor, filter_id)

    # ------------------------------------------------------------------ notification settings, webhooks, failed
    # deliveries (engine/subscriptions.py, engine/failed_deliveries.py)

    def save_notification_settings(self, actor: org.Actor | int, username: str, *, email: str | None,
                                   language: str = "zh", channels: dict[str, list[str]] | None = None
                                   ) -> subscriptions.Settings:
        return subscriptions.save_settings(self, actor, username, email=email, language=language, channels=channels)

    def add_webhook(self, actor: org.Actor | int | None, url: str, *, events: Sequence[str] | None = None,
                    username: str | None = None) -> subscriptions.NewWebhook:
        return subscriptions.add_webhook(self, actor, url, events=events, username=username)

    def remove_webhook(self, actor: org.Actor | int | None, webhook_id: int) -> None:
        subscriptions.remove_webhook(self, actor, webhook_id)

    def retry_delivery(self, actor: org.Actor | int | None, notification_id: int) -> failed_deliveries.Delivery:
        return failed_deliveries.retry(self, actor, notification_id)

    # ------------------------------------------------------------------ access: users, Open311 clients
    # (engine/users.py, engine/open311.py)

    def deactivate_user(self, actor: org.Actor | int | None, username: str) -> None:
        users.deactivate(self, actor, username)

    def create_open311_client(self, actor: org.Actor | int | None, name: str) -> str:
        return open311.create_client(self, actor, name)

    def revoke_open311_client(self, actor: org.Actor | int | None, name: str) -> None:
        open311.revoke_client(self, actor, name)

    # ------------------------------------------------------------------ engine steps, transactions (command.Engine)

    def advance(self, cmd: Command, inst: Instance, loaded: definitions.LoadedDefinition,
                wf: BpmnWorkflow, actor_id: int | None, now: datetime) -> None:
        """In ``cmd``: run until the workflow waits, then store state and sync the read model."""
        s = cmd.session
        cmd.calendar()  # (checked once a command: scripts and time limits count in it)
        with s.no_autoflush:
            reports = self._step(cmd, inst, loaded, wf, actor_id, now)
        if not records.save_instance(s, inst):
            raise Conflict("the case was changed by another command at the same time; retry")
        s.flush()
        if inst.status == "running":
            cmd.saved[inst.id] = (inst, wf)
        if reports:  # cases its scripts reported, opened once it is stored
            casereports.apply(cmd, inst, reports, actor_id)

    def _step(self, cmd: Command, inst: Instance, loaded: definitions.LoadedDefinition, wf: BpmnWorkflow,
              actor_id: int | None, now: datetime) -> list[dict[str, Any]]:
        """The engine steps and the read model's sync; returns the cases its scripts report."""
        s = cmd.session
        noted = _PROVISIONAL.set([])
        try:
            with deadlines.collecting() as extensions, casereports.collecting() as reports, \
                    exceptions.collecting() as decided:
                fired = timers.run_steps(wf)
        except (SpiffWorkflowException, ScriptBudgetError) as exc:
            self._over_budget(cmd, inst, exc)
            fired, reports = [], []
        finally:
            provisional = _PROVISIONAL.get() or []
            _PROVISIONAL.reset(noted)
        for note in provisional:
            cmd.event("deadline_provisional", inst, inst.case_id, payload=note)
        timers.record(cmd, inst, fired)
        case = cmd.case(inst.case_id)
        if extensions:  # before the state is stored: the re-armed timers are part of it
            deadlines.apply(cmd, inst, wf, case, extensions, actor_id, now)
        cmd.decided.extend((inst.id, actor_id, decision) for decision in decided)
        if wf.bpmn_events:  # thrown and not caught inside: for other instances (engine/messaging.py)
            cmd.thrown.extend((inst, actor_id, event) for event in wf.get_events())
        compact(wf)
        inst.state = dump_state(wf)
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if wf.is_completed():
            inst.status, inst.ended_at = "completed", now
            cmd.event("instance_completed", inst, inst.case_id, actor_id=actor_id)
        elif inst.status == "running" and (stall := incidents.stalled(wf, ready)) is not None:
            inst.status = "incident"
            incidents.open_incident(cmd, inst, "stuck", *stall)
        inst.next_timer_at = timers.next_due(wf)
        inst.data = readmodel.to_json(readmodel.process_data(wf, ready))
        if loaded.catches_events:
            readmodel.sync_waits(s, inst, wf)
        readmodel.sync_tasks(cmd, inst, ready, case, loaded.projection, now)
        if case is not None and loaded.is_case_process:
            readmodel.sync_case(cmd, inst, wf, ready, case, loaded.projection, actor_id, now)
        return reports

    def _over_budget(self, cmd: Command, inst: Instance, exc: Exception) -> None:
        """A script over its budget makes the instance an incident, stored with the failed
        element in ERROR (so a retry runs it again) and answered with 422 once committed; any
        other failure rolls the command back."""
        over = incidents.budget_cause(exc)
        if over is None:
            raise ProcessError(f"the process failed: {exc}") from None
        element = incidents.failed_element(exc)
        message = f"'{element}' went {over}" if element else f"a script went {over}"
        inst.status = "incident"
        incidents.open_incident(cmd, inst, "budget", element, message)
        cmd.incident = IncidentOpened(f"process instance {inst.id}: {message}; it is now an incident",
                                      instance_id=inst.id, element=element)

    @contextmanager
    def command(self) -> Iterator[Command]:
        """One command's transaction and unit of work (engine/command.py); what it leaves to do
        is done when the block ends, and its history events are written in one batch."""
        with self.db.transaction() as s, timers.engine_clock(self.clock):
            cmd = Command(s, self)
            yield cmd
            while cmd.decided:  # approval processes decided exception requests (engine/exceptions.py)
                decided, cmd.decided = cmd.decided, []
                exceptions.apply(cmd, decided)
            exceptions.ended(cmd)  # pending requests withdrawn, merged reporters called back
            if cmd.thrown:
                messaging.dispatch(cmd)
            cmd.save_cases()
            rollups.write(s, cmd.rollup_delta)
            if cmd.events:  # (a trigger copies the notifiable ones into the outbox: engine/notifications.py)
                records.insert_events(s, cmd.events)
        for inst, wf in cmd.saved.values():  # committed: these live workflows are now current
            self.workflows.put(inst.id, inst.revision, wf)
        if cmd.incident is not None:  # committed too: now say so
            raise cmd.incident


class _Probe:
    """Just enough of a task for evaluating a decision table outside a running workflow."""

    def __init__(self, data: dict[str, Any], script_engine: PythonScriptEngine) -> None:
        self.data = data
        self.workflow = self
        self.script_engine = script_engine
