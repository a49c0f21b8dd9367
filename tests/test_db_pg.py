"""Pooled PostgreSQL connections: one that rested is pinged before use, so a server-side
disconnect costs no request; one used moments ago is not, so commands skip that round trip."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from gridloop.engine import db as db_module


def _backend_pid(db) -> int:
    with db.reading() as s:
        return s.execute(text("SELECT pg_backend_pid()")).scalar_one()


@pytest.fixture
def pings(pg_db, monkeypatch) -> list[int]:
    calls: list[int] = []
    original = pg_db.engine.dialect.do_ping
    monkeypatch.setattr(pg_db.engine.dialect, "do_ping", lambda conn: calls.append(1) or original(conn))
    return calls


def test_a_connection_killed_while_resting_is_replaced(pg_db, pings, monkeypatch):
    pid = _backend_pid(pg_db)
    admin = create_engine(pg_db.url, poolclass=NullPool)
    with admin.connect() as conn:  # the server drops the pooled connection
        assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()
    admin.dispose()
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE", 0.0)  # as if it had rested long enough
    assert _backend_pid(pg_db) != pid  # pinged, found dead, reconnected: the read just works
    assert pings


def test_a_connection_used_moments_ago_is_not_pinged(pg_db, pings):
    first = _backend_pid(pg_db)
    assert _backend_pid(pg_db) == first
    with pg_db.transaction() as s:
        s.execute(text("SELECT 1"))
    assert pings == []
