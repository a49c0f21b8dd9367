"""Shared fixtures: a fresh database per test (SQLite always, PostgreSQL where configured)."""
from __future__ import annotations

import os

os.environ.setdefault("GRIDLOOP_PASSWORD_HASH_PROFILE", "CHEAPEST")  # seed dozens of users quickly
from datetime import datetime, timezone

import pytest
from alembic import command
from sqlalchemy import text

from gridloop.engine.clock import FrozenClock
from gridloop.engine.db import Database
from gridloop.engine.migrate import alembic_config
from gridloop.engine.model import Base
from gridloop.engine.runtime import Runtime

PG_URL = os.environ.get("GRIDLOOP_TEST_DATABASE_URL")
MODELS = os.path.join(os.path.dirname(__file__), "models")


def pytest_generate_tests(metafunc):
    """Tests asking for ``any_db`` run on SQLite and, when configured, on PostgreSQL too;
    tests asking for ``pg_db`` run only where PostgreSQL is configured (CI always is)."""
    if "any_db" in metafunc.fixturenames:
        metafunc.parametrize("any_db", ["sqlite", "postgresql"] if PG_URL else ["sqlite"], indirect=True)
    if "pg_db" in metafunc.fixturenames:
        metafunc.parametrize("pg_db", ["postgresql"] if PG_URL else [], indirect=True)


def _fresh(kind: str, tmp_path) -> Database:
    if kind == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/test.sqlite")
    else:
        db = Database(PG_URL)
        with db.engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    with db.engine.begin() as conn:  # faster than running every migration; marked as the newest
        Base.metadata.create_all(conn)
        command.stamp(alembic_config(conn), "head")
    return db


@pytest.fixture
def db(tmp_path):
    db = _fresh("sqlite", tmp_path)
    yield db
    db.dispose()


@pytest.fixture
def any_db(request, tmp_path):
    db = _fresh(request.param, tmp_path)
    yield db
    db.dispose()


@pytest.fixture
def pg_db(request, tmp_path):
    db = _fresh(request.param, tmp_path)
    yield db
    db.dispose()


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))  # Monday 09:00 in Shenyang


@pytest.fixture
def runtime(db, clock):
    return Runtime(db, clock=clock)
