"""Read-side queries: inboxes, cases, history. Indexed columns only; never a workflow load."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from .errors import Forbidden, InvalidInput, NotFound
from .model import Case, Event, OrgUnit, ProcessDefinition, ProcessInstance, Task, User
from .org import Actor

SCOPES = ("mine", "claimable", "area")
OPEN = ("open", "claimed")
MAX_PER_PAGE = 200


def _area(column, path: str | None):
    """``column`` lies in the subtree at ``path``: a range test the B-tree index serves."""
    if not path:
        return column.is_(None) & column.is_not(None)  # nothing
    return and_(column >= path, column < path + "\uffff")


def _scope_filter(actor: Actor, scope: str):
    if scope == "mine":
        return and_(Task.assignee_id == actor.id, Task.status == "claimed")
    if scope == "claimable":
        by_role = and_(Task.role.in_(actor.roles or ("-",)), Task.candidate_user_id.is_(None),
                       or_(Task.department.is_(None), Task.department == actor.department),
                       or_(Task.org_path.is_(None), _area(Task.org_path, actor.org_path)))
        return and_(Task.status == "open", or_(by_role, Task.candidate_user_id == actor.id))
    if scope == "area":
        if "supervisor" not in actor.roles:
            raise Forbidden("only supervisors see all tasks of their area")
        return and_(Task.status.in_(OPEN), _area(Task.org_path, actor.org_path))
    raise InvalidInput(f"unknown scope '{scope}'", fields={"scope": f"one of {', '.join(SCOPES)}"})


def inbox(s: Session, actor: Actor, scope: str, *, now: datetime, category: str | None = None,
          stage: str | None = None, grid: str | None = None, page: int = 1, per_page: int = 20
          ) -> tuple[list[dict], int]:
    """A page of tasks in ``scope``, soonest deadline first, and the total count."""
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": ">= 1", "per_page": f"1..{MAX_PER_PAGE}"})
    where = [_scope_filter(actor, scope)]
    if category:
        where.append(Task.category == category)
    if stage:
        where.append(Task.stage == stage)
    if grid:
        where.append(Task.org_unit_code == grid)
    total = s.scalar(select(func.count()).select_from(Task).where(*where))
    assignee = aliased(User)
    rows = s.execute(
        select(Task, Case.number, Case.title, assignee.username)
        .outerjoin(Case, Case.id == Task.case_id).outerjoin(assignee, assignee.id == Task.assignee_id)
        .where(*where).order_by(Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
        .limit(per_page).offset((page - 1) * per_page)).all()
    return [task_dict(t, now, number, title, username) for t, number, title, username in rows], total


def inbox_counts(s: Session, actor: Actor) -> dict[str, int]:
    scopes = ["mine", "claimable"] + (["area"] if "supervisor" in actor.roles else [])
    return {sc: s.scalar(select(func.count()).select_from(Task).where(_scope_filter(actor, sc))) for sc in scopes}


def task_dict(t: Task, now: datetime, case_number=None, case_title=None, assignee=None) -> dict[str, Any]:
    return {"id": t.id, "instance_id": t.instance_id, "case_id": t.case_id, "case_number": case_number,
            "case_title": case_title, "process_key": t.process_key, "name": t.name, "name_zh": t.name_zh,
            "element_id": t.element_id, "stage": t.stage, "role": t.role, "org_unit": t.org_unit_code,
            "department": t.department, "assignee": assignee, "status": t.status, "priority": t.priority,
            "category": t.category, "due_at": t.due_at, "created_at": t.created_at, "claimed_at": t.claimed_at,
            "completed_at": t.completed_at, "overdue": bool(t.due_at and t.status in OPEN and t.due_at < now),
            "urge_count": t.urge_count, "urged_at": t.urged_at, "overdue_at": t.overdue_at, "form": t.form}


def task_detail(s: Session, actor: Actor, task_id: str, now: datetime) -> dict[str, Any]:
    """A task, its case summary and its form (JSON Schema), if the actor may see it."""
    task = s.get(Task, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    if not actor.may_see(task) and not (task.status not in OPEN and task.completed_by_id == actor.id):
        raise Forbidden("this task is not yours and not offered to you")
    forms = instance_forms(s, task.instance_id)
    assignee = s.get(User, task.assignee_id) if task.assignee_id else None
    case = s.get(Case, task.case_id) if task.case_id else None
    result = task_dict(task, now, case.number if case else None, case.title if case else None,
                       assignee.username if assignee else None)
    result["form"] = forms.get(task.form) if task.form else None
    result["form_name"] = task.form
    result["data"] = task.data
    result["case"] = case_summary(case) if case else None
    result["can_act"] = actor.may_act_on(task) and task.status in OPEN
    return result


_forms_by_definition: dict[int, dict] = {}


def instance_forms(s: Session, instance_id: int) -> dict[str, Any]:
    """The forms of the definition version an instance runs on (versions never change, so
    each version's forms are read once per process)."""
    definition_id = s.scalar(select(ProcessInstance.definition_id).where(ProcessInstance.id == instance_id))
    if definition_id is None:
        return {}
    forms = _forms_by_definition.get(definition_id)
    if forms is None:
        forms = _forms_by_definition[definition_id] = s.scalar(
            select(ProcessDefinition.forms).where(ProcessDefinition.id == definition_id)) or {}
    return forms


def case_summary(c: Case) -> dict[str, Any]:
    return {"id": c.id, "number": c.number, "title": c.title, "description": c.description,
            "category": c.category, "urgency": c.urgency, "source": c.source, "grid": c.grid.code,
            "grid_name": c.grid.name, "address": c.address, "lat": c.lat, "lon": c.lon,
            "reporter": {"name": c.reporter_name, "phone": c.reporter_phone}, "department": c.department,
            "stage": c.stage, "status": c.status, "escalation_level": c.escalation_level,
            "consult_unit": c.consult_unit, "rework_count": c.rework_count, "return_count": c.return_count,
            "reported_at": c.reported_at, "dispatched_at": c.dispatched_at, "claimed_at": c.claimed_at,
            "resolved_at": c.resolved_at, "verified_at": c.verified_at, "closed_at": c.closed_at,
            "updated_at": c.updated_at, "satisfaction": c.satisfaction, "feedback_contacted": c.feedback_contacted,
            "feedback_resolved": c.feedback_resolved, "feedback_comment": c.feedback_comment,
            "instance_id": c.instance_id}


def _case_visible(actor: Actor):
    """Staff see the cases of their area; a liaison also those of her department."""
    visible = _area(Case.org_path, actor.org_path)
    if actor.department:
        visible = or_(visible, Case.department == actor.department)
    return visible


def case_list(s: Session, actor: Actor, *, status: str | None = None, stage: str | None = None,
              category: str | None = None, grid: str | None = None, q: str | None = None,
              page: int = 1, per_page: int = 20) -> tuple[list[dict], int]:
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInput("bad paging", fields={"page": ">= 1", "per_page": f"1..{MAX_PER_PAGE}"})
    where = [_case_visible(actor)]
    if status:
        where.append(Case.status == status)
    if stage:
        where.append(Case.stage == stage)
    if category:
        where.append(Case.category == category)
    if grid:
        where.append(Case.grid_id == select(OrgUnit.id).where(OrgUnit.code == grid).scalar_subquery())
    if q:
        where.append(or_(Case.number == q, Case.title.contains(q)))
    total = s.scalar(select(func.count()).select_from(Case).where(*where))
    rows = s.scalars(select(Case).where(*where).order_by(Case.reported_at.desc(), Case.id.desc())
                     .limit(per_page).offset((page - 1) * per_page))
    return [case_summary(c) for c in rows], total


def get_case(s: Session, actor: Actor, case_id: int) -> Case:
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    holds = s.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id)))
    if not (actor.covers(case.org_path) or (actor.department and actor.department == case.department) or holds):
        raise Forbidden("this case is outside your area")
    return case


def case_detail(s: Session, actor: Actor, case_id: int, now: datetime) -> dict[str, Any]:
    """The case with its open tasks (who holds them) and its full timeline."""
    case = get_case(s, actor, case_id)
    result = case_summary(case)
    result["open_tasks"] = open_tasks(s, now, case_id=case_id)
    result["history"] = history(s, case_id=case_id)
    result["feedback_token"] = case.feedback_token if case.feedback_at is None and case.stage == "feedback" else None
    return result


def open_tasks(s: Session, now: datetime, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict]:
    assignee = aliased(User)
    where = Task.case_id == case_id if case_id is not None else Task.instance_id == instance_id
    rows = s.execute(select(Task, assignee.username).outerjoin(assignee, assignee.id == Task.assignee_id)
                     .where(where, Task.status.in_(OPEN)).order_by(Task.created_at)).all()
    return [task_dict(t, now, assignee=u) for t, u in rows]


def history(s: Session, *, case_id: int | None = None, instance_id: int | None = None) -> list[dict]:
    where = Event.case_id == case_id if case_id is not None else Event.instance_id == instance_id
    rows = s.execute(select(Event, User.username, User.display_name).outerjoin(User, User.id == Event.actor_id)
                     .where(where).order_by(Event.id)).all()
    return [{"id": e.id, "type": e.type, "at": e.at, "actor": username, "actor_name": name,
             "task_id": e.task_id, "payload": e.payload} for e, username, name in rows]


def instance_detail(s: Session, actor: Actor, instance_id: int, now: datetime) -> dict[str, Any]:
    inst = s.get(ProcessInstance, instance_id)
    if inst is None:
        raise NotFound(f"process instance {instance_id} not found")
    if inst.case_id is not None:
        get_case(s, actor, inst.case_id)
    elif inst.started_by_id != actor.id and "designer" not in actor.roles and "supervisor" not in actor.roles:
        tasks = s.scalar(select(func.count()).select_from(Task).where(
            Task.instance_id == instance_id, or_(Task.assignee_id == actor.id, Task.completed_by_id == actor.id,
                                                 Task.candidate_user_id == actor.id)))
        if not tasks:
            raise Forbidden("this process instance is not yours")
    return {"id": inst.id, "key": inst.key, "version": inst.definition.version, "status": inst.status,
            "case_id": inst.case_id, "started_at": inst.started_at, "ended_at": inst.ended_at,
            "next_timer_at": inst.next_timer_at, "open_tasks": open_tasks(s, now, instance_id=instance_id),
            "history": history(s, instance_id=instance_id)}


def user_dict(u: User) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "display_name": u.display_name, "roles": list(u.roles or []),
            "org_unit": u.org_unit.code if u.org_unit else None,
            "org_unit_name": u.org_unit.name if u.org_unit else None,
            "org_level": u.org_unit.level if u.org_unit else None,
            "department": u.department.code if u.department else None,
            "department_name": u.department.name if u.department else None}


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
            "schema": instance_forms(s, case.instance_id).get(form) if form else None}
