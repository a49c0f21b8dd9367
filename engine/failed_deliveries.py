"""Notification deliveries that failed for good (a webhook down through every retry, a mail
server refusing): listed for administrators with the last error, and sent again on request.
A retry makes the row pending with a fresh set of attempts; the worker sends it on its next
pass (``engine/delivery.py``), so a retry never waits on the network."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, func, select, update
from sqlalchemy.orm import Session

from . import policy
from .db import affected
from .errors import Conflict, Forbidden, NotFound
from .model import Case, Notification, OutboxEvent, User
from .org import Actor

FAILED = "failed"


def _check(actor: Actor | None) -> None:
    if not policy.may_manage_deliveries(actor):
        raise Forbidden("only administrators see and retry failed notification deliveries")


def _item(row: Row[tuple[Notification, str, int | None, str | None]]) -> dict[str, Any]:
    n = row.Notification
    return {"id": n.id, "event_id": n.event_id, "kind": n.kind, "channel": n.channel, "target": n.target,
            "user": row.username, "webhook_id": n.webhook_id, "subject": n.subject, "status": n.status,
            "attempts": n.attempts, "last_error": n.last_error, "created_at": n.created_at,
            "next_attempt_at": n.next_attempt_at, "case_id": row.case_id, "case_number": row.number}


def _select() -> Select[tuple[Notification, str, int | None, str | None]]:
    return (select(Notification, User.username, OutboxEvent.case_id, Case.number)
            .join(OutboxEvent, OutboxEvent.id == Notification.event_id)
            .outerjoin(User, User.id == Notification.user_id).outerjoin(Case, Case.id == OutboxEvent.case_id))


def failed(s: Session, actor: Actor | None, *, page: int = 1, per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """A page of the failed deliveries, newest first, with their total."""
    _check(actor)
    total = s.scalar(select(func.count()).select_from(Notification).where(Notification.status == FAILED)) or 0
    rows = s.execute(_select().where(Notification.status == FAILED).order_by(Notification.id.desc())
                     .limit(per_page).offset((max(page, 1) - 1) * per_page))
    return [_item(row) for row in rows], total


def retry(s: Session, actor: Actor | None, notification_id: int, now: datetime) -> dict[str, Any]:
    """Send a failed delivery again: pending from now, its attempts counted afresh (the last
    error stays until the next attempt). NotFound for no such delivery, Conflict unless failed."""
    _check(actor)
    row = s.get(Notification, notification_id)
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    won = affected(s, update(Notification).where(Notification.id == notification_id, Notification.status == FAILED)
                    .values(status="pending", attempts=0, next_attempt_at=now)
                   .execution_options(synchronize_session=False))
    if not won:
        raise Conflict(f"notification {notification_id} is {row.status}; only failed ones are retried")
    return _item(s.execute(_select().where(Notification.id == notification_id).execution_options(
        populate_existing=True)).one())
