"""The organisation: the grid tree, departments, users, roles, passwords and API tokens.

Who may do what is decided in engine/policy.py; an ``Actor`` only says what a user is.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import Parameters, PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from .db import Database, affected
from .errors import InvalidInput, NotFound
from .model import ApiToken, Department, OrgUnit, User

LEVELS = ("city", "district", "street", "community", "grid")
ROLES = ("acceptor", "grid_worker", "dept_liaison", "coordinator", "supervisor", "designer", "party_branch",
         "admin")
TOKEN_LIFETIME = timedelta(days=7)


def _hasher() -> PasswordHasher:
    """Argon2id with one of argon2-cffi's parameter profiles (GRIDLOOP_PASSWORD_HASH_PROFILE):
    RFC 9106's low-memory one by default; tests and benches take CHEAPEST to seed dozens of
    users quickly. A stored hash carries its own parameters, so hashes of any profile verify."""
    name = os.environ.get("GRIDLOOP_PASSWORD_HASH_PROFILE", "RFC_9106_LOW_MEMORY")
    if not name.isupper() or not isinstance(getattr(profiles, name, None), Parameters):
        choices = ", ".join(n for n in dir(profiles) if n.isupper())
        raise ValueError(f"GRIDLOOP_PASSWORD_HASH_PROFILE must be one of {choices}, not {name!r}")
    return PasswordHasher.from_parameters(getattr(profiles, name))


_HASHER = _hasher()
_PBKDF2 = "pbkdf2_sha256$"  # the format before Argon2: pbkdf2_sha256$rounds$salt$hexdigest


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored``: an Argon2 hash, or a PBKDF2 one of before."""
    if stored.startswith(_PBKDF2):
        try:
            _scheme, rounds, salt, digest = stored.split("$")
            candidate = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(rounds)).hex()
        except ValueError:
            return False
        return hmac.compare_digest(candidate, digest)
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """An old PBKDF2 hash, or an Argon2 hash with other parameters than the current ones."""
    return stored.startswith(_PBKDF2) or _HASHER.check_needs_rehash(stored)


@cache
def _dummy_hash() -> str:
    """What an unknown user name is checked against: a hash of the same cost as a real one."""
    return hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class Actor:
    """The acting user as the engine sees it: enough to decide permissions without queries."""

    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    org_unit: str | None
    org_path: str | None
    org_level: str | None
    department: str | None
    display_name_en: str | None = None

    @classmethod
    def of(cls, user: User) -> Actor:
        unit = user.org_unit
        return cls(user.id, user.username, user.display_name, tuple(user.roles or ()),
                   unit.code if unit else None, unit.path if unit else None,
                   unit.level if unit else None, user.department.code if user.department else None,
                   user.display_name_en)

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def covers(self, org_path: str | None) -> bool:
        """True when ``org_path`` is this user's org unit or lies below it."""
        return bool(org_path and self.org_path and org_path.startswith(self.org_path))


# Built once; every command starts with this query.
_ACTOR = (select(User.id, User.username, User.display_name, User.roles, OrgUnit.code, OrgUnit.path,
                 OrgUnit.level, Department.code, User.display_name_en)
          .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id).outerjoin(Department, Department.id == User.department_id)
          .where(User.id == bindparam("uid"), User.active.is_(True)))


_TOKEN_ACTOR = (select(User.id, User.username, User.display_name, User.roles, OrgUnit.code, OrgUnit.path,
                       OrgUnit.level, Department.code, User.display_name_en, ApiToken.expires_at)
                .join(ApiToken, ApiToken.user_id == User.id)
                .outerjoin(OrgUnit, OrgUnit.id == User.org_unit_id)
                .outerjoin(Department, Department.id == User.department_id)
                .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.expires_at > bindparam("now"),
                       User.active.is_(True)))


def actor_for_token(session: Session, token: str, now: datetime) -> tuple[Actor, datetime] | None:
    """The acting user of a valid bearer token and the token's expiry, in one light query."""
    row = session.connection().execute(_TOKEN_ACTOR, {"token_hash": _token_hash(token), "now": now}).first()
    if row is None:
        return None
    return Actor(row[0], row[1], row[2], tuple(row[3] or ()), *row[4:9]), row[9]


def actor(session: Session, user_id: int | Actor) -> Actor:
    """The acting user, read with one light query; an Actor the caller already authenticated
    (the web layer's bearer-token check) is taken as it is."""
    if isinstance(user_id, Actor):
        return user_id
    row = session.connection().execute(_ACTOR, {"uid": user_id}).first()
    if row is None:
        raise NotFound(f"user {user_id} not found")
    return Actor(row[0], row[1], row[2], tuple(row[3] or ()), *row[4:])


def acting(session: Session, user: Actor | int | None) -> Actor | None:
    """The acting user as ``actor`` reads her, or ``None``: the system (the command line's
    operator, the engine itself), which the policy's rules name where it may act."""
    return actor(session, user) if user is not None else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this name and password, else None. An unknown name costs the same
    hash verification as a known one: the answer's timing does not tell which names exist."""
    user = session.scalars(select(User).where(User.username == username)).first()
    matches = verify_password(user.password_hash if user is not None else _dummy_hash(), password)
    return user if matches and user is not None and user.active else None


def sign_in(db: Database, username: str, password: str, now: datetime) -> tuple[User, str] | None:
    """Check the password and issue a token (a bearer token, or the key of an HTML session).

    The slow hash runs outside the write transaction; a hash of an older format or cost is
    replaced by a current one on the way (unless the password changed meanwhile)."""
    with db.reading() as s:
        user = authenticate(s, username, password)
    if user is None:
        return None
    fresh = hash_password(password) if needs_rehash(user.password_hash) else None
    with db.transaction() as s:
        if fresh is not None:
            s.execute(update(User).where(User.id == user.id, User.password_hash == user.password_hash)
                      .values(password_hash=fresh))
        return user, issue_token(s, user, now)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, now: datetime) -> str:
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(token_hash=_token_hash(token), user_id=user.id, created_at=now,
                         expires_at=now + TOKEN_LIFETIME))
    return token


def revoke_token(db: Database, token: str) -> bool:
    """Sign a bearer token out; False if it was not (or no longer) valid."""
    with db.transaction() as s:
        return affected(s, delete(ApiToken).where(ApiToken.token_hash == _token_hash(token))) == 1


def unit_by_code(session: Session, code: str) -> OrgUnit:
    unit = session.scalars(select(OrgUnit).where(OrgUnit.code == code)).first()
    if unit is None:
        raise NotFound(f"org unit '{code}' not found")
    return unit


def grid_by_code(session: Session, code: str) -> OrgUnit:
    unit = session.scalars(select(OrgUnit).where(OrgUnit.code == code)).first()
    if unit is None or unit.level != "grid":
        raise InvalidInput(f"unknown grid '{code}'", fields={"grid": f"unknown grid '{code}'"})
    return unit


def chain_above(unit: OrgUnit) -> list[str]:
    """Codes of the units above ``unit``, nearest first (community, street, district, city)."""
    codes = [c for c in unit.path.strip("/").split("/")]
    return list(reversed(codes[:-1]))


def areas(session: Session, actor: Actor, levels: tuple[str, ...] = ("district", "street", "community"),
          limit: int | None = None) -> list[dict[str, Any]] | None:
    """The units of ``levels`` in a user's area, in tree order: what a list can be narrowed to;
    None when there are more than ``limit`` (a list that long is no help: a code is typed)."""
    query = select(OrgUnit.code, OrgUnit.name, OrgUnit.name_en, OrgUnit.level).where(OrgUnit.level.in_(levels))
    if actor.org_path:
        query = query.where(OrgUnit.path >= actor.org_path, OrgUnit.path < actor.org_path + "\uffff")
    if limit is not None:
        query = query.limit(limit + 1)
    rows = session.execute(query.order_by(OrgUnit.path)).all()
    if limit is not None and len(rows) > limit:
        return None
    return [dict(code=c, name=n, name_en=e, level=lv) for c, n, e, lv in rows]


def path_of(session: Session, code: str | None) -> str | None:
    if code is None:
        return None
    return unit_by_code(session, code).path


def add_unit(session: Session, code: str, name: str, level: str, parent: OrgUnit | None,
             name_en: str | None = None) -> OrgUnit:
    if level not in LEVELS:
        raise InvalidInput(f"unknown level '{level}'")
    path = f"{parent.path if parent else '/'}{code}/"
    unit = OrgUnit(code=code, name=name, name_en=name_en, level=level, parent=parent, path=path)
    session.add(unit)
    return unit


def add_department(session: Session, code: str, name: str, name_en: str | None = None) -> Department:
    dept = Department(code=code, name=name, name_en=name_en)
    session.add(dept)
    return dept


def add_user(session: Session, username: str, password: str, roles: list[str], *, display_name: str | None = None,
             display_name_en: str | None = None, org_unit: OrgUnit | None = None,
             department: Department | None = None) -> User:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(f"unknown roles: {', '.join(unknown)}")
    user = User(username=username, display_name=display_name or username, display_name_en=display_name_en,
                password_hash=hash_password(password), roles=list(roles), org_unit=org_unit, department=department)
    session.add(user)
    return user
