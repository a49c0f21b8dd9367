"""Running due work: a loop for `gridloop worker` processes and for the thread in `serve`.

Every pass is :func:`engine.timers.run_due`: one transaction per due instance, claimed with
``FOR UPDATE SKIP LOCKED``, so any number of these loops (threads, processes, machines, or
Celery tasks, see ``engine/celery_app.py``) can run over one PostgreSQL database without
coordinating. Between passes a loop sleeps ``interval`` seconds: finding due work is one
indexed query, so polling costs nothing worth a scheduler.
"""
from __future__ import annotations

import logging
import signal
import threading

from . import timers
from .runtime import Runtime

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 5.0


class Worker:
    """Fires due timers until stopped; ``stop`` is checked between instances, so stopping
    always lets the current instance's transaction finish."""

    def __init__(self, runtime: Runtime, interval: float = DEFAULT_INTERVAL):
        self.runtime = runtime
        self.interval = interval
        self.stop = threading.Event()
        self.fired = 0

    def run(self, once: bool = False) -> int:
        """Run passes until stopped (or one pass with ``once``); return instances fired.

        A failing pass (say, the database is restarting) is logged and retried after the
        interval by a long-running worker; with ``once`` it is raised, so cron sees it.
        """
        while not self.stop.is_set():
            try:
                fired = timers.run_due(self.runtime, stop=self.stop)
                if fired:
                    log.info("fired timers of %d instances", fired)
                self.fired += fired
            except Exception:
                if once:
                    raise
                log.exception("due-work pass failed; retrying in %ss", self.interval)
            if once:
                break
            self.stop.wait(self.interval)
        return self.fired

    def stop_on_signals(self) -> None:
        """SIGTERM and SIGINT finish the instance in hand, then end the loop."""
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())


def start_background(runtime: Runtime, interval: float = DEFAULT_INTERVAL) -> Worker:
    """The embedded runner of `gridloop serve` (the single-machine default, SQLite): a daemon
    thread. If the process dies mid-instance, that transaction never commits; the next
    start fires the instance again from its stored state."""
    worker = Worker(runtime, interval)
    threading.Thread(target=worker.run, name="gridloop-due-work", daemon=True).start()
    return worker
