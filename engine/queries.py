"""Read-side queries: task and case details, the case and instance lists, history, names.
Indexed columns only; never a workflow load. The inbox, read by a planner, is ``inbox_plan``."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import Session, undefer
from sqlalchemy.orm.interfaces import ORMOption

from . import paging, policy
from .errors import Forbidden, InvalidInput, NotFound
from .model import Case, Event, OrgUnit, ProcessDefinition, ProcessInstance, Task, User
from .org import Actor
from .paging import Total

OPEN = ("open", "claimed")
LIST_COLUMNS = [c for c in Task.__table__.columns if c.key not in ("data", "input")]  # a task's, but the large ones


def task_dict(t: Task, now: datetime, case_number: str | None = None, case_title: str | None = None,
              assignee: str | None = None) -> dict[str, Any]:
    return {"id": t.id, "instance_id": t.instance_id, "case_id": t.case_id, "case_number": case_number,
            "case_title": case_title, "process_key": t.process_key, "name": t.name, "name_zh": t.name_zh,
            "element_id": t.element_id, "stage": t.stage, "role": t.role, "org_unit": t.org_unit_code,
            "department": t.department, "assignee": assignee, "status": t.status, "priority": t.priority,
            "category": t.category, "due_at": t.due_at, "created_at": t.created_at, "claimed_at": t.claimed_at,
            "completed_at": t.completed_at, "overdue": bool(t.due_at and t.status in OPEN and t.due_at < now),
            "urge_count": t.urge_count, "urged_at": t.urged_at, "overdue_at": t.overdue_at, "form": t.form}


def visible_task(s: Session, actor: Actor, task_id: str, *options: ORMOption) -> Task:
    """The task row if ``actor`` may see it: hers, offered to her, of her area (supervisors),
    or one she completed (NotFound, Forbidden)."""
    task = s.get(Task, task_id, options=list(options))
    if task is None:
        raise NotFound(f"task {task_id} not found", reason="task_not_found")
    if not policy.may_see_task(actor, task):
        raise Forbidden("this task is not yours and not offered to you", reason="task_not_yours")
    return task


def task_for_submit(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """``task_detail`` for a form being submitted: a finished task she could have taken (a
    stale tab) is refused as the command would refuse it (who finished it, when), not as
    one she may not see."""
    try:
        return task_detail(s, actor, task_id, now)
    except Forbidden:
        task = s.get(Task, task_id)
        if task is not None and task.status not in OPEN and policy.is_candidate(actor, task):
            raise policy.task_refusal(s, task, actor.id) from None
        raise


def task_detail(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """A task, its case summary and its form's JSON Schema (``schema``; ``form`` is the form's
    file name, as in every task dict), if the actor may see it."""
    task = visible_task(s, actor, task_id, undefer(Task.input))
    forms = instance_forms(s, task.instance_id)
    assignee = s.get(User, task.assignee_id) if task.assignee_id else None
    case = s.get(Case, task.case_id) if task.case_id else None
    result = task_dict(task, now, case.number if case else None, case.title if case else None,
                       assignee.username if assignee else None)
    result["schema"] = forms.get(task.form) if task.form else None
    result["data"] = task.data
    result["input"] = json.loads(task.input) if task.input is not None else None
    result["case"] = case_summary(case) if case else None
    result.update(policy.task_actions(actor, task))
    result["can_ask_exception"] = policy.may_ask_on_task(actor, task)
    return result


_forms_by_definition: dict[tuple[str, int, str], dict[str, Any]] = {}


def instance_forms(s: Session, instance_id: int) -> dict[str, Any]:
    """The forms of the definition version an instance runs on. A version never changes, so
    each is read once per process (keyed by database, id and content hash, so two databases
    or a re-created one never mix)."""
    row = s.execute(select(ProcessDefinition.id, ProcessDefinition.content_hash).join(
        ProcessInstance, ProcessInstance.definition_id == ProcessDefinition.id).where(
        ProcessInstance.id == instance_id)).first()
    if row is None:
        return {}
    key = (str(s.get_bind().engine.url), row.id, row.content_hash)
    forms = _forms_by_definition.get(key)
    if forms is None:
        forms = _forms_by_definition[key] = s.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == row.id)) or {}
    return forms


def case_summary(c: Case) -> dict[str, Any]:
    return {"id": c.id, "number": c.number, "title": c.title, "description": c.description,
            "category": c.category, "urgency": c.urgency, "source": c.source, "grid": c.grid.code,
            "grid_name": c.grid.name, "grid_name_en": c.grid.name_en, "address": c.address, "lat": c.lat, "lon": c.lon,
            "reporter": {"name": c.reporter_name, "phone": c.reporter_phone}, "department": c.department,
            "stage": c.stage, "status": c.status, "escalation_level": c.escalation_level,
            "consult_unit": c.consult_unit, "rework_count": c.rework_count, "return_count": c.return_count,
            "reported_at": c.reported_at, "dispatched_at": c.dispatched_at, "claimed_at": c.claimed_at,
            "resolved_at": c.resolved_at, "verified_at": c.verified_at, "closed_at": c.closed_at,
            "whistled_at": c.whistled_at, "due_at": c.due_at, "overdue_at": c.overdue_at,
            "extension_count": c.extension_count, "suspension_count": c.suspension_count,
            "suspended_at": c.suspended_at, "merged_into_id": c.merged_into_id, "updated_at": c.updated_at,
            "satisfaction": c.satisfaction, "feedback_contacted": c.feedback_contacted,
            "feedback_resolved": c.feedback_resolved, "feedback_comment": c.feedback_comment,
            "instance_id": c.instance_id, "source_instance_id": c.source_instance_id}


def case_list(s: Session, actor: Actor, *, status: str | None = None, stage: str | None = None,
              category: str | None = None, grid: str | None = None, q: str | None = None,
              department: str | None = None, source: str | None = None, area: str | None = None,
              reported: tuple[datetime, datetime] | None = None, overdue_at: datetime | None = None,
              page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], int]:
    """Cases she may see, newest first; ``area`` is any org unit (its whole subtree),
    ``reported`` a ``[start, end)`` period, ``overdue_at`` keeps the cases open past their
    deadline at that time (not suspended)."""
    paging.check(page, per_page)
    where = [policy.visible_cases(actor)]
    if area:
        path = s.scalar(select(OrgUnit.path).where(OrgUnit.code == area))
        if path is None:
            raise InvalidInput(f"unknown org unit '{area}'", fields={"area": "unknown org unit code"})
        where.append(policy.within(Case.org_path, path))
    if department:
        where.append(Case.department == department)
    if source:
        where.append(Case.source == source)
    if reported:
        where += [Case.reported_at >= reported[0], Case.reported_at < reported[1]]
    if overdue_at:  # a suspended case's clock stands still
        where += [Case.status == "open", Case.due_at < overdue_at, Case.suspended_at.is_(None)]
    if status:
        where.append(Case.status == status)
    if stage:
        where.append(Case.stage == stage)
    if category:
        where.append(Case.category == category)
    if grid:
        where.append(Case.grid_id == select(OrgUnit.id).where(OrgUnit.code == grid).scalar_subquery())
    if q:
        where.append(or_(Case.number == q, Case.title.contains(q, autoescape=True)))  # % and _ are text
    total = s.scalar(select(func.count()).select_from(Case).where(*where)) or 0
    rows = s.scalars(select(Case).where(*where).order_by(Case.reported_at.desc(), Case.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [case_summary(c) for c in rows], total


def get_case(s: Session, actor: Actor, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found", reason="case_not_found")
    holds = s.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id)))
    if not policy.may_open_case(actor, case, bool(holds)):
        raise Forbidden("this case is outside your area", reason="case_outside_area")
    return case


def may_see_case(s: Session, actor: Actor, case_id: int) -> bool:
    """Whether ``actor`` may open the case (``get_case``'s rule), e.g. for a link to it."""
    try:
        get_case(s, actor, case_id)
    except (NotFound, Forbidden):
        return False
    return True


def case_detail(s: Session, actor: Actor, case_id: int, now: datetime) -> dict[str, Any]:
    """The case with its open tasks (who holds them) and its full timeline."""
    case = get_case(s, actor, case_id)
    result = case_summary(case)
    result["open_tasks"] = open_tasks(s, now, case_id=case_id)
    if case.suspended_at is not None:  # its clock stands still: its own tasks are not overdue meanwhile
        for task in result["open_tasks"]:
            task["overdue"] = task["overdue"] and task["instance_id"] != case.instance_id
    result["history"] = history(s, case_id=case_id)
    result.update(merged_cases(s, actor, case))
    # Waiting for the callback: its feedback task is open, or merged into a case that closed.
    waiting = case.feedback_at is None and (case.status == "merged" or any(
        t["id"] == case.feedback_task_id for t in result["open_tasks"]))
    result["feedback_token"] = case.feedback_token if waiting and policy.may_see_feedback_link(actor, case) else None
    return result


def merged_cases(s: Session, actor: Actor, case: Case) -> dict[str, Any]:
    """``merged_from``: the duplicates merged into ``case`` that ``actor`` may see, in the order
    they were merged (their number, title, reporter, when merged, when their reporter answered
    the callback); ``merged_into``: the original a merged case points at (id and number)."""
    rows = s.execute(select(Case.id, Case.number, Case.title, Case.reporter_name, Case.reporter_phone,
                            Case.reported_at, Case.closed_at, Case.feedback_at, Case.satisfaction)
                     .where(Case.merged_into_id == case.id, Case.status == "merged", policy.visible_cases(actor))
                     .order_by(Case.closed_at, Case.id))
    merged_from = [{"id": r.id, "number": r.number, "title": r.title,
                    "reporter": {"name": r.reporter_name, "phone": r.reporter_phone}, "reported_at": r.reported_at,
                    "merged_at": r.closed_at, "feedback_at": r.feedback_at, "satisfaction": r.satisfaction}
                   for r in rows]
    original = s.scalar(select(Case.number).where(Case.id == case.merged_into_id)) if case.merged_into_id else None
    return {"merged_from": merged_from,
            "merged_into": {"id": case.merged_into_id, "number": original} if original else None}


def _open_tasks_of(column: ColumnElement[Any]) -> Select[Any]:
    table = Task.__table__
    return (select(*LIST_COLUMNS, table.c.data, User.username.label("assignee_name"))
            .outerjoin(User, User.id == table.c.assignee_id)
            .where(column == bindparam("key"), table.c.status.in_(OPEN)).order_by(table.c.created_at))


# Built once: a case page and every completion ask for these.
_OPEN_TASKS_OF_CASE = _open_tasks_of(Task.__table__.c.case_id)
_OPEN_TASKS_OF_INSTANCE = _open_tasks_of(Task.__table__.c.instance_id)


def _open_task_rows(s: Session, case_id: int | None, instance_id: int | None) -> list[tuple[Task, str | None]]:
    statement = _OPEN_TASKS_OF_CASE if case_id is not None else _OPEN_TASKS_OF_INSTANCE
    rows = s.connection().execute(statement, {"key": case_id if case_id is not None else instance_id})
    return [(Task(**{k: v for k, v in r._mapping.items() if k != "assignee_name"}), r.assignee_name) for r in rows]


def open_tasks(s: Session, now: datetime, *, case_id: int | None = None, instance_id: int | None = None
               ) -> list[dict[str, Any]]:
    """A case's (or an instance's) open tasks and who holds them."""
    return [task_dict(t, now, assignee=u) for t, u in _open_task_rows(s, case_id, instance_id)]


def history(s: Session, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict[str, Any]]:
    where = Event.case_id == case_id if case_id is not None else Event.instance_id == instance_id
    rows = s.execute(select(Event.id, Event.type, Event.at, User.username.label("actor"),
                            User.display_name.label("actor_name"), User.display_name_en.label("actor_name_en"),
                            Event.task_id, Event.payload)
                     .outerjoin(User, User.id == Event.actor_id).where(where).order_by(Event.id))
    return [row._asdict() for row in rows]


def user_names(s: Session, usernames: set[str]) -> dict[str, tuple[str, str | None]]:
    """(display name, English display name) of users by username: pages show names, not usernames."""
    if not usernames:
        return {}
    return {username: (name, name_en) for username, name, name_en in s.execute(
        select(User.username, User.display_name, User.display_name_en).where(User.username.in_(usernames)))}


def report_grids(s: Session, actor: Actor) -> list[dict[str, Any]]:
    """The grids a user may report for (``policy.reportable_grids``)."""
    query = select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.level == "grid",
                                                                      *policy.reportable_grids(actor))
    return [dict(code=c, name=n, name_en=e) for c, n, e in s.execute(query.order_by(OrgUnit.code))]


def unit_names(s: Session, codes: set[str]) -> dict[str, tuple[str, str | None]]:
    """(name, English name) of org units by code."""
    if not codes:
        return {}
    return {code: (name, name_en) for code, name, name_en in s.execute(
        select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en).where(OrgUnit.code.in_(codes)))}


def process_names(s: Session, keys: set[str]) -> dict[str, str]:
    """The name of each process (its newest version's) by key, for history that codes it."""
    if not keys:
        return {}
    newest = (select(ProcessDefinition.key, func.max(ProcessDefinition.version).label("version"))
              .where(ProcessDefinition.key.in_(keys)).group_by(ProcessDefinition.key).subquery())
    return {key: name for key, name in s.execute(
        select(ProcessDefinition.key, ProcessDefinition.name).join(
            newest, and_(newest.c.key == ProcessDefinition.key, newest.c.version == ProcessDefinition.version)))
        if name}


_INSTANCE = (select(ProcessInstance.id, ProcessInstance.key, ProcessDefinition.version, ProcessInstance.status,
                    ProcessInstance.case_id, ProcessInstance.started_at, ProcessInstance.ended_at,
                    ProcessInstance.next_timer_at, ProcessInstance.started_by_id, ProcessInstance.error)
             .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id))
_INSTANCE_BY_ID = _INSTANCE.where(ProcessInstance.id == bindparam("iid"))


def visible_instance(s: Session, actor: Actor, instance_id: int) -> Row[Any]:
    """The instance's summary row if ``actor`` may see it: its case is visible to her, or she
    started it or has a task in it (designers and supervisors see caseless instances)."""
    inst = s.connection().execute(_INSTANCE_BY_ID, {"iid": instance_id}).first()
    if inst is None:
        raise NotFound(f"process instance {instance_id} not found")
    if inst.case_id is not None:
        get_case(s, actor, inst.case_id)
    elif not policy.may_see_instance(actor, inst.started_by_id, involved=False):
        tasks = s.scalar(select(func.count()).select_from(Task).where(
            Task.instance_id == instance_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id,
                                                 Task.candidate_user_id == actor.id)))
        if not policy.may_see_instance(actor, inst.started_by_id, involved=bool(tasks)):
            raise Forbidden("this process instance is not yours")
    return inst


def instance_detail(s: Session, actor: Actor, instance_id: int, now: datetime) -> dict[str, Any]:
    """An instance (without its stored state) with its open tasks and history, if ``actor``
    may see it: its case is visible to her, or she started it or has a task in it."""
    inst = visible_instance(s, actor, instance_id)
    reported = s.execute(select(Case.id, Case.number, Case.org_path, Case.reported_by_id)
                         .where(Case.source_instance_id == instance_id).order_by(Case.id))
    return {**inst._asdict(), "open_tasks": open_tasks(s, now, instance_id=instance_id),
            "history": history(s, instance_id=instance_id),
            "reported_cases": [{"id": r.id, "number": r.number} for r in reported
                               if policy.may_see_reported(actor, r)]}


_VARIABLES = (select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.started_by_id, ProcessInstance.data,
                     ProcessInstance.case_id, Case.org_path).outerjoin(Case, Case.id == ProcessInstance.case_id)
              .where(ProcessInstance.id == bindparam("iid")))


def instance_variables(s: Session, actor: Actor, instance_id: int) -> dict[str, Any]:
    """An instance's current process data (see ``readmodel.process_data``; null for an instance
    no command has touched since the column was added), for designers, the supervisors of its
    case's area (any supervisor if it has no case) and the user who started it."""
    row = s.connection().execute(_VARIABLES, {"iid": instance_id}).first()
    if row is None:
        raise NotFound(f"process instance {instance_id} not found")
    if not policy.may_read_process_data(actor, row.started_by_id, row.org_path, row.case_id is not None):
        raise Forbidden("the process data of this instance is not yours to read")
    return {"id": row.id, "status": row.status,
            "variables": json.loads(row.data) if row.data is not None else None}


def instance_list(s: Session, actor: Actor, *, key: str | None = None, status: str | None = None,
                  page: int = 1, per_page: int = 20) -> tuple[list[dict[str, Any]], Total]:
    """Process instances, newest first: all of them for designers and supervisors, the ones
    she started for anyone else; the total is capped like the inbox's."""
    paging.check(page, per_page)
    where = policy.visible_instances(actor)
    if key:
        where.append(ProcessInstance.key == key)
    if status:
        where.append(ProcessInstance.status == status)
    total = paging.count(s, select(ProcessInstance.id).where(*where))
    rows = s.execute(_INSTANCE.where(*where).order_by(ProcessInstance.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [row._asdict() for row in rows], total


def user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name,
            "display_name_en": u.display_name_en, "roles": list(u.roles or []),
            "org_unit": u.org_unit.code if u.org_unit else None,
            "org_unit_name": u.org_unit.name if u.org_unit else None,
            "org_unit_name_en": u.org_unit.name_en if u.org_unit else None,
            "org_level": u.org_unit.level if u.org_unit else None,
            "department": u.department.code if u.department else None,
            "department_name": u.department.name if u.department else None,
            "department_name_en": u.department.name_en if u.department else None}


def feedback_link(s: Session, token: str, now: datetime) -> dict[str, Any]:
    """What the public feedback page may show: the case in brief and whether the link works."""
    case = s.scalars(select(Case).where(Case.feedback_token == token)).first()
    if case is None:
        raise NotFound("unknown feedback link")
    task = s.get(Task, case.feedback_task_id) if case.feedback_task_id else None
    if case.feedback_at is not None:
        state = "used"
    elif task is None or task.status not in OPEN or (task.due_at is not None and task.due_at < now):
        state = "expired"
    else:
        state = "valid"
    form = task.form if task else None
    return {"state": state, "number": case.number, "title": case.title, "category": case.category,
            "reported_at": case.reported_at, "resolved_at": case.resolved_at, "form": form,
            "schema": instance_forms(s, task.instance_id).get(form) if form and task is not None else None}
