"""Drives closed-loop cases through the engine as the demo users, for the engine tests."""
from __future__ import annotations

import os
from datetime import datetime

from sqlalchemy import select

from gridloop.engine import inbox_plan, org
from gridloop.engine.clock import FrozenClock
from gridloop.engine.db import Database
from gridloop.engine.model import Case, Event, Task, User
from gridloop.engine.runtime import Runtime
from gridloop.engine.seed import seed_demo

from .conftest import MODELS

GRID1 = "21010200101001"
GRID2 = "21010200101002"


class LoopDriver:
    def __init__(self, runtime: Runtime, setup: bool = True):
        """``setup``: deploy the workflows and seed the demo users (off for a database that
        already holds them, e.g. a restored backup)."""
        self.rt = runtime
        if setup:
            runtime.deploy()
            with runtime.db.transaction() as s:
                seed_demo(s)
        with runtime.db.reading() as s:
            self.ids = dict(s.execute(select(User.username, User.id)).all())

    def report(self, username: str = "grid1", **fields) -> int:
        report = {"title": "Gas smell in stairwell 3", "description": "Residents smell gas on floor 4",
                  "category": "garbage", "source": "patrol", "grid": GRID1,
                  "reporter": {"name": "张三", "phone": "13800000000"},
                  "location": {"address": "和平区民主社区3号楼", "lat": 41.79, "lon": 123.4}}
        report.update(fields)
        return self.rt.report_case(self.ids[username], report).id

    def actor(self, username: str) -> org.Actor:
        with self.rt.db.reading() as s:
            return org.actor(s, self.ids[username])

    def open_task(self, case_id: int) -> Task:
        with self.rt.db.reading() as s:
            tasks = list(s.scalars(select(Task).where(Task.case_id == case_id, Task.status.in_(("open", "claimed")))))
        assert len(tasks) == 1, f"expected one open task, got {[t.element_id for t in tasks]}"
        return tasks[0]

    def claimable(self, username: str) -> list[str]:
        """Ids of the tasks in this user's claimable queue."""
        with self.rt.db.reading() as s:
            items, _ = inbox_plan.inbox(s, self.actor(username), "claimable", now=self.rt.clock.now(), per_page=200)
        return [t["id"] for t in items]

    def step(self, case_id: int, username: str, data: dict, *, stage: str | None = None, claim: bool = True) -> Task:
        task = self.open_task(case_id)
        if stage is not None:
            assert task.stage == stage, f"expected stage {stage}, task is {task.element_id} ({task.stage})"
        assert task.id in self.claimable(username), f"{username} does not see {task.element_id}"
        if claim:
            self.rt.claim(self.ids[username], task.id)
        self.rt.complete_task(self.ids[username], task.id, data)
        return task

    def case(self, case_id: int) -> Case:
        with self.rt.db.reading() as s:
            return s.get(Case, case_id)

    def events(self, case_id: int) -> list[str]:
        with self.rt.db.reading() as s:
            return list(s.scalars(select(Event.type).where(Event.case_id == case_id).order_by(Event.id)))

    def stage_path(self, case_id: int) -> list[tuple[str, str]]:
        """(from, to) of every stage change, in order."""
        with self.rt.db.reading() as s:
            payloads = s.scalars(select(Event.payload).where(Event.case_id == case_id, Event.type == "stage_changed")
                                 .order_by(Event.id))
            return [(p["from"], p["to"]) for p in payloads]

    def verifier(self, case_id: int) -> str:
        """Who verifies (verification.dmn): the community for a case the grid resolved."""
        return "community1" if self.open_task(case_id).role == "coordinator" else "grid1"

    def close_after_resolution(self, case_id: int, satisfaction: str = "satisfied") -> None:
        self.step(case_id, self.verifier(case_id), {"outcome": "passed"}, stage="verification")
        self.step(case_id, "acceptor1", {"contacted": True, "resolved": True, "satisfaction": satisfaction},
                  stage="feedback")


def frozen_loop(db: Database, start: datetime, model: str) -> LoopDriver:
    """A LoopDriver whose clock stands at ``start`` until the test moves it, with ``model`` (a
    file of tests/models/) deployed beside the shipped workflows."""
    loop = LoopDriver(Runtime(db, clock=FrozenClock(start)))
    with open(os.path.join(MODELS, model), "rb") as fh:
        loop.rt.deploy(sources={model: fh.read()})
    return loop
