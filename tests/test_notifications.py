"""Notifications: the outbox is written in the command's transaction, fanned out to the users
it concerns and the webhooks, and delivered by the worker outside any command: email over
SMTP (a local aiosmtpd server), signed webhook POSTs (a local receiver), retried with backoff
and then recorded as failed; never twice by concurrent workers, never lost by a crash."""
from __future__ import annotations

import json
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gridloop.engine import delivery, failed_deliveries, notifications, subscriptions, timers
from gridloop.engine.errors import Conflict, Forbidden, InvalidInput, NotFound
from gridloop.engine.model import Notification, OutboxEvent
from gridloop.engine.notification_text import Renderer
from gridloop.engine.runtime import Runtime

from .loop_driver import LoopDriver
from .notify_servers import MailBox, Receiver, free_port

RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}
PUBLIC = "https://gridloop.example"


@pytest.fixture
def loop(any_db, clock):
    return LoopDriver(Runtime(any_db, clock=clock))


def settings(loop: LoopDriver, username: str, email: str | None, language: str = "zh", **channels) -> None:
    loop.rt.save_notification_settings(loop.actor(username), username, email=email, language=language,
                                       channels=channels)


def webhook(loop: LoopDriver, url: str, events=(), username: str | None = None) -> subscriptions.NewWebhook:
    return loop.rt.add_webhook(loop.actor("admin1"), url, events=events, username=username)


def deliver(loop: LoopDriver, transport: delivery.Transport) -> dict[str, int]:
    return delivery.deliver_due(loop.rt.db, loop.rt.clock, Renderer(PUBLIC, loop.rt.calendar.tz), transport)


def expand(loop: LoopDriver) -> int:
    with loop.rt.db.transaction() as s:
        return notifications.expand_pending(s, loop.rt.clock.now(), Renderer(PUBLIC, loop.rt.calendar.tz))


def rows(loop: LoopDriver, **where) -> list[Notification]:
    with loop.rt.db.reading() as s:
        query = select(Notification).order_by(Notification.id)
        for name, value in where.items():
            query = query.where(getattr(Notification, name) == value)
        return list(s.scalars(query))


def outbox_kinds(loop: LoopDriver) -> list[str]:
    with loop.rt.db.reading() as s:
        return list(s.scalars(select(OutboxEvent.kind).order_by(OutboxEvent.id)))


def hotline_case(loop: LoopDriver) -> int:
    """A hotline case the acceptor takes in; its grid task is then offered to grid1."""
    case_id = loop.report("acceptor1", source="hotline")
    loop.step(case_id, "acceptor1", {"outcome": "accept"}, stage="acceptance")
    return case_id


# ------------------------------------------------------------------------------ the outbox

def test_a_command_writes_its_outbox_rows_or_nothing(loop):
    case_id = loop.report("acceptor1", source="hotline")
    assert outbox_kinds(loop) == ["task_offered"]  # the acceptance task, in the reporting transaction
    task = loop.open_task(case_id)
    with pytest.raises(InvalidInput):  # a failing command: rolled back, outbox included
        loop.rt.complete_task(loop.ids["acceptor1"], task.id, {"outcome": "no such outcome"})
    assert outbox_kinds(loop) == ["task_offered"]
    loop.step(case_id, "acceptor1", {"outcome": "accept"})
    assert outbox_kinds(loop) == ["task_offered", "task_offered"]
    assert rows(loop) == []  # nothing is sent or even addressed inside a command


def test_the_candidate_gets_an_email_in_her_language_with_a_link(loop):
    settings(loop, "grid1", "grid1@example.org", "en")
    settings(loop, "grid2", "grid2@example.org")  # another grid's worker: not a candidate
    settings(loop, "acceptor1", "acceptor1@example.org")  # accepts herself: not told of her own act
    case_id = hotline_case(loop)
    task = loop.open_task(case_id)
    with MailBox() as box:
        counts = deliver(loop, box.transport())
    assert counts["sent"] == 1 and counts["failed"] == 0
    [mail] = box.messages
    case = loop.case(case_id)
    assert mail["To"] == "grid1@example.org"
    assert mail["Subject"] == f"New task: {task.name} ({case.number} {case.title})"
    text = mail.get_content()
    assert f"{PUBLIC}/tasks/{task.id}" in text and "Due: " in text
    assert "网格" not in mail["Subject"]  # one language per message
    [row] = rows(loop)
    assert (row.status, row.attempts, row.user_id) == ("sent", 1, loop.ids["grid1"])


def test_a_chinese_email_for_an_urged_task_carries_the_note(loop):
    settings(loop, "grid1", "grid1@example.org", "zh")
    case_id = hotline_case(loop)
    task = loop.open_task(case_id)
    with MailBox() as box:
        deliver(loop, box.transport())
        loop.rt.claim(loop.ids["grid1"], task.id)
        loop.rt.urge(loop.ids["supervisor1"], task.id, "居民又来电了")
        deliver(loop, box.transport())
    offered, urged = box.messages
    assert offered["Subject"].startswith("新任务：") and urged["Subject"].startswith("催办：")
    assert "催办说明：居民又来电了" in urged.get_content()


def test_preferences_choose_the_channels_per_event(loop):
    settings(loop, "grid1", "grid1@example.org", task_offered=[], urged=["email"])
    case_id = hotline_case(loop)
    task = loop.open_task(case_id)
    with MailBox() as box:
        deliver(loop, box.transport())
        assert box.messages == []  # she turned off emails of offered tasks
        loop.rt.urge(loop.ids["supervisor1"], task.id)
        deliver(loop, box.transport())
        assert [m["Subject"][:3] for m in box.messages] == ["催办："]
    settings(loop, "grid1", None)  # no address: no email, whatever the channels
    loop.rt.urge(loop.ids["supervisor1"], task.id)
    assert deliver(loop, delivery.Transport())["expanded"] == 1
    assert len(rows(loop, channel="email")) == 1


def test_escalation_and_closing_reach_the_area_supervisors_and_the_reporter(loop):
    for username in ("grid1", "supervisor1", "street2"):
        settings(loop, username, f"{username}@example.org", "en")
    escalated = loop.report("grid1")
    loop.step(escalated, "grid1", {"outcome": "escalate", "note": "hard case"})
    closed = loop.report("grid1")
    loop.step(closed, "grid1", RESOLVED)
    loop.close_after_resolution(closed)
    with MailBox() as box:
        deliver(loop, box.transport())
    subjects = sorted((m["To"], m["Subject"].split(":")[0]) for m in box.messages)
    assert ("supervisor1@example.org", "Case escalated to level 1") in subjects
    assert ("grid1@example.org", "Case escalated to level 1") not in subjects  # she escalated it herself
    assert ("grid1@example.org", "Case closed") in subjects  # acceptor1 closed it, grid1 reported it
    assert not any(to == "street2@example.org" for to, _ in subjects)  # another street: not hers


def test_overdue_work_is_told_to_those_who_may_take_it(loop, clock):
    settings(loop, "liaison_gas", "gas@example.org", "en")
    settings(loop, "liaison_water", "water@example.org", "en")  # another department
    case_id = loop.report("grid1", category="gas_leak", source="patrol", urgency="emergency")
    loop.step(case_id, "grid1", {"outcome": "whistle", "department": "gas"})
    clock.advance(minutes=31)  # the report-in limit (30 min) passes with nobody reporting in
    assert timers.run_due(loop.rt) == 1
    with MailBox() as box:
        deliver(loop, box.transport())
    task = loop.open_task(case_id)
    assert [(m["To"], m["Subject"]) for m in box.messages] == [
        ("gas@example.org", f"New task: {task.name} ({loop.case(case_id).number} {loop.case(case_id).title})"),
        ("gas@example.org", f"Overdue: {task.name} ({loop.case(case_id).number} {loop.case(case_id).title})")]


def test_a_task_taken_before_the_worker_came_is_offered_to_nobody(loop):
    settings(loop, "grid1", "grid1@example.org")
    case_id = hotline_case(loop)
    loop.rt.claim(loop.ids["grid1"], loop.open_task(case_id).id)
    assert deliver(loop, delivery.Transport())["expanded"] == 2 and rows(loop) == []


def test_no_smtp_server_configured_is_recorded_as_the_reason(loop):
    settings(loop, "grid1", "grid1@example.org")
    hotline_case(loop)
    assert deliver(loop, delivery.Transport(backoff=()))["failed"] == 1
    [row] = rows(loop)
    assert (row.status, row.last_error) == ("failed", "RuntimeError: no SMTP server configured (GRIDLOOP_SMTP_HOST)")


# ------------------------------------------------------------------------------ webhooks

def test_a_webhook_post_is_signed_and_verifiable(loop):
    with Receiver() as receiver:
        hook = webhook(loop, receiver.url, events=["task_offered"])
        case_id = hotline_case(loop)
        assert deliver(loop, delivery.Transport())["sent"] == 2  # the acceptance task, then grid1's
    headers, body = receiver.received[1]
    assert headers["X-Gridloop-Event"] == "task_offered"
    assert delivery.verify(hook.secret, headers["X-Gridloop-Timestamp"], body, headers["X-Gridloop-Signature"])
    assert not delivery.verify("another secret", headers["X-Gridloop-Timestamp"], body,
                               headers["X-Gridloop-Signature"])
    assert not delivery.verify(hook.secret, headers["X-Gridloop-Timestamp"], body + b" ",
                               headers["X-Gridloop-Signature"])
    sent = json.loads(body)
    assert sent["case"]["number"] == loop.case(case_id).number and sent["task"]["id"] == loop.open_task(case_id).id
    assert int(headers["X-Gridloop-Timestamp"]) == int(loop.rt.clock.now().timestamp())
    assert headers["X-Gridloop-Delivery"] == str(rows(loop)[1].id)


def test_a_users_webhook_follows_her_channels(loop):
    with Receiver() as receiver:
        webhook(loop, receiver.url, username="grid1")
        settings(loop, "grid1", None, urged=["email"])  # webhook off for urging only
        case_id = hotline_case(loop)
        task = loop.open_task(case_id)
        loop.rt.urge(loop.ids["supervisor1"], task.id)
        deliver(loop, delivery.Transport())
    assert [b["event"] for b in receiver.bodies()] == ["task_offered"]


def test_a_down_endpoint_is_retried_with_backoff_then_recorded_failed(loop, clock):
    transport = delivery.Transport(backoff=(60, 600))
    with Receiver(status=503) as receiver:
        webhook(loop, receiver.url, events=["task_offered"])
        loop.report("acceptor1", source="hotline")
        assert deliver(loop, transport) == {"expanded": 1, "sent": 0, "pending": 1, "failed": 0, "stale": 0}
        [row] = rows(loop)
        assert (row.status, row.attempts, row.last_error) == ("pending", 1, "HTTP 503 Service Unavailable")
        assert row.next_attempt_at == clock.now() + timedelta(seconds=60)
        assert deliver(loop, transport)["pending"] == 0  # not due yet
        clock.advance(seconds=61)
        assert deliver(loop, transport)["pending"] == 1
        clock.advance(seconds=601)
        assert deliver(loop, transport)["failed"] == 1
        assert len(receiver.received) == 3
    [row] = rows(loop)
    assert (row.status, row.attempts, row.last_error) == ("failed", 3, "HTTP 503 Service Unavailable")
    clock.advance(days=1)
    assert deliver(loop, transport)["failed"] == 0  # failed is final


def test_a_refused_connection_is_recorded_and_the_case_goes_on(loop):
    webhook(loop, f"http://127.0.0.1:{free_port()}/nobody-listens")
    case_id = hotline_case(loop)
    deliver(loop, delivery.Transport(backoff=()))
    found = rows(loop)
    assert {r.status for r in found} == {"failed"} and all(r.last_error.startswith("unreachable: ") for r in found)
    loop.step(case_id, "grid1", RESOLVED, stage="grid_handling")  # commands never depended on it
    assert loop.case(case_id).stage == "verification"


def test_a_hanging_endpoint_holds_no_lock_and_delays_no_command(loop):
    with Receiver(hold=True) as receiver:
        webhook(loop, receiver.url, events=["task_offered"])
        case_id = loop.report("acceptor1", source="hotline")
        sender = threading.Thread(target=deliver, args=(loop, delivery.Transport(timeout=30)))
        sender.start()
        assert receiver.entered.wait(30)  # the POST is in flight and hangs
        loop.step(case_id, "acceptor1", {"outcome": "accept"})  # a write command, meanwhile
        loop.step(case_id, "grid1", RESOLVED)
        assert not receiver.release.is_set() and receiver.received == []  # still hanging
        receiver.release.set()
        sender.join(30)
        assert [r.status for r in rows(loop)] == ["sent"]
        assert deliver(loop, delivery.Transport())["sent"] == 2  # what the commands queued meanwhile
    assert loop.case(case_id).stage == "verification"


def test_a_timeout_counts_as_a_failed_attempt(loop):
    with Receiver(hold=True) as receiver:
        webhook(loop, receiver.url)
        loop.report("acceptor1", source="hotline")
        assert deliver(loop, delivery.Transport(timeout=0.2))["pending"] == 1
    [row] = rows(loop)
    assert row.status == "pending" and "timed out" in row.last_error


def test_a_removed_webhook_fails_what_it_had_not_received(loop):
    hook = webhook(loop, "http://127.0.0.1:9/never")
    loop.report("acceptor1", source="hotline")
    expand(loop)  # addressed to it, not sent yet
    loop.rt.remove_webhook(loop.actor("admin1"), hook.id)
    loop.report("acceptor1", source="hotline")  # no longer addressed to it
    deliver(loop, delivery.Transport(backoff=()))
    [row] = rows(loop)
    assert (row.status, row.last_error) == ("failed", "the webhook was removed")


# ------------------------------------------------------------------------------ crashes and races

def test_a_crash_after_the_lease_leaves_the_row_to_be_sent_later(loop, clock):
    with Receiver() as receiver:
        webhook(loop, receiver.url)
        loop.report("acceptor1", source="hotline")
        expand(loop)
        [leased] = delivery.lease(loop.rt.db, clock.now())  # ... and the worker dies here
        assert deliver(loop, delivery.Transport())["sent"] == 0  # leased: nobody else takes it
        clock.set(clock.now() + delivery.LEASE + timedelta(seconds=1))
        assert deliver(loop, delivery.Transport())["sent"] == 1
        assert len(receiver.received) == 1
    [row] = rows(loop)
    assert (row.id, row.status, row.attempts) == (leased.id, "sent", 2)
    stale = delivery.settle(loop.rt.db, leased, "late news from the dead worker", clock.now(), ())
    assert stale == "stale" and rows(loop)[0].status == "sent"  # its lease is over: ignored


def test_concurrent_workers_never_take_the_same_row(pg_db, clock):
    loop = LoopDriver(Runtime(pg_db, clock=clock))
    with Receiver() as receiver:
        webhook(loop, receiver.url)
        for _ in range(12):
            loop.report("acceptor1", source="hotline")
        barrier = threading.Barrier(4)

        def work():
            barrier.wait()
            deliver(loop, delivery.Transport())

        workers = [threading.Thread(target=work) for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(60)
        ids = [headers["X-Gridloop-Delivery"] for headers, _ in receiver.received]
    assert len(ids) == len(set(ids)) == 12
    with loop.rt.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Notification).where(Notification.status == "sent")) == 12
        assert s.scalar(select(func.count()).select_from(OutboxEvent).where(OutboxEvent.expanded_at.is_(None))) == 0


# ------------------------------------------------------------------------------ command line

def test_the_cli_registers_webhooks_and_its_worker_sends(tmp_path, monkeypatch, clock):
    from click.testing import CliRunner

    from gridloop.cli import main
    from gridloop.engine.db import Database

    url = f"sqlite:///{tmp_path}/cli.sqlite"
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", url)

    def cli(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    assert cli("seed-demo").exit_code == 0 and cli("deploy").exit_code == 0
    with Receiver() as receiver:
        added = cli("webhook", "add", receiver.url, "--event", "task_offered")
        assert added.exit_code == 0
        hook_id, secret = added.output.split(":")[0].split()[1], added.output.split("secret: ")[1].strip()
        assert cli("webhook", "list").output.split("\t")[:3] == [hook_id, receiver.url, "task_offered"]
        bad = CliRunner().invoke(main, ["webhook", "add", "mailto:someone@example.org"])
        assert bad.exit_code == 1 and "url: an http(s) URL" in bad.output
        loop = LoopDriver(Runtime(Database(url), clock=clock), setup=False)
        loop.report("acceptor1", source="hotline")
        done = cli("worker", "--once")
        assert done.output.strip().endswith(" instances, sent 1 notifications")  # its clock is the real one
        [(headers, body)] = receiver.received
        assert delivery.verify(secret, headers["X-Gridloop-Timestamp"], body, headers["X-Gridloop-Signature"])
    assert cli("webhook", "remove", hook_id).output.strip() == f"webhook {hook_id} removed"
    gone = CliRunner().invoke(main, ["webhook", "remove", hook_id])
    assert gone.exit_code == 1 and f"no webhook {hook_id}" in gone.output


def test_the_celery_task_runs_a_notification_pass(loop, monkeypatch):
    from gridloop.engine import celery_app
    monkeypatch.setattr(celery_app, "_runtime", loop.rt)
    monkeypatch.setitem(celery_app.app.conf, "task_always_eager", True)
    with Receiver() as receiver:
        webhook(loop, receiver.url)
        loop.report("acceptor1", source="hotline")
        assert celery_app.notify_pass.delay().get() == 1
        assert celery_app.notify_pass.delay().get() == 0  # sent once
    assert [b["event"] for b in receiver.bodies()] == ["task_offered"]


# ------------------------------------------------------------------------------ assigned to me

def test_a_task_assigned_to_her_is_news_to_the_assignee_not_to_who_assigned_it(loop):
    settings(loop, "grid1", "grid1@example.org", "en")
    settings(loop, "supervisor1", "supervisor1@example.org")
    case_id = hotline_case(loop)
    task = loop.open_task(case_id)
    with pytest.raises(Forbidden):  # a grid worker does not dispatch
        loop.rt.assign(loop.ids["grid1"], task.id, "grid1")
    with pytest.raises(InvalidInput):  # another grid's worker is not offered the task
        loop.rt.assign(loop.ids["supervisor1"], task.id, "grid2")
    assigned = loop.rt.assign(loop.ids["supervisor1"], task.id, "grid1")
    assert (assigned.status, assigned.assignee_id) == ("claimed", loop.ids["grid1"])
    assert outbox_kinds(loop)[-1] == "task_assigned" and "task_assigned" in loop.events(case_id)
    with pytest.raises(Conflict):  # she holds it already
        loop.rt.assign(loop.ids["supervisor1"], task.id, "grid1")
    with MailBox() as box:
        deliver(loop, box.transport())
    assigned_mail = [m for m in box.messages if m["Subject"].startswith("Assigned to you: ")]
    assert [m["To"] for m in assigned_mail] == ["grid1@example.org"]
    assert f"{PUBLIC}/tasks/{task.id}" in assigned_mail[0].get_content()
    assert all(m["To"] != "supervisor1@example.org" for m in box.messages)


def test_an_assignment_she_no_longer_holds_is_news_to_nobody(loop):
    settings(loop, "grid1", "grid1@example.org")
    case_id = hotline_case(loop)
    task = loop.open_task(case_id)
    deliver(loop, delivery.Transport(backoff=()))  # the offer, failed for want of a server
    loop.rt.assign(loop.ids["supervisor1"], task.id, "grid1")
    loop.rt.unclaim(loop.ids["grid1"], task.id)  # put back before the worker fanned it out
    deliver(loop, delivery.Transport(backoff=()))
    assert [r.kind for r in rows(loop)] == ["task_offered"]


# ------------------------------------------------------------------------------ failed deliveries

def test_administrators_list_failed_deliveries_and_send_them_again(loop):
    settings(loop, "grid1", "grid1@example.org")
    case_id = hotline_case(loop)
    deliver(loop, delivery.Transport(backoff=()))
    with loop.rt.db.reading() as s:
        for user in ("supervisor1", "grid1"):
            with pytest.raises(Forbidden):
                failed_deliveries.failed(s, loop.actor(user))
        items, total = failed_deliveries.failed(s, loop.actor("admin1"))
    assert total == 1 and items[0].last_error.startswith("RuntimeError: no SMTP server configured")
    assert (items[0].target, items[0].user, items[0].case_id, items[0].case_number) == (
        "grid1@example.org", "grid1", case_id, loop.case(case_id).number)
    for user in ("supervisor1", "grid1"):
        with pytest.raises(Forbidden):
            loop.rt.retry_delivery(loop.actor(user), items[0].id)
    again = loop.rt.retry_delivery(loop.actor("admin1"), items[0].id)
    assert again == replace(items[0], status="pending", attempts=0, next_attempt_at=loop.rt.clock.now())
    with pytest.raises(Conflict):  # pending now: nothing to retry
        loop.rt.retry_delivery(loop.actor("admin1"), items[0].id)
    with pytest.raises(NotFound):
        loop.rt.retry_delivery(loop.actor("admin1"), 999999)
    with MailBox() as box:
        assert deliver(loop, box.transport())["sent"] == 1
    assert [m["To"] for m in box.messages] == ["grid1@example.org"]
    with loop.rt.db.reading() as s:
        assert failed_deliveries.failed(s, loop.actor("admin1")) == ([], 0)
