"""Backing up and restoring the whole database while the app keeps running.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot
while other connections read and write. PostgreSQL: ``pg_dump --format=custom`` (one
consistent snapshot) and ``pg_restore`` in a single transaction, so a failed restore leaves
the target as it was. Either way the backup is written beside its destination and renamed
into place, so a half-written file never looks like a backup.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing

from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from .db import Database
from .errors import EngineError

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


class BackupError(EngineError):
    code = "backup_error"


def backup(db: Database, out: str) -> None:
    """Write a backup of ``db`` to the file ``out`` (replaced if it exists)."""
    partial = f"{out}.partial"
    try:
        if db.dialect == "sqlite":
            source = _sqlite_path(db)
            if not os.path.exists(source):
                raise BackupError(f"no SQLite database at {source}")
            _sqlite_copy(source, partial)
        else:
            _run(db, "pg_dump", "--format=custom", f"--file={partial}")
        os.replace(partial, out)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def restore(db: Database, path: str) -> None:
    """Restore the backup ``path`` into ``db``, which must be empty, then bring its schema
    up to this release (a backup made by an older release is migrated)."""
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    expected = SQLITE_MAGIC if db.dialect == "sqlite" else PG_DUMP_MAGIC
    if not head.startswith(expected):
        kind = "a SQLite database" if db.dialect == "sqlite" else "a pg_dump custom-format file (pg_dump -Fc)"
        raise BackupError(f"{path} is not {kind}: restore a backup made from the same kind of database")
    tables = inspect(db.engine).get_table_names()
    db.dispose()
    if tables:
        raise BackupError(f"the database to restore into is not empty ({len(tables)} tables): "
                          "restore into a new, empty database")
    if db.dialect == "sqlite":
        _sqlite_copy(path, _sqlite_path(db))
    else:
        _run(db, "pg_restore", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error", path)
    db.create_schema()


def _sqlite_path(db: Database) -> str:
    path = make_url(db.url).database
    if not path or path == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up or restored")
    return path


def _sqlite_copy(source: str, target: str) -> None:
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _run(db: Database, program: str, *args: str) -> None:
    """Run a PostgreSQL client program against ``db`` (the password goes in the environment,
    not on the command line where ``ps`` shows it)."""
    exe = shutil.which(program)
    if exe is None:
        raise BackupError(f"{program} not found on PATH: install the PostgreSQL client programs of the "
                          "server's major version or newer (Debian/Ubuntu: postgresql-client)")
    url = make_url(db.url)
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    conninfo = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    done = subprocess.run([exe, f"--dbname={conninfo}", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"{program} failed (exit {done.returncode}): {done.stderr.strip()}")
