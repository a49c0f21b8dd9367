"""Who wants to be told what, and where: each user's notification settings (her own to
read and change) and the webhooks administrators register (system-wide or for one user)."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit

from marshmallow import ValidationError
from marshmallow.validate import Email
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import policy
from .errors import Forbidden, InvalidInput, NotFound
from .inputs import check_text, int_problem, text_problem
from .model import NotificationSetting, User, Webhook
from .notifications import CHANNELS, EVENTS, wants
from .org import Actor

LANGUAGES = ("zh", "en")
MAX_URL = 400


def _user(s: Session, username: str) -> User:
    user = s.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user '{username}'")
    return user


def _own(s: Session, actor: Actor, username: str) -> User:
    user = _user(s, username)
    if not policy.may_edit_notification_settings(actor, user.id):
        raise Forbidden("only the user herself may see or change her notification settings")
    return user


def settings_dict(setting: NotificationSetting | None) -> dict[str, Any]:
    """The settings with every event's channels spelled out (defaults included)."""
    return {"email": setting.email if setting else None, "language": setting.language if setting else "zh",
            "channels": {kind: [c for c in CHANNELS if wants(setting, kind, c)] for kind in EVENTS}}


def get_settings(s: Session, actor: Actor, username: str) -> dict[str, Any]:
    user = _own(s, actor, username)
    return settings_dict(s.get(NotificationSetting, user.id))


def _check_settings(email: Any, language: Any, channels: Any) -> dict[str, str]:
    problems = {}
    if email is not None:
        try:
            check_text("email", email)
            Email()(email)
        except (ValidationError, TypeError, InvalidInput):
            problems["email"] = "not an email address"
        else:
            if len(email) > 254:
                problems["email"] = "at most 254 characters"
    if language not in LANGUAGES:
        problems["language"] = f"one of {', '.join(LANGUAGES)}"
    if not isinstance(channels, dict):
        problems["channels"] = "an object: event -> list of channels"
        return problems
    for kind, chosen in channels.items():
        if kind not in EVENTS:
            problems["channels"] = f"unknown event {kind[:40]!r}; events: {', '.join(EVENTS)}"
        elif not isinstance(chosen, list) or any(c not in CHANNELS for c in chosen) or len(set(chosen)) != len(chosen):
            problems[f"channels.{kind}"] = f"a list of distinct channels among {', '.join(CHANNELS)}"
    return problems


def save_settings(s: Session, actor: Actor, username: str, *, email: str | None, language: str = "zh",
                  channels: dict[str, list[str]] | None = None, now: datetime) -> dict[str, Any]:
    """Replace a user's settings (her own only); events left out of ``channels`` keep
    their current choice."""
    user = _own(s, actor, username)
    email = email.strip() or None if isinstance(email, str) else email
    channels = {} if channels is None else channels
    problems = _check_settings(email, language, channels)
    if problems:
        raise InvalidInput("bad notification settings", fields=problems)
    setting = s.get(NotificationSetting, user.id)
    if setting is None:
        setting = NotificationSetting(user_id=user.id, channels={})
        s.add(setting)
    setting.email, setting.language, setting.updated_at = email, language, now
    setting.channels = {**(setting.channels or {}), **{k: list(v) for k, v in channels.items()}}
    s.flush()
    return settings_dict(setting)


# ------------------------------------------------------------------------------ webhooks

def _check_admin(actor: Actor | None) -> None:
    if not policy.may_administer_webhooks(actor):
        raise Forbidden("only administrators manage webhooks")


def webhook_dict(hook: Webhook, username: str | None, secret: str | None = None) -> dict[str, Any]:
    out = {"id": hook.id, "url": hook.url, "events": list(hook.events or []), "user": username,
           "active": hook.active, "created_at": hook.created_at, "created_by": hook.created_by}
    if secret is not None:
        out["secret"] = secret  # shown once, when the webhook is registered
    return out


def list_webhooks(s: Session, actor: Actor | None) -> list[dict[str, Any]]:
    _check_admin(actor)
    rows = s.execute(select(Webhook, User.username).outerjoin(User, User.id == Webhook.user_id)
                     .where(Webhook.active.is_(True)).order_by(Webhook.id)).all()
    return [webhook_dict(hook, username) for hook, username in rows]


def add_webhook(s: Session, actor: Actor | None, url: str, *, events: list[str] | None = None,
                username: str | None = None, now: datetime) -> dict[str, Any]:
    """Register an endpoint (for ``username``'s notifications, or for every event it
    subscribes to: all when ``events`` is empty); answers its signing secret, once."""
    _check_admin(actor)
    events = list(events or [])
    problems = {}
    parts: SplitResult | None
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except (ValueError, TypeError, AttributeError):  # "http://[", not text
        parts = host = None
    if parts is None or text_problem(url) or parts.scheme not in ("http", "https") or not host or len(url) > MAX_URL:
        problems["url"] = f"an http(s) URL of at most {MAX_URL} characters"
    unknown = [e for e in events if e not in EVENTS][:5]
    if unknown:
        problems["events"] = f"unknown events {', '.join(map(repr, unknown))}; events: {', '.join(EVENTS)}"
    if problems:
        raise InvalidInput("bad webhook", fields=problems)
    user = _user(s, username) if username else None
    secret = secrets.token_urlsafe(32)
    hook = Webhook(url=url, secret=secret, events=events, user_id=user.id if user else None, active=True,
                   created_at=now, created_by=actor.username if actor else "cli")
    s.add(hook)
    s.flush()
    return webhook_dict(hook, username, secret)


def remove_webhook(s: Session, actor: Actor | None, webhook_id: int) -> None:
    """Deactivate (its past deliveries stay listed; the ones not yet sent are failed)."""
    _check_admin(actor)
    hook = s.get(Webhook, webhook_id) if int_problem(webhook_id) is None else None
    if hook is None or not hook.active:
        raise NotFound(f"no webhook {webhook_id}")
    hook.active = False
