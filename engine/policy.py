"""Who may do what: the named rules that commands and queries call, so that every caller
(web pages, REST API, CLI, tests) is held to the same rule, written once.

Roles and groups are both names in a user's ``roles`` (see ``engine/groups.py``); process
properties that name who may do something (``starters``) list such names, comma-separated.
An actor of ``None`` is the system (the CLI without ``--user``, timers): it is trusted.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .definitions import CALLED_BY_PROPERTY
from . import org
from .errors import Conflict, EngineError, Forbidden, InvalidInput
from .model import OrgUnit, User
from .org import Actor

if TYPE_CHECKING:
    from .definitions import LoadedDefinition

ADMIN = "admin"                     # may create groups and assign users to them
DEFAULT_STARTERS = ("designer",)    # who may start a process that names no ``starters``
STARTERS_PROPERTY = "starters"
CALLABLE_ONLY_PROPERTY = "callableOnly"
ORG_UNIT_KEYWORD = "x-org-unit"     # a start-form field naming an org unit (true or a level)
ENGINE_STARTED_PROPERTY = "startedByEngine"  # started per exception request or merged case, never directly


def names(value: str | None) -> tuple[str, ...]:
    """A comma-separated list of role/group names, as process properties write them."""
    return tuple(dict.fromkeys(n.strip() for n in (value or "").split(",") if n.strip()))


# ------------------------------------------------------------------------------ starting

def starters(properties: dict[str, Any]) -> tuple[str, ...]:
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


def startable(s: Session, actor: Actor) -> list:
    """The newest version of each process ``actor`` may start from the browser (not case
    processes, which start by a report; not those only ever called)."""
    from .definitions import list_definitions
    return [d for d in list_definitions(s)
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


def check_start_data(s: Session, actor: Actor | None, loaded: LoadedDefinition, data: dict) -> None:
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


# ------------------------------------------------------------------------------ cases

def may_see_feedback_link(actor: Actor, case) -> bool:
    """The reporter's feedback link lets its holder score the case: only those who make the
    callback (acceptors) and supervisors, of the case's area, see it."""
    return (actor.has_role("acceptor") or actor.has_role("supervisor")) and actor.covers(case.org_path)


# ------------------------------------------------------------------------------ tasks

def may_urge(actor: Actor, task) -> bool:
    """Urging (催办) an open task: supervisors whose area covers it."""
    return actor.has_role("supervisor") and actor.covers(task.org_path)


def may_assign(actor: Actor, task) -> bool:
    """Assigning (派单) a task to someone it is offered to: supervisors and coordinators whose
    area covers it."""
    return (actor.has_role("supervisor") or actor.has_role("coordinator")) and actor.covers(task.org_path)


# ------------------------------------------------------------------------------ photos

def may_add_case_photo(actor: Actor, case) -> bool:
    """Photos of what was reported: whoever reported the case, or may report in its grid (her
    area, or an acceptor's anywhere), while it is open."""
    return case.status == "open" and (case.reported_by_id == actor.id or actor.covers(case.org_path)
                                      or actor.has_role("acceptor"))


def may_add_task_photo(actor: Actor, task) -> bool:
    """Photos of a resolution or verification: only who may act on the task, while it is open."""
    return task.status in ("open", "claimed") and actor.may_act_on(task)


EXCEPTION_REQUESTERS = ("acceptor", "coordinator", "grid_worker")


def may_ask_for_case(actor: Actor, case) -> bool:
    """Whether ``actor`` may ask to void or merge ``case`` (anything with an ``org_path``)."""
    return any(actor.has_role(r) for r in EXCEPTION_REQUESTERS) and actor.covers(case.org_path)


def check_exception_request(actor: Actor, kind: str, case, task) -> None:
    """An extension or suspension is asked for by the task's handler (whoever may act on it
    now); voiding or merging a case, by acceptors, coordinators and grid workers of its area."""
    if task is not None:
        if not actor.may_act_on(task):
            raise Forbidden(f"only the task's handler asks for its {kind}")
    elif not may_ask_for_case(actor, case):
        raise Forbidden(f"you may not ask to {kind} case {case.number} (acceptors, coordinators and grid "
                        "workers of its area may)")


# ------------------------------------------------------------------------------ places and QR codes

QR_PRINTERS = ("coordinator", "supervisor", "admin")


def may_print_qr(actor: Actor | None, org_path: str) -> bool:
    """The residents' QR codes of a community: printed and handed out by its coordinators
    (and supervisors, administrators) of the community or above; the CLI is trusted."""
    return actor is None or (any(actor.has_role(r) for r in QR_PRINTERS) and actor.covers(org_path))


# ------------------------------------------------------------------------------ groups and lanes

def may_administer_groups(actor: Actor | None) -> bool:
    return actor is None or actor.has_role(ADMIN)


def may_administer_webhooks(actor: Actor | None) -> bool:
    """Webhooks post case data to other systems: administrators (and the CLI) register them."""
    return actor is None or actor.has_role(ADMIN)


def may_manage_deliveries(actor: Actor | None) -> bool:
    """Failed deliveries show where other systems' endpoints and users' addresses fail, and a
    retry sends case data out again: administrators (and the CLI)."""
    return actor is None or actor.has_role(ADMIN)


def may_edit_notification_settings(actor: Actor, user_id: int) -> bool:
    """Where a user is told, and how: only she decides (not even an administrator)."""
    return actor.id == user_id


def may_export_hotline(actor: Actor | None) -> bool:
    """What became of hotline tickets goes back to the hotline: its acceptors (who make the
    callbacks) and supervisors, of their area; the CLI's operator (None), everything."""
    return actor is None or actor.has_role("acceptor") or actor.has_role("supervisor")


def check_calendar(actor: Actor | None) -> None:
    """A holiday notice moves every open deadline of its year: designers load it (and the
    CLI's operator, ``None``)."""
    if actor is not None and not actor.has_role("designer"):
        raise Forbidden("only process designers load holiday notices: a notice moves the open deadlines of its year")


def may_see_unassignable(actor: Actor) -> bool:
    """Tasks offered to a role or group nobody has: supervisors and designers see them."""
    return actor.has_role("supervisor") or actor.has_role("designer")


def inbox_scopes(actor: Actor) -> tuple[str, ...]:
    """The inbox tabs a user has: her own and claimable work; a supervisor's whole area and its
    overdue work; the tasks nobody can take for supervisors and designers."""
    scopes = ["mine", "claimable"]
    if actor.has_role("supervisor"):
        scopes += ["area", "overdue"]
    if may_see_unassignable(actor):
        scopes.append("unassignable")
    return tuple(scopes)


def may_edit_saved_filter(actor: Actor, owner_id: int) -> bool:
    """A saved inbox filter is its owner's alone: no one else lists, renames or deletes it."""
    return actor.id == owner_id


def oversees_arealess(actor: Actor, task) -> bool:
    """A task offered to a role alone (no area, no user: e.g. a lane of a model made
    elsewhere) is seen, read-only, by supervisors and designers: one nobody can take shows in
    their ``unassignable`` scope and must open from there."""
    return (task.org_path is None and task.candidate_user_id is None and task.role is not None
            and may_see_unassignable(actor))


# ------------------------------------------------------------------------------ tasks

def task_refusal(s: Session, task, user_id: int | None) -> EngineError:
    """Why a task that is not open to ``user_id`` (finished, cancelled, held by another) was
    refused, with what the user may be told: who holds or finished it and when, only to those
    who may see the task or could have taken it; never to the public link (``user_id`` None)."""
    who = org.actor(s, user_id) if user_id is not None else None
    told = who is not None and (who.may_see(task) or who.is_candidate(task))
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


def may_unclaim(actor: Actor, task) -> bool:
    """A claimed task goes back to its queue by its holder, or by a supervisor of its area
    (when the holder cannot go on); never a task someone holds elsewhere."""
    return task.status == "claimed" and (
        task.assignee_id == actor.id or (actor.has_role("supervisor") and actor.covers(task.org_path)))


def task_actions(actor: Actor, task) -> dict[str, bool | str | None]:
    """What ``actor`` may do with a task, for lists and the task page to offer just that:
    ``can_act`` (complete it: 办理, else only look: 查看), ``can_claim``, ``can_unclaim`` and
    ``unclaim_as`` (why she may: "holder" or "supervisor")."""
    live = task.status in ("open", "claimed")
    act = live and actor.may_act_on(task)
    unclaim = may_unclaim(actor, task)
    return {"can_act": act, "can_claim": act and task.status == "open", "can_unclaim": unclaim,
            "unclaim_as": ("holder" if task.assignee_id == actor.id else "supervisor") if unclaim else None}
