"""Notifications, second half: sending them, outside every command's transaction.

A pass (:func:`deliver_due`) first fans pending outbox events out into notification rows,
then sends the due ones. Each row is *leased* in a short transaction (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL: concurrent workers take different rows; SQLite's write transaction
serializes them), sent with no transaction open (a hanging endpoint holds no lock and
delays no command), then settled in another short transaction: sent, retried later with
backoff, or failed for good with the reason. A worker that dies after the lease leaves the
row ``sending`` until the lease ends; then any worker sends it again, so nothing is lost
(a receiver may see a delivery twice in that case: ``X-Gridloop-Delivery`` identifies it).

Webhook POSTs are signed: ``X-Gridloop-Signature: sha256=HEX`` where HEX is the HMAC-SHA256,
keyed with the webhook's secret, of ``X-Gridloop-Timestamp`` (Unix seconds), a ".", and the
raw body (see :func:`signature` and docs/notifications.md).
"""
from __future__ import annotations

import email.policy
import hashlib
import hmac
import logging
import os
import smtplib
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from sqlalchemy import select, update

from . import notifications
from .clock import Clock
from .db import Database, affected
from .model import Notification, Webhook
from .notification_text import Renderer

log = logging.getLogger(__name__)

# Seconds to wait before the 2nd, 3rd, ... attempt; after the last, the row is failed.
BACKOFF = (30, 120, 600, 3600, 21600)
LEASE = timedelta(minutes=5)  # longer than any send may take (the timeouts below)
BATCH = 20
# CRLF, and lines up to RFC 5322's 998: Python's default 78 folds some subjects right after
# "Subject:", which readers then show with a leading space.
MAIL_POLICY = email.policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True)
class Transport:
    """Where and how to send: the SMTP server, the sender, the network timeout, the backoff."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "gridloop@localhost"
    timeout: float = 5.0
    backoff: tuple[float, ...] = BACKOFF

    @classmethod
    def from_env(cls) -> Transport:
        """GRIDLOOP_SMTP_HOST / _PORT / _USER / _PASSWORD / _STARTTLS, GRIDLOOP_MAIL_FROM,
        GRIDLOOP_NOTIFY_TIMEOUT (seconds per send)."""
        env = os.environ.get
        return cls(smtp_host=env("GRIDLOOP_SMTP_HOST") or None, smtp_port=int(env("GRIDLOOP_SMTP_PORT", "25")),
                   smtp_user=env("GRIDLOOP_SMTP_USER") or None, smtp_password=env("GRIDLOOP_SMTP_PASSWORD") or None,
                   smtp_starttls=env("GRIDLOOP_SMTP_STARTTLS", "") in ("1", "true", "yes"),
                   mail_from=env("GRIDLOOP_MAIL_FROM", cls.mail_from),
                   timeout=float(env("GRIDLOOP_NOTIFY_TIMEOUT", "5")))


@dataclass(frozen=True)
class Leased:
    id: int
    kind: str
    channel: str
    target: str
    subject: str | None
    body: str
    attempts: int
    secret: str | None
    hook_active: bool | None


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The value of ``X-Gridloop-Signature`` for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (in constant time); it should also refuse old timestamps."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is answered as an error: a POST is not replayed elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def post_webhook(url: str, secret: str, body: str, delivery_id: int, kind: str, now: datetime,
                 timeout: float) -> None:
    """POST a signed JSON body; raise on anything but a 2xx answer."""
    data = body.encode()
    timestamp = str(int(now.timestamp()))
    request = urllib.request.Request(url, data=data, method="POST", headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Gridloop-Webhook/1",
        "X-Gridloop-Event": kind, "X-Gridloop-Delivery": str(delivery_id),
        "X-Gridloop-Timestamp": timestamp, "X-Gridloop-Signature": signature(secret, timestamp, data)})
    with _OPENER.open(request, timeout=timeout) as response:
        response.read(1024)


def send_email(transport: Transport, to: str, subject: str, text: str) -> None:
    if not transport.smtp_host:
        raise RuntimeError("no SMTP server configured (GRIDLOOP_SMTP_HOST)")
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = formataddr(("Gridloop", transport.mail_from))
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=transport.mail_from.rpartition("@")[2] or None)
    message.set_content(text)
    with smtplib.SMTP(transport.smtp_host, transport.smtp_port, timeout=transport.timeout) as smtp:
        if transport.smtp_starttls:
            smtp.starttls()
        if transport.smtp_user:
            smtp.login(transport.smtp_user, transport.smtp_password or "")
        smtp.send_message(message)


def _failure(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable: {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


def lease(db: Database, now: datetime, limit: int = BATCH) -> list[Leased]:
    """Take up to ``limit`` due rows (pending, or sending with an ended lease) for this worker."""
    n = Notification
    with db.transaction() as s:
        due = (select(n.id).where(n.status.in_(("pending", "sending")), n.next_attempt_at <= now)
               .order_by(n.next_attempt_at, n.id).limit(limit).with_for_update(skip_locked=True))
        ids = list(s.scalars(due))
        if not ids:
            return []
        s.execute(update(n).where(n.id.in_(ids)).values(status="sending", attempts=n.attempts + 1,
                                                        next_attempt_at=now + LEASE)
                  .execution_options(synchronize_session=False))
        rows = s.execute(select(n.id, n.kind, n.channel, n.target, n.subject, n.body, n.attempts, Webhook.secret,
                                Webhook.active).outerjoin(Webhook, Webhook.id == n.webhook_id)
                         .where(n.id.in_(ids)).order_by(n.id)).all()
        return [Leased(*row) for row in rows]


def settle(db: Database, item: Leased, error: str | None, now: datetime, backoff: tuple[float, ...]) -> str:
    """Record one send's outcome if the row is still this worker's lease; return the status
    it got, or "stale" when the lease had ended and another worker took the row."""
    values: dict[str, Any]
    if error is None:
        values = {"status": "sent", "sent_at": now, "last_error": None}
    elif item.attempts <= len(backoff):
        values = {"status": "pending", "last_error": error,
                  "next_attempt_at": now + timedelta(seconds=backoff[item.attempts - 1])}
    else:
        values = {"status": "failed", "last_error": error}
    with db.transaction() as s:
        won = affected(s, update(Notification).where(Notification.id == item.id, Notification.status == "sending",
                                                     Notification.attempts == item.attempts).values(**values)
                       .execution_options(synchronize_session=False))
    if not won:
        return "stale"
    if values["status"] == "failed":
        log.warning("notification %s failed after %s attempts: %s", item.id, item.attempts, error)
    status: str = values["status"]
    return status


def send(item: Leased, transport: Transport, now: datetime) -> str | None:
    """Send one leased row; the failure's reason, or None when it went out."""
    try:
        if item.channel == "email":
            send_email(transport, item.target, item.subject or "", item.body)
        elif not item.hook_active or item.secret is None:  # no secret: no webhook row joined
            return "the webhook was removed"
        else:
            post_webhook(item.target, item.secret, item.body, item.id, item.kind, now, transport.timeout)
    except Exception as exc:  # whatever the network or server did: retried, then recorded
        return _failure(exc)
    return None


def deliver_due(db: Database, clock: Clock, renderer: Renderer, transport: Transport,
                stop: threading.Event | None = None) -> dict[str, int]:
    """One pass: fan out the outbox, then send what is due; counts by outcome."""
    counts = {"expanded": 0, "sent": 0, "pending": 0, "failed": 0, "stale": 0}
    while True:
        with db.transaction() as s:
            expanded = notifications.expand_pending(s, clock.now(), renderer)
        counts["expanded"] += expanded
        if not expanded:
            break
    while not (stop is not None and stop.is_set()):
        batch = lease(db, clock.now())
        if not batch:
            break
        for item in batch:
            error = send(item, transport, clock.now())
            counts[settle(db, item, error, clock.now(), transport.backoff)] += 1
    return counts
