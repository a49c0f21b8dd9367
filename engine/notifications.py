"""Notifications, first half: what commands write to the outbox, and who is told.

A command's history events that users want to hear about (a task offered or assigned to them,
overdue, urged, a case escalated or closed) are copied into ``outbox_event`` in the command's own
transaction by a database trigger (``model.OUTBOX_TRIGGER``, the types in ``model.NOTIFIED``):
the command never waits for a recipient query, a mail server or a webhook. An event the engine
recorded without an actor (a task it created) is credited to the command's actor
(``caused_by_id``), who is never told of her own doing. The worker later fans each outbox
event out (:func:`expand_pending`) into one ``notification`` row per recipient and channel,
following each user's settings and the webhooks an administrator registered;
:mod:`engine.delivery` sends those.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from . import policy
from .groups import roles_contain
from .notification_text import Renderer
from .model import Case, Notification, NotificationSetting, OutboxEvent, Task, User, Webhook
from .org import Actor

EVENTS = ("task_offered", "task_assigned", "overdue", "urged", "escalated", "case_closed")
CHANNELS = ("email", "webhook")
EXPAND_BATCH = 50


# ------------------------------------------------------------------------------ recipients

def _candidates(s: Session, task: Task) -> set[int]:
    """The active users a task is offered to (the engine's candidate rule), or its holder."""
    if task.assignee_id is not None:
        return {task.assignee_id}
    if task.candidate_user_id is not None:
        return {task.candidate_user_id}
    if task.role is None:
        return set()
    users = s.scalars(select(User).where(User.active.is_(True), roles_contain(s, task.role)))
    return {u.id for u in users if policy.is_candidate(Actor.of(u), task)}


def _supervisors_of(s: Session, org_path: str) -> set[int]:
    users = s.scalars(select(User).where(User.active.is_(True), roles_contain(s, policy.SUPERVISOR)))
    return {u.id for u in users if policy.supervises(Actor.of(u), org_path)}


def recipients(s: Session, event: OutboxEvent, case: Case | None, task: Task | None) -> set[int]:
    """Who hears of an event: a task's candidates (offered, while it is still open) or its
    holder, else its candidates (overdue, urged); whom it was assigned to (while she holds it); the
    holders of a case's open tasks (case overdue); the area's supervisors and the staff
    reporter (escalated); the staff reporter (closed). Never the one who caused it."""
    found: set[int] = set()
    if event.kind == "task_offered" and (task is None or task.status != "open"):
        return found  # taken or gone before it could be offered: news to nobody
    if event.kind == "task_assigned":
        assignee = (event.payload or {}).get("assignee_id")
        if (task is not None and task.status == "claimed" and task.assignee_id is not None
                and task.assignee_id == assignee):
            found = {assignee}
    elif task is not None and event.kind in ("task_offered", "overdue", "urged"):
        found = _candidates(s, task)
    elif event.kind == "overdue" and case is not None:
        for open_task in s.scalars(select(Task).where(Task.case_id == case.id, Task.status.in_(("open", "claimed")))):
            found |= _candidates(s, open_task)
    elif event.kind == "escalated" and case is not None:
        found = _supervisors_of(s, case.org_path) | ({case.reported_by_id} if case.reported_by_id else set())
    elif event.kind == "case_closed" and case is not None and case.reported_by_id:
        found = {case.reported_by_id}
    found.discard(event.actor_id)
    return found


# ------------------------------------------------------------------------------ fan-out

def wants(setting: NotificationSetting | None, kind: str, channel: str) -> bool:
    """A user's choice for one event and channel; every channel unless she chose otherwise."""
    if setting is None or kind not in (setting.channels or {}):
        return True
    return channel in setting.channels[kind]


def _subscribed(hook: Webhook, kind: str) -> bool:
    return not hook.events or kind in hook.events


def fan_out(s: Session, event: OutboxEvent, now: datetime, renderer: Renderer) -> list[dict[str, Any]]:
    """The notification rows of one outbox event, rendered: per recipient, an email if she
    gave an address and wants it, a POST to each of her webhooks if she wants that; and one
    POST to each system-wide webhook subscribed to the event."""
    task = s.get(Task, event.task_id) if event.task_id else None
    case = s.get(Case, event.case_id) if event.case_id else None
    users = recipients(s, event, case, task)
    settings = {st.user_id: st for st in s.scalars(select(NotificationSetting)
                                                   .where(NotificationSetting.user_id.in_(users)))} if users else {}
    hooks = list(s.scalars(select(Webhook).where(Webhook.active.is_(True))))
    rows = []

    hook_body = renderer.webhook(event, case, task)

    def add(channel: str, target: str, user_id: int | None, webhook_id: int | None,
            subject: str | None = None, body: str = hook_body) -> None:
        rows.append({"event_id": event.id, "kind": event.kind, "channel": channel, "user_id": user_id,
                     "webhook_id": webhook_id, "target": target, "subject": subject, "body": body,
                     "status": "pending", "attempts": 0,
                     "next_attempt_at": now, "last_error": None, "created_at": now, "sent_at": None})

    for user_id in sorted(users):
        setting = settings.get(user_id)
        if setting is not None and setting.email and wants(setting, event.kind, "email"):
            add("email", setting.email, user_id, None, *renderer.email(event, case, task, setting.language))
        if wants(setting, event.kind, "webhook"):
            for hook in hooks:
                if hook.user_id == user_id and _subscribed(hook, event.kind):
                    add("webhook", hook.url, user_id, hook.id)
    for hook in hooks:
        if hook.user_id is None and _subscribed(hook, event.kind):
            add("webhook", hook.url, None, hook.id)
    return rows


def expand_pending(s: Session, now: datetime, renderer: Renderer, limit: int = EXPAND_BATCH) -> int:
    """Fan out up to ``limit`` outbox events in this transaction; return how many. Concurrent
    workers on PostgreSQL each take other events (FOR UPDATE SKIP LOCKED); on SQLite the write
    transaction serializes them."""
    events = list(s.scalars(select(OutboxEvent).where(OutboxEvent.expanded_at.is_(None))
                            .order_by(OutboxEvent.id).limit(limit).with_for_update(skip_locked=True)))
    rows = []
    for event in events:
        rows.extend(fan_out(s, event, now, renderer))
        event.expanded_at = now
    if rows:
        s.execute(insert(Notification), rows)
    return len(events)
