"""Inbox views a user saves under a name of hers (as in Camunda's Tasklist): a scope with its
filters, search and sort (``task_views.TaskFilters``). Each user lists, creates, renames and
deletes only her own (``policy.may_edit_saved_filter``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from . import org, policy
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .model import SavedFilter
from .org import Actor
from .task_views import TaskFilters

if TYPE_CHECKING:
    from .command import Engine

MAX_NAME = 80
MAX_PER_USER = 50


@dataclass(frozen=True)
class FilterRow:
    """A saved view: its name, scope and the filters it applies (``TaskFilters.as_dict``)."""

    id: int
    name: str
    scope: str
    params: dict[str, str]
    created_at: datetime

    @classmethod
    def of(cls, row: SavedFilter) -> FilterRow:
        return cls(row.id, row.name, row.scope, dict(row.params or {}), row.created_at)


def list_filters(s: Session, actor: Actor) -> list[FilterRow]:
    """Her saved filters, by name."""
    rows = s.scalars(select(SavedFilter).where(SavedFilter.user_id == actor.id).order_by(SavedFilter.name))
    return [FilterRow.of(r) for r in rows]


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > MAX_NAME:
        raise InvalidInput("bad filter name", fields={"name": f"1 to {MAX_NAME} characters"})
    return name.strip()


def _scope(actor: Actor, scope: Any) -> str:
    if scope not in policy.inbox_scopes(actor):
        raise InvalidInput(f"unknown scope '{scope}'",
                           fields={"scope": f"one of {', '.join(policy.inbox_scopes(actor))}"})
    return str(scope)


def _own(s: Session, actor: Actor, filter_id: int) -> SavedFilter:
    row = s.get(SavedFilter, filter_id)
    if row is None:
        raise NotFound(f"saved filter {filter_id} not found")
    if not policy.may_edit_saved_filter(actor, row.user_id):
        raise Forbidden("this saved filter is not yours")
    return row


def _flush(s: Session, name: str) -> None:
    try:
        s.flush()
    except IntegrityError:
        raise Conflict(f"you already have a filter named '{name}'", fields={"name": "already used"}) from None


def _taken(s: Session, actor: Actor, name: str, but: int | None = None) -> None:
    where = [SavedFilter.user_id == actor.id, SavedFilter.name == name]
    if but is not None:
        where.append(SavedFilter.id != but)
    if s.scalar(select(func.count()).select_from(SavedFilter).where(*where)):
        raise Conflict(f"you already have a filter named '{name}'", fields={"name": "already used"})


def create(rt: Engine, actor: Actor | int, name: Any, scope: Any, params: Any) -> FilterRow:
    """Save a view: InvalidInput for a bad name, a scope she lacks or an unknown filter;
    Conflict for a name she already uses or past MAX_PER_USER filters."""
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        name, scope = _name(name), _scope(who, scope)
        if not isinstance(params, dict):
            raise InvalidInput("bad filter params", fields={"params": "an object of filters"})
        clean = TaskFilters.of(params).as_dict()
        saved = s.scalar(select(func.count()).select_from(SavedFilter).where(SavedFilter.user_id == who.id)) or 0
        if saved >= MAX_PER_USER:
            raise Conflict(f"at most {MAX_PER_USER} saved filters; delete one first")
        _taken(s, who, name)
        row = SavedFilter(user_id=who.id, name=name, scope=scope, params=clean, created_at=rt.clock.now())
        s.add(row)
        _flush(s, name)
        return FilterRow.of(row)


def rename(rt: Engine, actor: Actor | int, filter_id: int, name: Any) -> FilterRow:
    with rt.command() as cmd:
        s = cmd.session
        who = org.actor(s, actor)
        row, name = _own(s, who, filter_id), _name(name)
        _taken(s, who, name, but=row.id)
        row.name = name
        _flush(s, name)
        return FilterRow.of(row)


def delete(rt: Engine, actor: Actor | int, filter_id: int) -> None:
    with rt.command() as cmd:
        cmd.session.delete(_own(cmd.session, org.actor(cmd.session, actor), filter_id))
