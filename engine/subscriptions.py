"""Who wants to be told what, and where: each user's notification settings (her own to
read and change) and the webhooks administrators register (system-wide or for one user)."""
from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

from marshmallow import ValidationError
from marshmallow.validate import Email
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import org, policy
from .errors import Forbidden, InvalidInput, NotFound
from .inputs import check_text, int_problem, text_problem
from .model import NotificationSetting, User, Webhook
from .notifications import CHANNELS, EVENTS, wants
from .org import Actor

if TYPE_CHECKING:
    from .command import Engine

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


@dataclass(frozen=True)
class Settings:
    """A user's notification settings, every event's channels spelled out (event -> channels)."""

    email: str | None
    language: str
    channels: dict[str, list[str]]

    @classmethod
    def of(cls, setting: NotificationSetting | None) -> Settings:
        """The stored settings, defaults included."""
        return cls(setting.email if setting else None, setting.language if setting else "zh",
                   {kind: [c for c in CHANNELS if wants(setting, kind, c)] for kind in EVENTS})


def get_settings(s: Session, actor: Actor, username: str) -> Settings:
    user = _own(s, actor, username)
    return Settings.of(s.get(NotificationSetting, user.id))


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


def save_settings(rt: Engine, actor: Actor | int, username: str, *, email: str | None, language: str = "zh",
                  channels: dict[str, list[str]] | None = None) -> Settings:
    """Replace a user's settings (her own only); events left out of ``channels`` keep
    their current choice."""
    with rt.command() as cmd:
        s = cmd.session
        user = _own(s, org.actor(s, actor), username)
        email = email.strip() or None if isinstance(email, str) else email
        channels = {} if channels is None else channels
        problems = _check_settings(email, language, channels)
        if problems:
            raise InvalidInput("bad notification settings", fields=problems)
        setting = s.get(NotificationSetting, user.id)
        if setting is None:
            setting = NotificationSetting(user_id=user.id, channels={})
            s.add(setting)
        setting.email, setting.language, setting.updated_at = email, language, rt.clock.now()
        setting.channels = {**(setting.channels or {}), **{k: list(v) for k, v in channels.items()}}
        s.flush()
        return Settings.of(setting)


# ------------------------------------------------------------------------------ webhooks

def _admin(s: Session, actor: Actor | int | None) -> Actor | None:
    """The acting administrator (``None``: the system, the command line)."""
    who = org.acting(s, actor)
    if not policy.may_administer_webhooks(who):
        raise Forbidden("only administrators manage webhooks")
    return who


@dataclass(frozen=True)
class WebhookRow:
    """A registered webhook, without its secret."""

    id: int
    url: str
    events: tuple[str, ...]
    user: str | None
    active: bool
    created_at: datetime
    created_by: str | None

    @classmethod
    def of(cls, hook: Webhook, username: str | None) -> WebhookRow:
        return cls(hook.id, hook.url, tuple(hook.events or ()), username, hook.active, hook.created_at,
                   hook.created_by)


@dataclass(frozen=True)
class NewWebhook(WebhookRow):
    """A webhook just registered, with its signing secret: answered this once."""

    secret: str


def list_webhooks(s: Session, actor: Actor | None) -> list[WebhookRow]:
    _admin(s, actor)
    rows = s.execute(select(Webhook, User.username).outerjoin(User, User.id == Webhook.user_id)
                     .where(Webhook.active.is_(True)).order_by(Webhook.id)).all()
    return [WebhookRow.of(hook, username) for hook, username in rows]


def add_webhook(rt: Engine, actor: Actor | int | None, url: str, *, events: Sequence[str] | None = None,
                username: str | None = None) -> NewWebhook:
    """Register an endpoint (for ``username``'s notifications, or for every event it
    subscribes to: all when ``events`` is empty); answers its signing secret, once."""
    with rt.command() as cmd:
        s = cmd.session
        who = _admin(s, actor)
        events = list(events or [])
        _check_webhook(url, events)
        user = _user(s, username) if username else None
        secret = secrets.token_urlsafe(32)
        hook = Webhook(url=url, secret=secret, events=events, user_id=user.id if user else None, active=True,
                       created_at=rt.clock.now(), created_by=who.username if who else "cli")
        s.add(hook)
        s.flush()
        return NewWebhook(**vars(WebhookRow.of(hook, username)), secret=secret)


def _check_webhook(url: str, events: list[str]) -> None:
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


def remove_webhook(rt: Engine, actor: Actor | int | None, webhook_id: int) -> None:
    """Deactivate (its past deliveries stay listed; the ones not yet sent are failed)."""
    with rt.command() as cmd:
        s = cmd.session
        _admin(s, actor)
        hook = s.get(Webhook, webhook_id) if int_problem(webhook_id) is None else None
        if hook is None or not hook.active:
            raise NotFound(f"no webhook {webhook_id}")
        hook.active = False
