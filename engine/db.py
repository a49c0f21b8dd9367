"""Database connections and the one-transaction-per-command boundary. JSON columns are
written by engine/jsontext.py."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from typing import Any, Iterator, cast

from sqlalchemy import CursorResult, Executable, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from . import jsontext

DEFAULT_URL = "sqlite:///instance/gridloop.sqlite"
PING_AFTER_IDLE = 10.0  # seconds a pooled server connection may rest before it is checked


def database_url() -> str:
    return os.environ.get("GRIDLOOP_DATABASE_URL", DEFAULT_URL)


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    """SQLite with WAL; write transactions start with BEGIN IMMEDIATE so two commands
    never both read and then fail to upgrade their lock (SQLITE_BUSY_SNAPSHOT)."""
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                           json_serializer=jsontext.dumps)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _server_engine(url: str) -> Engine:
    """A pooled engine for a database server. A connection that rested in the pool for a
    while is pinged before use (a restarted server is noticed and the pool refilled); one
    used moments ago is not, which spares every command a round trip."""
    engine = create_engine(url, pool_size=10, max_overflow=20, json_serializer=jsontext.dumps)

    @event.listens_for(engine.pool, "checkin")
    def _checked_in(_dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _checked_out(dbapi_conn: DBAPIConnection, record: ConnectionPoolEntry, _proxy: PoolProxiedConnection) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc  # the pool reconnects

    return engine


def affected(s: Session | Connection, statement: Executable, params: dict[str, Any] | None = None) -> int:
    """Run an UPDATE or DELETE; the rows it changed (SQLAlchemy types the result of
    ``execute`` as any result, without ``rowcount``)."""
    return cast("CursorResult[Any]", s.execute(statement, params)).rowcount


class Database:
    """Holds a write engine and a read engine: on SQLite a second engine whose transactions
    are deferred, elsewhere the same pool with reads in autocommit."""

    def __init__(self, url: str | None = None):
        self.url = url or database_url()
        if self.url.startswith("sqlite"):
            path = self.url.split("///", 1)[-1]
            if path and path != ":memory:" and os.path.dirname(path):
                os.makedirs(os.path.dirname(path), exist_ok=True)
            self.engine = _sqlite_engine(self.url, immediate=True)
            self.read_engine = _sqlite_engine(self.url, immediate=False)
        else:
            self.engine = _server_engine(self.url)
            # Reads run in autocommit: under READ COMMITTED every statement takes its own
            # snapshot anyway, so a read gains nothing from BEGIN/COMMIT but two round trips.
            self.read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._write = sessionmaker(self.engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One command = one transaction: commit on success, roll back on any error."""
        with self._write() as session, session.begin():
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only session for queries (never writes, never deserializes workflows)."""
        with self._read() as session, session.begin():
            yield session

    def create_schema(self) -> None:
        """Create or upgrade the schema with the Alembic migrations (idempotent)."""
        from .migrate import upgrade
        upgrade(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine.pool is not self.engine.pool:
            self.read_engine.dispose()
