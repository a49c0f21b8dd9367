"""`gridloop backup` / `gridloop restore`: a database restored from a backup carries on its
open cases to closure; restores refuse what would mix or lose data."""
from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url

from gridloop.cli import main
from gridloop.engine.db import Database
from gridloop.engine.model import Case, Event, ProcessDefinition, ProcessInstance, Task
from gridloop.engine.runtime import Runtime

from .conftest import PG_URL
from .loop_driver import LoopDriver

RESOLVED = {"outcome": "resolved", "resolution": "Fixed on site"}


def gridloop(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"GRIDLOOP_DATABASE_URL": url})


@pytest.fixture
def target(any_db, tmp_path):
    """A new, empty database of the same kind as ``any_db``. On PostgreSQL a second database
    beside the test database, created here and dropped afterwards."""
    if any_db.dialect == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/restored/gridloop.sqlite")
        yield db
        db.dispose()
        return
    name = f"{make_url(PG_URL).database}_restore"
    assert re.fullmatch(r"[a-z_][a-z0-9_]*", name), name
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            pytest.fail(f"database {name} exists but this test did not create it: drop it and rerun")
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def snapshot(db: Database) -> dict:
    with db.reading() as s:
        return {
            "cases": s.execute(select(Case.id, Case.number, Case.stage, Case.status).order_by(Case.id)).all(),
            "instances": s.execute(select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.revision,
                                          ProcessInstance.next_timer_at).order_by(ProcessInstance.id)).all(),
            "tasks": s.execute(select(Task.id, Task.status, Task.assignee_id).order_by(Task.id)).all(),
            "events": s.scalar(select(func.count(Event.id))),
            "definitions": s.scalar(select(func.count(ProcessDefinition.id))),
        }


def destroy(db: Database) -> None:
    """Make the original database unusable: delete the SQLite file, empty the PostgreSQL schema."""
    if db.dialect == "sqlite":
        db.dispose()
        path = make_url(db.url).database
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)
    else:
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    assert "process_instance" not in inspect(db.engine).get_table_names()


def test_a_restored_database_carries_on_its_open_cases(any_db, target, clock, tmp_path):
    driver = LoopDriver(Runtime(any_db, clock=clock))
    at_acceptance = driver.report("acceptor1", source="hotline", category="power_outage")
    with_liaison = driver.report("grid1", category="power_outage")
    driver.step(with_liaison, "grid1", {"outcome": "whistle", "department": "power"})
    liaison_task = driver.open_task(with_liaison)
    driver.rt.claim(driver.ids["liaison_power"], liaison_task.id)  # she reported in, not done yet
    at_verification = driver.report("grid1")
    driver.step(at_verification, "grid1", RESOLVED)
    closed = driver.report("grid1")
    driver.step(closed, "grid1", RESOLVED)
    driver.close_after_resolution(closed)
    before = snapshot(any_db)

    backup_file = str(tmp_path / "gridloop.backup")
    made = gridloop(any_db.url, "backup", "--out", backup_file)
    assert made.exit_code == 0, made.output
    destroy(any_db)
    restored = gridloop(target.url, "restore", backup_file)
    assert restored.exit_code == 0, restored.output
    assert snapshot(target) == before

    carry_on = LoopDriver(Runtime(target, clock=clock), setup=False)  # nothing redeployed or reseeded
    carry_on.step(at_acceptance, "acceptor1", {"outcome": "accept"}, stage="acceptance")
    carry_on.step(at_acceptance, "grid1", RESOLVED, stage="grid_handling")
    carry_on.close_after_resolution(at_acceptance)
    task = carry_on.open_task(with_liaison)
    assert (task.id, task.status, task.assignee_id) == (liaison_task.id, "claimed", carry_on.ids["liaison_power"])
    carry_on.rt.complete_task(carry_on.ids["liaison_power"], task.id, RESOLVED)
    carry_on.close_after_resolution(with_liaison)
    carry_on.close_after_resolution(at_verification)
    new_case = carry_on.report("grid1")  # ids and sequences carried over too
    assert new_case > max(c.id for c in before["cases"])
    carry_on.step(new_case, "grid1", RESOLVED)
    carry_on.close_after_resolution(new_case)

    for case_id in (at_acceptance, with_liaison, at_verification, closed, new_case):
        assert (carry_on.case(case_id).status, carry_on.case(case_id).stage) == ("closed", "closed")
    after = snapshot(target)
    assert after["definitions"] == before["definitions"]
    assert all(status == "completed" for _id, status, *_ in after["instances"])
    assert all(status in ("completed", "cancelled") for _id, status, _a in after["tasks"])


def test_restore_refuses_a_database_that_is_not_empty(any_db, tmp_path):
    LoopDriver(Runtime(any_db)).report("grid1")
    backup_file = str(tmp_path / "gridloop.backup")
    assert gridloop(any_db.url, "backup", "--out", backup_file).exit_code == 0
    before = snapshot(any_db)
    refused = gridloop(any_db.url, "restore", backup_file)
    assert refused.exit_code == 1 and "not empty" in refused.output
    assert snapshot(any_db) == before


def test_restore_refuses_a_file_that_is_not_a_backup_of_its_kind(any_db, target, tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a backup")
    refused = gridloop(target.url, "restore", str(other))
    assert refused.exit_code == 1 and "notes.txt is not a" in refused.output
    assert inspect(target.engine).get_table_names() == []
    missing = gridloop(f"sqlite:///{tmp_path}/nowhere.sqlite", "backup", "--out", str(tmp_path / "b"))
    assert missing.exit_code == 1 and "no SQLite database at" in missing.output
    assert not os.path.exists(tmp_path / "b")


def test_without_pg_dump_on_path_the_error_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    failed = gridloop("postgresql+psycopg://gridloop@127.0.0.1:1/gridloop", "backup", "--out", str(tmp_path / "b"))
    assert failed.exit_code == 1 and "pg_dump not found on PATH" in failed.output
    assert "postgresql-client" in failed.output


def test_a_sqlite_backup_is_taken_while_a_writer_holds_its_transaction(db, tmp_path):
    """Online: the backup neither waits for nor includes another connection's uncommitted write."""
    LoopDriver(Runtime(db))
    path = make_url(db.url).database
    with closing(sqlite3.connect(path, isolation_level=None)) as writer:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO department (code, name) VALUES ('uncommitted', 'Uncommitted')")
        made = gridloop(db.url, "backup", "--out", str(tmp_path / "online.backup"))
        writer.execute("COMMIT")
    assert made.exit_code == 0, made.output
    with closing(sqlite3.connect(tmp_path / "online.backup")) as copy:
        codes = {code for (code,) in copy.execute("SELECT code FROM department")}
    assert "power" in codes and "uncommitted" not in codes
