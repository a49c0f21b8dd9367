"""Notification deliveries that failed for good (a webhook down through every retry, a mail
server refusing): listed for administrators with the last error, and sent again on request.
A retry makes the row pending with a fresh set of attempts; the worker sends it on its next
pass (``engine/delivery.py``), so a retry never waits on the network."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.orm import Session

from . import org, policy
from .db import affected
from .errors import Conflict, Forbidden, NotFound
from .model import Case, Notification, OutboxEvent, User
from .org import Actor

if TYPE_CHECKING:
    from .command import Engine

FAILED = "failed"


def _check(actor: Actor | None) -> None:
    if not policy.may_manage_deliveries(actor):
        raise Forbidden("only administrators see and retry failed notification deliveries")


@dataclass(frozen=True)
class Delivery:
    """A notification delivery with its recipient and case, as administrators see it."""

    id: int
    event_id: int
    kind: str
    channel: str
    target: str
    user: str | None
    webhook_id: int | None
    subject: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    case_id: int | None
    case_number: str | None

    @classmethod
    def of(cls, row: Row[tuple[Notification, str, int | None, str | None]]) -> Delivery:
        n = row.Notification
        return cls(n.id, n.event_id, n.kind, n.channel, n.target, row.username, n.webhook_id, n.subject, n.status,
                   n.attempts, n.last_error, n.created_at, n.next_attempt_at, row.case_id, row.number)


def _select() -> Select[tuple[Notification, str, int | None, str | None]]:
    return (select(Notification, User.username, OutboxEvent.case_id, Case.number)
            .join(OutboxEvent, OutboxEvent.id == Notification.event_id)
            .outerjoin(User, User.id == Notification.user_id).outerjoin(Case, Case.id == OutboxEvent.case_id))


def failed(s: Session, actor: Actor | None, *, page: int = 1, per_page: int = 50) -> tuple[list[Delivery], int]:
    """A page of the failed deliveries, newest first, with their total."""
    _check(actor)
    total = s.scalar(select(func.count()).select_from(Notification).where(Notification.status == FAILED)) or 0
    rows = s.execute(_select().where(Notification.status == FAILED).order_by(Notification.id.desc())
                     .limit(per_page).offset((max(page, 1) - 1) * per_page))
    return [Delivery.of(row) for row in rows], total


def retry(rt: Engine, actor: Actor | int | None, notification_id: int) -> Delivery:
    """Send a failed delivery again: pending from now, its attempts counted afresh (the last
    error stays until the next attempt). NotFound for no such delivery, Conflict unless failed."""
    with rt.command() as cmd:
        s = cmd.session
        _check(org.acting(s, actor))
        row = s.get(Notification, notification_id)
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        won = affected(s, update(Notification).where(Notification.id == notification_id,
                                                     Notification.status == FAILED)
                       .values(status="pending", attempts=0, next_attempt_at=rt.clock.now())
                       .execution_options(synchronize_session=False))
        if not won:
            raise Conflict(f"notification {notification_id} is {row.status}; only failed ones are retried")
        return Delivery.of(s.execute(_select().where(Notification.id == notification_id).execution_options(
            populate_existing=True)).one())
