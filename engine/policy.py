"""Who may do what: the named rules that commands and queries call, so that every caller
(web pages, REST API, CLI, tests) is held to the same rule, written once.

Roles and groups are both names in a user's ``roles`` (see ``engine/groups.py``); process
properties that name who may do something (``starters``) list such names, comma-separated.
An actor of ``None`` is the system (the CLI without ``--user``, timers): it is trusted.
Queries that list what a user may see take their filters from here as SQL conditions
(``within``, ``offered``, ``visible_cases``, ...), the same rules as the per-row ones.

No other module compares role names: tests/test_policy.py checks the source for it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Row, and_, or_, select
from sqlalchemy.orm import QueryableAttribute, Session

from . import definitions, org
from .definitions import APPROVAL_PROCESS, CALLBACK_PROCESS, CALLED_BY_PROPERTY
from .errors import Conflict, EngineError, Forbidden, InvalidInput
from .model import Case, Incident, OrgUnit, ProcessInstance, Task, User
from .org import Actor

if TYPE_CHECKING:
    from .model import ProcessDefinition
    from .records import CaseRecord, TaskRow
    from .definitions import LoadedDefinition

ADMIN = "admin"                     # may create groups and assign users to them
SUPERVISOR = "supervisor"           # sees, urges and unclaims the work of her area
DESIGNER = "designer"               # sees and changes process definitions
LIVE = ("open", "claimed")          # a task's statuses while it waits for someone
DEFAULT_STARTERS = (DESIGNER,)     # who may start a process that names no ``starters``
STARTERS_PROPERTY = "starters"
CALLABLE_ONLY_PROPERTY = "callableOnly"
ORG_UNIT_KEYWORD = "x-org-unit"     # a start-form field naming an org unit (true or a level)
ENGINE_STARTED_PROPERTY = "startedByEngine"  # started per exception request or merged case, never directly


def names(value: str | None) -> tuple[str, ...]:
    """A comma-separated list of role/group names, as process properties write them."""
    return tuple(dict.fromkeys(n.strip() for n in (value or "").split(",") if n.strip()))


# ------------------------------------------------------------------------------ areas

def within(column: ColumnElement[str | None] | QueryableAttribute[str | None], path: str | None
           ) -> ColumnElement[bool]:
    """SQL: ``column`` lies in the subtree at ``path`` (``Actor.covers`` as a condition a B-tree
    range serves); nothing without a path."""
    if not path:
        return column.is_(None) & column.is_not(None)
    return and_(column >= path, column < path + "\uffff")


def supervises(actor: Actor, org_path: str | None) -> bool:
    """A supervisor whose area covers ``org_path``."""
    return actor.has_role(SUPERVISOR) and actor.covers(org_path)


def may_oversee_area(actor: Actor) -> bool:
    """Supervisors see all open tasks of their area (the inbox's ``area`` scope) and its overdue work."""
    return actor.has_role(SUPERVISOR)


# ------------------------------------------------------------------------------ who may take a task

def is_candidate(actor: Actor, task: Task | TaskRow) -> bool:
    """The candidate rule of the design: offered to her by name, or to her role (or group), her
    department if it names one, and an area covering it if it has one; never to whom the task
    must be independent of (``excluded_user_id``: she resolved what it verifies)."""
    if getattr(task, "excluded_user_id", None) == actor.id:
        return False
    if task.candidate_user_id is not None:
        return task.candidate_user_id == actor.id
    if task.role is None or not actor.has_role(task.role):
        return False
    if task.department is not None and task.department != actor.department:
        return False
    return task.org_path is None or actor.covers(task.org_path)


def offered(actor: Actor) -> ColumnElement[bool]:
    """SQL: the open tasks ``is_candidate`` offers her (the inbox planner reads it in index-sized parts)."""
    by_role = and_(Task.role.in_(actor.roles or ("-",)), Task.candidate_user_id.is_(None),
                   or_(Task.department.is_(None), Task.department == actor.department),
                   or_(Task.excluded_user_id.is_(None), Task.excluded_user_id != actor.id),
                   or_(Task.org_path.is_(None), within(Task.org_path, actor.org_path)))
    return and_(Task.status == "open", or_(by_role, Task.candidate_user_id == actor.id))


def may_act_on(actor: Actor, task: Task | TaskRow) -> bool:
    """Complete (or claim) a task: hers if she holds it, else if it is offered to her."""
    if task.assignee_id is not None:
        return task.assignee_id == actor.id
    return is_candidate(actor, task)


def check_may_take(actor: Actor, task: Task | TaskRow) -> None:
    """Forbidden, saying why, to claim or complete a live task that is not offered to her."""
    if task.status not in LIVE:
        return
    if task.excluded_user_id == actor.id:
        raise Forbidden(f"you did an earlier step of this case that '{task.name}' must be independent of "
                        "(you resolved it: someone else verifies it; you asked for it: someone else decides)")
    if not is_candidate(actor, task) and task.assignee_id != actor.id:
        raise Forbidden("this task is not offered to you (role, area or department)", reason="task_not_offered")


def may_see_task(actor: Actor, task: Task | TaskRow) -> bool:
    """Open a task: one she may act on, one of her area (supervisors), one nobody can take
    (``oversees_arealess``), or one she completed."""
    return (may_act_on(actor, task) or supervises(actor, task.org_path) or oversees_arealess(actor, task)
            or (task.status not in LIVE and task.completed_by_id == actor.id))


# ------------------------------------------------------------------------------ starting

def starters(properties: dict[str, Any]) -> tuple[str, ...]:
    """Who may start a process: its ``starters`` property, designers when it names none."""
    return names(properties.get(STARTERS_PROPERTY)) or DEFAULT_STARTERS


def callable_only(properties: dict[str, Any]) -> bool:
    """Meant only as a call activity: ``callableOnly="true"``, or called by another process
    of its deployment unless ``callableOnly="false"`` says it may also be started."""
    flag = str(properties.get(CALLABLE_ONLY_PROPERTY, "")).strip().lower()
    return flag == "true" or (flag != "false" and bool(names(properties.get(CALLED_BY_PROPERTY))))


def started_by_engine(properties: dict[str, Any]) -> bool:
    """``startedByEngine="true"``: started only by the engine (engine/exceptions.py: per
    exception request, per merged case to call back), never by a user."""
    return str(properties.get(ENGINE_STARTED_PROPERTY, "")).strip().lower() == "true"


def may_start(actor: Actor | None, properties: dict[str, Any]) -> bool:
    """The process's ``starters`` (designers when it names none); the system always."""
    return actor is None or any(actor.has_role(name) for name in starters(properties))


def startable(s: Session, actor: Actor) -> list[ProcessDefinition]:
    """The newest version of each process ``actor`` may start from the browser (not case
    processes, which start by a report; not those only ever called)."""
    return [d for d in definitions.list_definitions(s)
            if str((d.properties or {}).get("caseProcess", "")).lower() != "true"
            and not callable_only(d.properties or {}) and not started_by_engine(d.properties or {})
            and may_start(actor, d.properties or {})]


def check_start(actor: Actor | None, loaded: LoadedDefinition) -> None:
    """Conflict for a process only ever called or started by the engine,
    Forbidden for anyone but its starters."""
    if started_by_engine(loaded.properties):
        raise Conflict(f"'{loaded.key}' is started by the engine, for an exception request on a case "
                       "(POST /cases/{id}/exceptions)")
    if callable_only(loaded.properties):
        raise Conflict(f"'{loaded.key}' runs only as a call activity of another process; start that one")
    if not may_start(actor, loaded.properties):
        raise Forbidden(f"you may not start '{loaded.key}' (starters: {', '.join(starters(loaded.properties))})")


def check_start_data(s: Session, actor: Actor | None, loaded: LoadedDefinition, data: dict[str, Any]) -> None:
    """Starting "for another area": an org unit named in the start data (a field its start
    form marks ``x-org-unit``: true, or the level it must have) must exist and lie in the
    starter's area (InvalidInput, Forbidden)."""
    for field, spec in ((loaded.start_form or {}).get("properties") or {}).items():
        level = spec.get(ORG_UNIT_KEYWORD) if isinstance(spec, dict) else None
        if not level or data.get(field) is None:
            continue
        code = str(data[field])
        unit = s.execute(select(OrgUnit.path, OrgUnit.level).where(OrgUnit.code == code)).first()
        if unit is None or (isinstance(level, str) and unit.level != level):
            kind = level if isinstance(level, str) else "org unit"
            raise InvalidInput(f"unknown {kind} '{code}'", fields={field: f"unknown {kind} '{code}'"})
        if actor is not None and not actor.covers(unit.path):
            raise Forbidden(f"{field} '{code}' is outside your area", fields={field: "outside your area"})


def may_report_in(actor: Actor, org_path: str | None) -> bool:
    """Report a case in a grid: one of her area; acceptors (who take the hotline's calls) anywhere."""
    return actor.covers(org_path) or actor.has_role("acceptor")


def reportable_grids(actor: Actor) -> list[ColumnElement[bool]]:
    """SQL on org units: ``may_report_in`` for the report form's list of grids."""
    return [] if actor.has_role("acceptor") else [within(OrgUnit.path, actor.org_path)]


# ------------------------------------------------------------------------------ cases

def visible_cases(actor: Actor) -> ColumnElement[bool]:
    """SQL: the cases staff see: those of their area; a liaison's also those of her department."""
    visible = within(Case.org_path, actor.org_path)
    if actor.department:
        visible = or_(visible, Case.department == actor.department)
    return visible


def may_open_case(actor: Actor, case: Case | CaseRecord, involved: bool) -> bool:
    """One case, by ``visible_cases``' rule, or one she holds or did a task of (``involved``)."""
    return (actor.covers(case.org_path) or bool(actor.department and actor.department == case.department)
            or involved)


def may_see_reported(actor: Actor, case: Case | CaseRecord | Row[Any]) -> bool:
    """A case a process instance reported is named on the instance's page to those of its
    area and to whoever reported it."""
    return actor.covers(case.org_path) or case.reported_by_id == actor.id


def may_see_feedback_link(actor: Actor, case: Case | CaseRecord) -> bool:
    """The reporter's feedback link lets its holder score the case: only those who make the
    callback (acceptors) and supervisors, of the case's area, see it."""
    return (actor.has_role("acceptor") or actor.has_role(SUPERVISOR)) and actor.covers(case.org_path)


# ------------------------------------------------------------------------------ tasks

def may_urge(actor: Actor, task: Task | TaskRow) -> bool:
    """Urging (催办) an open task: supervisors whose area covers it."""
    return supervises(actor, task.org_path)


def check_urge(actor: Actor, task: Task | TaskRow) -> None:
    """``may_urge``, refused saying which half failed."""
    if not actor.has_role(SUPERVISOR):
        raise Forbidden("only supervisors may urge tasks", reason="supervisors_only")
    if not may_urge(actor, task):
        raise Forbidden("this task is outside your area", reason="task_outside_area")


def may_assign(actor: Actor, task: Task | TaskRow) -> bool:
    """Assigning (派单) a task to someone it is offered to: supervisors and coordinators whose
    area covers it."""
    return (actor.has_role(SUPERVISOR) or actor.has_role("coordinator")) and actor.covers(task.org_path)


# ------------------------------------------------------------------------------ photos

def may_add_case_photo(actor: Actor, case: Case | CaseRecord) -> bool:
    """Photos of what was reported: whoever reported the case, or may report in its grid (her
    area, or an acceptor's anywhere), while it is open."""
    return case.status == "open" and (case.reported_by_id == actor.id or may_report_in(actor, case.org_path))


def may_add_task_photo(actor: Actor, task: Task | TaskRow) -> bool:
    """Photos of a resolution or verification: only who may act on the task, while it is open."""
    return task.status in LIVE and may_act_on(actor, task)


EXCEPTION_REQUESTERS = ("acceptor", "coordinator", "grid_worker")


def may_ask_for_case(actor: Actor, case: Case | CaseRecord) -> bool:
    """Whether ``actor`` may ask to void or merge ``case`` (anything with an ``org_path``)."""
    return any(actor.has_role(r) for r in EXCEPTION_REQUESTERS) and actor.covers(case.org_path)


def offers_case_exceptions(actor: Actor, case: Case | CaseRecord) -> bool:
    """The case page offers to void or merge an open case to whom ``may_ask_for_case``."""
    return case.status == "open" and may_ask_for_case(actor, case)


def may_ask_on_task(actor: Actor, task: Task | TaskRow) -> bool:
    """An extension or suspension is asked for by the handler (whoever may act on it now) of a
    case's own live task: not of an exception's approval nor of a merged case's callback."""
    return (task.case_id is not None and task.status in LIVE
            and task.process_key not in (APPROVAL_PROCESS, CALLBACK_PROCESS) and may_act_on(actor, task))


def check_exception_request(actor: Actor, kind: str, case: Case | CaseRecord, task: Task | TaskRow | None) -> None:
    """An extension or suspension is asked for on a task (``may_ask_on_task``); voiding or
    merging a case, by acceptors, coordinators and grid workers of its area."""
    if task is not None:
        if not may_act_on(actor, task):
            raise Forbidden(f"only the task's handler asks for its {kind}")
        if not may_ask_on_task(actor, task):
            raise Forbidden(f"no {kind} is asked for on the task of an approval or a merged case's callback")
    elif not may_ask_for_case(actor, case):
        raise Forbidden(f"you may not ask to {kind} case {case.number} (acceptors, coordinators and grid "
                        "workers of its area may)")


# ------------------------------------------------------------------------------ process instances

def sees_all_instances(actor: Actor) -> bool:
    """Designers and supervisors see every process instance (those of a case: as the case);
    anyone else those she started or has a task in."""
    return actor.has_role(DESIGNER) or actor.has_role(SUPERVISOR)


def visible_instances(actor: Actor) -> list[ColumnElement[bool]]:
    """SQL for instance lists: all for ``sees_all_instances``, else those she started."""
    return [] if sees_all_instances(actor) else [ProcessInstance.started_by_id == actor.id]


def may_see_instance(actor: Actor, started_by_id: int | None, involved: bool) -> bool:
    """A caseless instance: ``sees_all_instances``, its starter, or who holds, did or is
    offered one of its tasks (``involved``)."""
    return sees_all_instances(actor) or started_by_id == actor.id or involved


def may_read_process_data(actor: Actor, started_by_id: int | None, case_org_path: str | None,
                          has_case: bool) -> bool:
    """An instance's process data: designers, the supervisors of its case's area (any
    supervisor if it has no case) and its starter."""
    supervisor = actor.has_role(SUPERVISOR) and (not has_case or actor.covers(case_org_path))
    return actor.has_role(DESIGNER) or supervisor or (started_by_id is not None and started_by_id == actor.id)


def may_design(actor: Actor) -> bool:
    """Process definitions (versions, files, deploying, trying, migrating, calendars): designers."""
    return actor.has_role(DESIGNER)


def check_designer(actor: Actor) -> None:
    """``may_design``, else Forbidden."""
    if not may_design(actor):
        raise Forbidden("only process designers see and change process definitions")


DEFAULT_SENDERS = (DESIGNER,)  # who may send a message or signal whose catch event names no ``senders``


def may_send(actor: Actor | None, senders: tuple[str, ...] | None) -> bool:
    """A message or signal (engine/messaging.py): the roles a catch event's ``senders`` names,
    designers when it names none; the engine itself (a throw, a command without a user) always."""
    return actor is None or any(actor.has_role(role) for role in (senders if senders is not None else DEFAULT_SENDERS))


# ------------------------------------------------------------------------------ incidents

def may_see_incidents(actor: Actor) -> bool:
    """Incidents (engine/incidents.py): designers all of them, supervisors those of their area."""
    return actor.has_role(DESIGNER) or actor.has_role(SUPERVISOR)


def may_see_incident(actor: Actor, org_path: str | None) -> bool:
    """Designers: every incident; supervisors: those of their area and of caseless instances."""
    if actor.has_role(DESIGNER):
        return True
    return actor.has_role(SUPERVISOR) and (org_path is None or actor.covers(org_path))


def visible_incidents(actor: Actor) -> list[ColumnElement[bool]]:
    """SQL: ``may_see_incident`` for lists (Forbidden for anyone who sees none)."""
    if actor.has_role(DESIGNER):
        return []
    if not may_see_incidents(actor):
        raise Forbidden("only designers and supervisors see incidents")
    return [Incident.org_path.is_(None) | within(Incident.org_path, actor.org_path)]


# ------------------------------------------------------------------------------ figures

FIGURE_READERS = (SUPERVISOR, "coordinator", "dept_liaison")


def may_read_figures(actor: Actor) -> bool:
    """Supervisors, coordinators and department liaisons with an area read its figures."""
    return actor.org_path is not None and any(actor.has_role(r) for r in FIGURE_READERS)


def figures_department(actor: Actor, department: str | None) -> str | None:
    """The department whose figures she reads (None: all) when she asked for ``department``:
    supervisors and coordinators any; a liaison only her own (Forbidden otherwise, and for
    anyone but ``may_read_figures``)."""
    if not may_read_figures(actor):
        raise Forbidden("only supervisors, coordinators and department liaisons read the figures")
    if actor.has_role(SUPERVISOR) or actor.has_role("coordinator"):
        return department
    if not actor.department:
        raise Forbidden("a liaison without a department has no figures")
    if department and department != actor.department:
        raise Forbidden("a department liaison reads only her own department's figures")
    return actor.department


def may_read_figures_of(actor: Actor, org_path: str) -> bool:
    """The figures of an org unit: ``may_read_figures`` and in her area."""
    return may_read_figures(actor) and actor.covers(org_path)


# ------------------------------------------------------------------------------ places and QR codes

QR_PRINTERS = ("coordinator", "supervisor", "admin")


def may_print_qr_codes(actor: Actor) -> bool:
    """The residents' QR codes are printed and handed out by coordinators (and supervisors,
    administrators) with an area: those of its communities."""
    return any(actor.has_role(r) for r in QR_PRINTERS) and bool(actor.org_path)


def may_print_qr(actor: Actor | None, org_path: str) -> bool:
    """The QR codes of a community: ``may_print_qr_codes`` of the community or above; the CLI is trusted."""
    return actor is None or (may_print_qr_codes(actor) and actor.covers(org_path))


# ------------------------------------------------------------------------------ groups and lanes

def may_administer_groups(actor: Actor | None) -> bool:
    """Groups (and liaisons' areas) staff lanes and tasks: administrators (and the CLI) manage them."""
    return actor is None or actor.has_role(ADMIN)


def may_administer_webhooks(actor: Actor | None) -> bool:
    """Webhooks post case data to other systems: administrators (and the CLI) register them."""
    return actor is None or actor.has_role(ADMIN)


def may_administer_access(actor: Actor | None) -> bool:
    """Who may sign in (locking a user out) and which client applications may file citizens'
    requests (Open311 keys): administrators (and the CLI)."""
    return actor is None or actor.has_role(ADMIN)


def may_manage_deliveries(actor: Actor | None) -> bool:
    """Failed deliveries show where other systems' endpoints and users' addresses fail, and a
    retry sends case data out again: administrators (and the CLI)."""
    return actor is None or actor.has_role(ADMIN)


def may_edit_notification_settings(actor: Actor, user_id: int) -> bool:
    """Where a user is told, and how: only she decides (not even an administrator)."""
    return actor.id == user_id


def may_list_liaisons(actor: Actor | None) -> bool:
    """Which areas each department liaison serves: administrators (who bind them) and supervisors."""
    return actor is None or actor.has_role(ADMIN) or actor.has_role(SUPERVISOR)


def may_export_hotline(actor: Actor | None) -> bool:
    """What became of hotline tickets goes back to the hotline: its acceptors (who make the
    callbacks) and supervisors, of their area; the CLI's operator (None), everything."""
    return actor is None or actor.has_role("acceptor") or actor.has_role(SUPERVISOR)


def check_calendar(actor: Actor | None) -> None:
    """A holiday notice moves every open deadline of its year: designers load it (and the
    CLI's operator, ``None``)."""
    if actor is not None and not may_design(actor):
        raise Forbidden("only process designers load holiday notices: a notice moves the open deadlines of its year")


def may_see_unassignable(actor: Actor) -> bool:
    """Tasks offered to a role or group nobody has: supervisors and designers see them."""
    return actor.has_role(SUPERVISOR) or actor.has_role(DESIGNER)


def inbox_scopes(actor: Actor) -> tuple[str, ...]:
    """The inbox tabs a user has: her own and claimable work; a supervisor's whole area and its
    overdue work; the tasks nobody can take for supervisors and designers."""
    scopes = ["mine", "claimable"]
    if may_oversee_area(actor):
        scopes += ["area", "overdue"]
    if may_see_unassignable(actor):
        scopes.append("unassignable")
    return tuple(scopes)


def may_edit_saved_filter(actor: Actor, owner_id: int) -> bool:
    """A saved inbox filter is its owner's alone: no one else lists, renames or deletes it."""
    return actor.id == owner_id


def oversees_arealess(actor: Actor, task: Task | TaskRow) -> bool:
    """A task offered to a role alone (no area, no user: e.g. a lane of a model made
    elsewhere) is seen, read-only, by supervisors and designers: one nobody can take shows in
    their ``unassignable`` scope and must open from there."""
    return (task.org_path is None and task.candidate_user_id is None and task.role is not None
            and may_see_unassignable(actor))


# ------------------------------------------------------------------------------ tasks

def task_refusal(s: Session, task: Task | TaskRow, user_id: int | None) -> EngineError:
    """Why a task that is not open to ``user_id`` (finished, cancelled, held by another) was
    refused, with what the user may be told: who holds or finished it and when, only to those
    who may see the task or could have taken it; never to the public link (``user_id`` None)."""
    who = org.acting(s, user_id)
    told = who is not None and (may_see_task(who, task) or is_candidate(who, task))
    params = {"case_id": task.case_id, "task_id": task.id}
    if task.status == "completed":
        by = task.completed_by_id
        params.update(at=task.completed_at.isoformat() if task.completed_at else None, by_you=by == user_id,
                      by=s.scalar(select(User.display_name).where(User.id == by)) if told and by else None)
        return Conflict("task already completed", reason="task_completed", params=params)
    if task.status == "cancelled":
        return Conflict("task was cancelled; the case has moved on", reason="task_cancelled", params=params)
    if task.assignee_id is not None and task.assignee_id != user_id:
        if who is None:  # the public feedback link: no staff names
            return Conflict("task is claimed by someone else", reason="task_claimed")
        if not told:
            return Forbidden("this task is not offered to you (role, area or department)",
                             reason="task_not_offered")
        holder, name = s.execute(select(User.username, User.display_name).where(User.id == task.assignee_id)).one()
        return Conflict(f"task is claimed by {holder}", reason="task_claimed", params={**params, "by": name})
    return Conflict("task is already claimed by you", reason="task_claimed_by_you", params=params)


def may_unclaim(actor: Actor, task: Task | TaskRow) -> bool:
    """A claimed task goes back to its queue by its holder, or by a supervisor of its area
    (when the holder cannot go on); never a task someone holds elsewhere."""
    return task.status == "claimed" and (task.assignee_id == actor.id or supervises(actor, task.org_path))


def task_actions(actor: Actor, task: Task | TaskRow) -> dict[str, bool | str | None]:
    """What ``actor`` may do with a task, for lists and the task page to offer just that:
    ``can_act`` (complete it: 办理, else only look: 查看), ``can_claim``, ``can_unclaim`` and
    ``unclaim_as`` (why she may: "holder" or "supervisor")."""
    live = task.status in LIVE
    act = live and may_act_on(actor, task)
    unclaim = may_unclaim(actor, task)
    return {"can_act": act, "can_claim": act and task.status == "open", "can_unclaim": unclaim,
            "unclaim_as": ("holder" if task.assignee_id == actor.id else "supervisor") if unclaim else None}


# ------------------------------------------------------------------------------ pages

def sections(actor: Actor, case_process: dict[str, Any] | None) -> frozenset[str]:
    """The pages the navigation offers her (each refuses anyone else itself): reporting to the
    case process's starters (``case_process``: its properties, None if not deployed), the
    figures, QR codes, the designer, incidents and failed deliveries to whom their rules allow."""
    offered = {"report": case_process is not None and may_start(actor, case_process),
               "dashboard": may_read_figures(actor), "qr": may_print_qr_codes(actor), "designer": may_design(actor),
               "incidents": may_see_incidents(actor), "deliveries": may_manage_deliveries(actor)}
    return frozenset(name for name, yes in offered.items() if yes)
