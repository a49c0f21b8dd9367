"""Administrators' commands on user accounts: locking a user out. (Users, roles and passwords
are engine/org.py's; groups, engine/groups.py.)"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import delete, select

from . import org, policy
from .errors import Forbidden, NotFound
from .model import ApiToken, User

if TYPE_CHECKING:
    from .command import Engine


def deactivate(rt: Engine, actor: org.Actor | int | None, username: str) -> None:
    """Lock a user out (administrators; ``None``: the command line): her HTML sessions and
    bearer tokens end with her (API processes that resolved a token a moment ago trust it for
    at most their token cache time)."""
    with rt.command() as cmd:
        s = cmd.session
        if not policy.may_administer_access(org.acting(s, actor)):
            raise Forbidden("only administrators lock users out")
        user = s.scalars(select(User).where(User.username == username)).first()
        if user is None:
            raise NotFound(f"user '{username}' not found")
        user.active = False
        s.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
