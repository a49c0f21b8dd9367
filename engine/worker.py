"""Running background work: loops for `gridloop worker` processes and for the threads in `serve`.

Two kinds of work, each in its own loop so that neither waits for the other: due timers
(:func:`engine.timers.run_due`, one transaction per due instance) and notifications
(:func:`engine.delivery.deliver_due`: a slow mail server or webhook delays only other
notifications). Both claim their rows with ``FOR UPDATE SKIP LOCKED``, so any number of
these loops (threads, processes, machines, or Celery tasks, see ``engine/celery_app.py``)
can run over one PostgreSQL database without coordinating. Between passes a loop sleeps
``interval`` seconds: finding due work is one indexed query, so polling costs nothing worth
a scheduler.
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Callable

from . import delivery, timers
from .notification_text import Renderer
from .runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0

Work = Callable[[Runtime, threading.Event], int]


def fire_timers(runtime: Runtime, stop: threading.Event) -> int:
    """One due-timer pass; the number of instances fired."""
    return timers.run_due(runtime, stop=stop)


def notifier(transport: delivery.Transport | None = None, public_url: str | None = None) -> Work:
    """A notification pass over the given transport (default: the GRIDLOOP_SMTP_* settings)
    with links on ``public_url`` (default: GRIDLOOP_PUBLIC_URL); it counts what was sent."""
    transport = transport or delivery.Transport.from_env()
    public_url = public_url or os.environ.get("GRIDLOOP_PUBLIC_URL", "http://127.0.0.1:5000")

    def deliver(runtime: Runtime, stop: threading.Event) -> int:
        counts = delivery.deliver_due(runtime.db, runtime.clock, Renderer(public_url, runtime.calendar.tz),
                                      transport, stop)
        if counts["failed"]:
            log.warning("%d notifications failed for good", counts["failed"])
        return counts["sent"]

    return deliver


class Worker:
    """Runs passes of one kind of work until stopped; ``stop`` is checked between items,
    so stopping always lets the current transaction finish."""

    def __init__(self, runtime: Runtime, interval: float = DEFAULT_INTERVAL, work: Work = fire_timers,
                 name: str = "timers"):
        self.runtime = runtime
        self.interval = interval
        self.work = work
        self.name = name
        self.stop = threading.Event()
        self.done = 0

    def run(self, once: bool = False) -> int:
        """Run passes until stopped (or one pass with ``once``); return the items done.

        A failing pass (say, the database is restarting) is logged and retried after the
        interval by a long-running worker; with ``once`` it is raised, so cron sees it.
        """
        while not self.stop.is_set():
            try:
                done = self.work(self.runtime, self.stop)
                if done:
                    log.info("%s: %d done", self.name, done)
                self.done += done
            except Exception:
                if once:
                    raise
                log.exception("%s pass failed; retrying in %ss", self.name, self.interval)
            if once:
                break
            self.stop.wait(self.interval)
        return self.done


def start_background(runtime: Runtime, interval: float = DEFAULT_INTERVAL, work: Work = fire_timers,
                     name: str = "timers") -> Worker:
    """An embedded runner of `gridloop serve` (the single-machine default, SQLite): a daemon
    thread. If the process dies mid-item, that transaction never commits; the next start
    does the item again from its stored state."""
    worker = Worker(runtime, interval, work, name)
    threading.Thread(target=worker.run, name=f"gridloop-{name}", daemon=True).start()
    return worker
