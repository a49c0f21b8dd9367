"""`gridloop calendar load`: the notice another process loads is the one the running engine
counts on; its year's open provisional deadlines move, a bad file or a non-designer changes
nothing. On SQLite and PostgreSQL."""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from click.testing import CliRunner
from sqlalchemy import func, select

from gridloop.cli import main
from gridloop.engine import timers
from gridloop.engine.model import CalendarNotice, Case, Event, Task, User
from gridloop.engine.runtime import Runtime

from .conftest import MODELS
from .web.conftest import deployed_and_seeded, report_body

NOTICE = os.path.join(MODELS, "notice_2027.json")


def _state(world, case_id: int) -> tuple:
    with world.db.reading() as s:
        task_due = s.scalar(select(Task.due_at).where(Task.case_id == case_id, Task.status == "open"))
        return s.get(Case, case_id).due_at.isoformat(), task_due.isoformat() if task_due else None


def test_calendar_load_moves_what_the_running_engine_counts_on(any_db, clock, monkeypatch, tmp_path):
    world = deployed_and_seeded(Runtime(any_db, clock=clock))
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", any_db.engine.url.render_as_string(hide_password=False))
    clock.set(datetime(2027, 2, 1, 2, 0, tzinfo=timezone.utc))  # Monday 10:00 in Shenyang, no 2027 notice
    with world.db.reading() as s:
        grid1 = s.scalar(select(User.id).where(User.username == "grid1"))
    case = world.report_case(grid1, report_body())
    assert _state(world, case.id) == ("2027-02-16T02:00:00+00:00", "2027-02-12T02:00:00+00:00")
    runner = CliRunner()

    bad = tmp_path / "bad.json"
    with open(NOTICE, encoding="utf-8") as fh:
        bad.write_text(json.dumps({**json.load(fh), "workdays": ["2027-02-17"]}))
    refused = runner.invoke(main, ["calendar", "load", str(bad), "--user", "designer1"])
    assert refused.exit_code == 1
    assert "workdays[0]: 2027-02-17 is a Wednesday, a working day already" in refused.output
    forbidden = runner.invoke(main, ["calendar", "load", NOTICE, "--user", "grid1"])
    assert forbidden.exit_code == 1 and "only process designers" in forbidden.output
    with world.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(CalendarNotice)) == 0
    assert _state(world, case.id) == ("2027-02-16T02:00:00+00:00", "2027-02-12T02:00:00+00:00")

    done = runner.invoke(main, ["calendar", "load", NOTICE, "--user", "designer1"])
    assert done.exit_code == 0, done.output
    assert done.output.startswith("2027 notice loaded") and "2 due time(s) moved" in done.output
    assert _state(world, case.id) == ("2027-02-18T02:00:00+00:00", "2027-02-16T02:00:00+00:00")
    with world.db.reading() as s:
        loaded = s.scalars(select(Event).where(Event.type == "calendar_notice_loaded")).one()
        assert loaded.actor.username == "designer1" and loaded.payload["year"] == 2027
    # this process counts on the loaded notice too: a report now is no longer provisional
    report = world.report_case(grid1, report_body())
    with world.db.reading() as s:
        assert s.scalar(select(func.count()).select_from(Event).where(
            Event.type == "deadline_provisional", Event.case_id == report.id)) == 0
    assert _state(world, report.id)[1] == "2027-02-16T02:00:00+00:00"
    clock.set(datetime(2027, 2, 12, 2, 0, 1, tzinfo=timezone.utc))  # the old due time: nothing fires
    assert timers.run_due(world) == 0
    clock.set(datetime(2027, 2, 16, 2, 0, 1, tzinfo=timezone.utc))
    assert timers.run_due(world) == 2  # both grid tasks' limits pass now
    assert _state(world, case.id)[1] != "2027-02-16T02:00:00+00:00"  # escalated: a new task
