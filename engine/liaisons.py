"""Which areas each department liaison serves (定人定岗定责), and whether a department task
reaches somebody.

A liaison is bound to the grids, communities or streets she serves, all inside her own org
unit (so the candidate rule already lets her claim their tasks). A user task whose BPMN
``mustReach`` property names a form field is offered only if some active user of its lane's
role and its department is bound to an area covering it; otherwise the command that would
offer it is refused, blaming that field, and nothing is saved.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import delete, literal, select
from sqlalchemy.orm import Session

from . import org, policy
from .db import affected
from .errors import Forbidden, InvalidInput, NotFound
from .model import Department, LiaisonArea, OrgUnit, User

if TYPE_CHECKING:
    from .command import Engine

LIAISON = "dept_liaison"
BINDABLE_LEVELS = ("street", "community", "grid")


@dataclass(frozen=True)
class LiaisonAreas:
    """A liaison, her department's code and the codes of the units she serves."""

    username: str
    department: str
    units: tuple[str, ...]


def _admin(s: Session, actor: org.Actor | int | None) -> None:
    if not policy.may_administer_groups(org.acting(s, actor)):
        raise Forbidden("only administrators bind liaisons to areas")


def _liaison(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound(f"user '{username}' not found")
    if LIAISON not in (user.roles or ()) or user.department_id is None:
        raise InvalidInput(f"'{username}' is not a department liaison (role {LIAISON} with a department)",
                           fields={"username": "not a department liaison"})
    return user


def bind(rt: Engine, actor: org.Actor | int | None, username: str, unit_codes: Sequence[str]) -> LiaisonAreas:
    """Bind a liaison to streets, communities or grids inside her own org unit (those she is
    bound to stay as they are); all of them or, if one cannot be, none."""
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        user = _liaison(s, username)
        for unit_code in unit_codes:
            unit = org.unit_by_code(s, unit_code)
            if unit.level not in BINDABLE_LEVELS:
                raise InvalidInput(f"a liaison serves streets, communities or grids, not a {unit.level}",
                                   fields={"unit": f"'{unit_code}' is a {unit.level}"})
            home = user.org_unit.path if user.org_unit else "/"
            if not unit.path.startswith(home):
                raise InvalidInput(f"'{unit_code}' lies outside {username}'s own area; move her first",
                                   fields={"unit": "outside the liaison's area"})
            if s.get(LiaisonArea, (user.id, unit.id)) is None:
                s.add(LiaisonArea(user_id=user.id, org_unit_id=unit.id, bound_at=rt.clock.now()))
                s.flush()
        return _one(s, user)


def unbind(rt: Engine, actor: org.Actor | int | None, username: str, unit_code: str) -> LiaisonAreas:
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        user = _liaison(s, username)
        unit = org.unit_by_code(s, unit_code)
        if not affected(s, delete(LiaisonArea).where(LiaisonArea.user_id == user.id,
                                                     LiaisonArea.org_unit_id == unit.id)):
            raise NotFound(f"'{username}' is not bound to '{unit_code}'")
        return _one(s, user)


def _one(s: Session, user: User) -> LiaisonAreas:
    return _areas(s, username=user.username)[0]


def listing(s: Session, actor: org.Actor | None, *, department: str | None = None) -> list[LiaisonAreas]:
    """Each liaison (of a department) with the unit codes she serves."""
    if not policy.may_list_liaisons(actor):
        raise Forbidden("only administrators and supervisors list liaison areas")
    return _areas(s, department=department)


def _areas(s: Session, *, department: str | None = None, username: str | None = None) -> list[LiaisonAreas]:
    query = (select(User.username, Department.code, OrgUnit.code)
             .join(Department, Department.id == User.department_id)
             .outerjoin(LiaisonArea, LiaisonArea.user_id == User.id)
             .outerjoin(OrgUnit, OrgUnit.id == LiaisonArea.org_unit_id)
             .order_by(User.username, OrgUnit.code))
    if department:
        query = query.where(Department.code == department)
    if username:
        query = query.where(User.username == username)
    found: dict[tuple[str, str], list[str]] = {}
    for name, dept, unit in s.execute(query):
        units = found.setdefault((name, dept), [])
        if unit:
            units.append(unit)
    return [LiaisonAreas(name, dept, tuple(units)) for (name, dept), units in found.items()]


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
