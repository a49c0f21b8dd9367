"""The Alembic migrations build exactly the schema the models describe, on every backend."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from engine.db import Database
from engine.model import Base



def test_migrations_match_the_models(any_db):
    with any_db.engine.begin() as conn:  # the fixture made the tables with create_all: start empty
        Base.metadata.drop_all(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    any_db.create_schema()
    any_db.create_schema()  # running it again is a no-op
    with any_db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert "alembic_version" in inspect(any_db.engine).get_table_names()


def test_a_fresh_sqlite_file_gets_the_schema(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/fresh/gridloop.sqlite")
    db.create_schema()
    assert {"case", "task", "event", "process_instance"} <= set(inspect(db.engine).get_table_names())
    db.dispose()


def test_processes_starting_at_once_upgrade_the_schema_once(any_db):
    """Web processes and workers all run create_schema when they start."""
    import threading
    with any_db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))  # a create_all schema: adopted
    errors = []

    def start():
        db = Database(any_db.url)
        try:
            db.create_schema()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with any_db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar() == 1
