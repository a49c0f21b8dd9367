"""Due work on Celery (Redis broker), for deployments that already run Celery.

    celery -A engine.celery_app worker --concurrency 4     # any number, any machines
    celery -A engine.celery_app beat                       # exactly one: the schedule

Beat sends ``gridloop.due_pass`` every ``GRIDLOOP_DUE_INTERVAL`` seconds (default 10); the
worker that takes it runs one due-work pass (:func:`engine.timers.run_due`). Passes that
overlap, on one worker or several, are safe: each due instance is claimed by exactly one
of them with ``FOR UPDATE SKIP LOCKED``, so Celery only has to deliver the pass, not make
it exclusive. A pass message expires after one interval, so a backlog of them never piles
up while workers are busy. ``gridloop.notify_pass`` (same schedule) sends notifications
(:func:`engine.delivery.deliver_due`; each row is leased by one worker with SKIP LOCKED).
``gridloop.fire_instance`` fires one given instance if it is
due (e.g. from an operator's tool). The database is ``GRIDLOOP_DATABASE_URL``, the broker
``GRIDLOOP_CELERY_BROKER`` (default ``redis://127.0.0.1:6379/0``).
"""
from __future__ import annotations

import os
import threading

from celery import Celery

from . import timers
from .worker import notifier
from .db import Database
from .runtime import Runtime

DUE_INTERVAL = float(os.environ.get("GRIDLOOP_DUE_INTERVAL", "10"))

app = Celery("gridloop", broker=os.environ.get("GRIDLOOP_CELERY_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    task_acks_late=True,             # a worker killed mid-pass: the pass is redelivered
    worker_prefetch_multiplier=1,
    timezone="UTC",
    beat_schedule={"gridloop-due-work": {"task": "gridloop.due_pass", "schedule": DUE_INTERVAL,
                                         "options": {"expires": DUE_INTERVAL}},
                   "gridloop-notifications": {"task": "gridloop.notify_pass", "schedule": DUE_INTERVAL,
                                              "options": {"expires": DUE_INTERVAL}}},
)

_runtime: Runtime | None = None
_notify = notifier()


def runtime() -> Runtime:
    """One Runtime per worker process, made on first use (after the pool has forked, so no
    database connection is shared between processes)."""
    global _runtime
    if _runtime is None:
        db = Database()
        db.create_schema()
        _runtime = Runtime(db)
    return _runtime


@app.task(name="gridloop.due_pass")
def due_pass(limit: int | None = None) -> int:
    """One due-work pass; returns how many instances fired."""
    return timers.run_due(runtime(), limit=limit)


@app.task(name="gridloop.notify_pass")
def notify_pass() -> int:
    """One notification pass; returns how many were sent."""
    return _notify(runtime(), threading.Event())


@app.task(name="gridloop.fire_instance")
def fire_instance(instance_id: int) -> bool:
    """Fire one instance's due timers; False when it is not due (or another runner has it)."""
    rt = runtime()
    return timers.fire_next(rt, rt.clock.now(), instance_id) is not None
