"""Which areas each department liaison serves (定人定岗定责), and whether a department task
reaches somebody.

A liaison is bound to the grids, communities or streets she serves, all inside her own org
unit (so the candidate rule already lets her claim their tasks). A user task whose BPMN
``mustReach`` property names a form field is offered only if some active user of its lane's
role and its department is bound to an area covering it; otherwise the command that would
offer it is refused, blaming that field, and nothing is saved.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, literal, select
from sqlalchemy.orm import Session

from . import org, policy
from .db import affected
from .errors import Forbidden, InvalidInput, NotFound
from .model import Department, LiaisonArea, OrgUnit, User

LIAISON = "dept_liaison"
BINDABLE_LEVELS = ("street", "community", "grid")


def _check_admin(actor: org.Actor | None) -> None:
    if not policy.may_administer_groups(actor):
        raise Forbidden("only administrators bind liaisons to areas")


def _liaison(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user '{username}' not found")
    if LIAISON not in (user.roles or ()) or user.department_id is None:
        raise InvalidInput(f"'{username}' is not a department liaison (role {LIAISON} with a department)",
                           fields={"username": "not a department liaison"})
    return user


def bind(s: Session, actor: org.Actor | None, username: str, unit_code: str, now: datetime) -> dict[str, Any]:
    """Bind a liaison to a street, community or grid inside her own org unit (a no-op if bound)."""
    _check_admin(actor)
    user = _liaison(s, username)
    unit = org.unit_by_code(s, unit_code)
    if unit.level not in BINDABLE_LEVELS:
        raise InvalidInput(f"a liaison serves streets, communities or grids, not a {unit.level}",
                           fields={"unit": f"'{unit_code}' is a {unit.level}"})
    home = user.org_unit.path if user.org_unit else "/"
    if not unit.path.startswith(home):
        raise InvalidInput(f"'{unit_code}' lies outside {username}'s own area; move her first",
                           fields={"unit": "outside the liaison's area"})
    if s.get(LiaisonArea, (user.id, unit.id)) is None:
        s.add(LiaisonArea(user_id=user.id, org_unit_id=unit.id, bound_at=now))
        s.flush()
    return _one(s, user)


def unbind(s: Session, actor: org.Actor | None, username: str, unit_code: str) -> dict[str, Any]:
    _check_admin(actor)
    user = _liaison(s, username)
    unit = org.unit_by_code(s, unit_code)
    if not affected(s, delete(LiaisonArea).where(LiaisonArea.user_id == user.id,
                                                 LiaisonArea.org_unit_id == unit.id)):
        raise NotFound(f"'{username}' is not bound to '{unit_code}'")
    return _one(s, user)


def _one(s: Session, user: User) -> dict[str, Any]:
    return next(b for b in listing(s, None, username=user.username))


def listing(s: Session, actor: org.Actor | None, *, department: str | None = None,
            username: str | None = None) -> list[dict[str, Any]]:
    """Each liaison (of a department, or one by name) with the unit codes she serves."""
    if not policy.may_list_liaisons(actor):
        raise Forbidden("only administrators and supervisors list liaison areas")
    query = (select(User.username, Department.code, OrgUnit.code)
             .join(Department, Department.id == User.department_id)
             .outerjoin(LiaisonArea, LiaisonArea.user_id == User.id)
             .outerjoin(OrgUnit, OrgUnit.id == LiaisonArea.org_unit_id)
             .order_by(User.username, OrgUnit.code))
    if department:
        query = query.where(Department.code == department)
    if username:
        query = query.where(User.username == username)
    found: dict[str, dict[str, Any]] = {}
    for name, dept, unit in s.execute(query):
        entry = found.setdefault(name, {"username": name, "department": dept, "units": []})
        if unit:
            entry["units"].append(unit)
    return list(found.values())


def serving(s: Session, role: str, department: str, org_path: str) -> list[str]:
    """The active users of ``role`` in ``department`` bound to an area covering ``org_path``."""
    rows = s.execute(select(User.username, User.roles)
                     .join(Department, Department.id == User.department_id)
                     .join(LiaisonArea, LiaisonArea.user_id == User.id)
                     .join(OrgUnit, OrgUnit.id == LiaisonArea.org_unit_id)
                     .where(User.active.is_(True), Department.code == department,
                            literal(org_path).like(OrgUnit.path + "%")))
    return sorted({name for name, roles in rows if role in (roles or ())})


def check_reach(s: Session, field: str, task_name: str, role: str | None, department: str | None,
                org_unit: str | None, org_path: str | None) -> None:
    """Refuse offering a department task nobody bound to its area can claim."""
    if department is None or org_path is None or role is None:
        return
    if not serving(s, role, department, org_path):
        message = (f"department '{department}' has no liaison serving '{org_unit}': "
                   f"'{task_name}' would reach nobody")
        raise InvalidInput(message, fields={field: message})
