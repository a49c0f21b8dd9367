"""Groups: named sets of users that an administrator keeps, for lanes (and process
properties such as ``starters``) that name no built-in role, e.g. a lane "Tester".

A group's members carry its name in their ``roles``, beside the built-in roles: the candidate
rule and the inbox's indexed queries treat both alike, and nothing on the read path changes.
Group names can never be built-in role names, so a group grants no built-in right.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, String, cast, select, text
from sqlalchemy.orm import Session

from . import org, policy
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .model import User, UserGroup
from .org import ROLES, Actor

if TYPE_CHECKING:
    from .command import Engine
    from .definitions import Compiled

NAME = re.compile(r"^\w[\w.-]{0,39}$")  # fits task.role; no commas or "=" (property lists)


def roles_contain(s: Session, name: str) -> ColumnElement[bool]:
    """``app_user.roles`` (a JSON list) contains ``name``: a pattern over its JSON text, case-
    sensitive on both databases (GLOB on SQLite, whose LIKE ignores case)."""
    token = json.dumps(name)  # as the list's JSON text spells the element
    roles = cast(User.roles, String)
    if s.get_bind().dialect.name == "sqlite":
        return roles.op("GLOB")(f"*{token}*")
    escaped = token.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return roles.like(f"%{escaped}%", escape="\\")


def staffed(s: Session, name: str) -> bool:
    """Whether some active user has this role or group (one scan that stops at the first)."""
    return s.scalar(select(User.id).where(User.active.is_(True), roles_contain(s, name)).limit(1)) is not None


def known(s: Session, name: str) -> bool:
    """A built-in role or an existing group."""
    return name in ROLES or s.scalar(select(UserGroup.id).where(UserGroup.name == name)) is not None


# The distinct roles of open tasks, one index probe each (ix_task_queue: status, role, ...).
_OPEN_ROLES = text(
    "WITH RECURSIVE r(role) AS ("
    " SELECT MIN(role) FROM task WHERE status = 'open' AND role IS NOT NULL"
    " UNION ALL"
    " SELECT (SELECT MIN(t.role) FROM task t WHERE t.status = 'open' AND t.role > r.role)"
    " FROM r WHERE r.role IS NOT NULL)"
    " SELECT role FROM r WHERE role IS NOT NULL")


def unstaffed_roles(s: Session) -> tuple[str, ...]:
    """The roles/groups that open tasks are offered to and that no active user has: their
    tasks are offered to nobody (the inbox scope ``unassignable``)."""
    return tuple(role for role in s.scalars(_OPEN_ROLES) if not staffed(s, role))


# ------------------------------------------------------------------------------ commands

@dataclass(frozen=True)
class GroupRow:
    """A group and the usernames of its members (as commands answer and lists show it)."""

    name: str
    title: str | None
    created_at: datetime
    created_by: str | None
    members: tuple[str, ...]


def _admin(s: Session, actor: Actor | int | None) -> Actor | None:
    """The acting administrator (``None``: the system, the command line)."""
    who = org.acting(s, actor)
    if not policy.may_administer_groups(who):
        raise Forbidden("only administrators manage groups")
    return who


def _group(s: Session, name: str) -> UserGroup:
    group = s.scalars(select(UserGroup).where(UserGroup.name == name)).first()
    if group is None:
        raise NotFound(f"group '{name}' not found")
    return group


def _members(s: Session, name: str) -> tuple[str, ...]:
    return tuple(sorted(u for u, roles in s.execute(select(User.username, User.roles).where(roles_contain(s, name)))
                        if name in (roles or ())))


def _row(s: Session, group: UserGroup) -> GroupRow:
    return GroupRow(group.name, group.title, group.created_at, group.created_by, _members(s, group.name))


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidInput(f"bad group name '{name}'",
                           fields={"name": "1-40 letters, digits, '_', '.' or '-', starting with a letter or digit"})
    if name in ROLES:
        raise InvalidInput(f"'{name}' is a built-in role", fields={"name": "is a built-in role"})


def create(rt: Engine, actor: Actor | int | None, name: str, title: str | None = None) -> GroupRow:
    """A new, empty group; its name must be free and no built-in role's."""
    with rt.command() as cmd:
        s = cmd.session
        who = _admin(s, actor)
        _check_name(name)
        if s.scalar(select(UserGroup.id).where(UserGroup.name == name)) is not None:
            raise Conflict(f"group '{name}' already exists")
        group = UserGroup(name=name, title=title, created_at=rt.clock.now(), created_by=who.username if who else None)
        s.add(group)
        s.flush()
        return _row(s, group)


def _user(s: Session, username: str) -> User:
    user = s.scalars(select(User).where(User.username == username).with_for_update(of=User)).first()
    if user is None:
        raise NotFound(f"user '{username}' not found")
    return user


def add_members(rt: Engine, actor: Actor | int | None, name: str, usernames: Sequence[str]) -> GroupRow:
    """Put users into a group (those already in it stay as they are)."""
    return _change_members(rt, actor, name, usernames, _join)


def remove_members(rt: Engine, actor: Actor | int | None, name: str, usernames: Sequence[str]) -> GroupRow:
    """Take users out of a group (NotFound for one who is not in it: nobody leaves then)."""
    return _change_members(rt, actor, name, usernames, _leave)


def _change_members(rt: Engine, actor: Actor | int | None, name: str, usernames: Sequence[str],
                    change: Callable[[User, str], None]) -> GroupRow:
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        group = _group(s, name)
        for username in usernames:
            change(_user(s, username), name)
        s.flush()
        return _row(s, group)


def _join(user: User, name: str) -> None:
    if name not in (user.roles or ()):
        user.roles = [*(user.roles or ()), name]


def _leave(user: User, name: str) -> None:
    if name not in (user.roles or ()):
        raise NotFound(f"user '{user.username}' is not in group '{name}'")
    user.roles = [r for r in user.roles if r != name]


def list_groups(s: Session, actor: Actor | None) -> list[GroupRow]:
    _admin(s, actor)
    return [_row(s, g) for g in s.scalars(select(UserGroup).order_by(UserGroup.name))]


def deploy_warnings(s: Session, compiled: Compiled) -> list[str]:
    """What a deploy says about a process (``definitions.Compiled``) without refusing it: each
    lane whose role/group no active user has, and each unknown name among its starters."""
    warnings = []
    for lane, role in sorted(compiled.lanes.items()):
        if staffed(s, role):
            continue
        why = ("no active user has this role" if role in ROLES else
               "group without active members (gridloop group add)" if known(s, role) else
               "no role or group of this name (gridloop group create, or map the lane: laneMap, --lane-map)")
        warnings.append(f"{compiled.key}: lane '{lane}' -> '{role}': {why}; its tasks are offered to nobody")
    for name in policy.names(compiled.properties.get(policy.STARTERS_PROPERTY)):
        if not known(s, name):
            warnings.append(f"{compiled.key}: starters name '{name}', which is no role or group")
    return warnings
