"""The Alembic migrations build exactly the schema the models describe, on every backend."""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from gridloop.engine.db import Database
from gridloop.engine.migrate import alembic_config, objects_for
from gridloop.engine.model import Base



def test_migrations_match_the_models(any_db):
    with any_db.engine.begin() as conn:  # the fixture made the tables with create_all: start empty
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE alembic_version"))
    any_db.create_schema()
    any_db.create_schema()  # running it again is a no-op
    with any_db.engine.connect() as conn:
        opts = {"compare_type": True, "include_object": objects_for(conn.dialect.name)}
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), Base.metadata)
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
    with any_db.engine.begin() as conn:  # an empty database
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
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


def test_upgrading_keeps_waiting_messages_and_makes_them_findable(pg_db):
    """The correlation migrations convert stored rows in place (PostgreSQL: JSON to JSONB, then
    marked as catching any BPMN correlation)."""
    with pg_db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        command.upgrade(alembic_config(conn), "f55b6036f4d5")
        conn.execute(text("INSERT INTO process_definition (key, version, content_hash, sources, forms, properties, "
                          "spec, deployed_at) VALUES ('p', 1, 'h', '{}', '{}', '{}', '', now())"))
        conn.execute(text("INSERT INTO process_instance (definition_id, key, status, state, revision, started_at) "
                          "SELECT id, 'p', 'running', '', 1, now() FROM process_definition"))
        conn.execute(text("INSERT INTO message_wait (instance_id, name, kind, correlation) SELECT id, 'paid', "
                          "'message', CAST('{\"order_no\": \"A-1\", \"n\": 2}' AS JSON) FROM process_instance"))
    pg_db.create_schema()
    with pg_db.engine.connect() as conn:
        found = conn.execute(text("SELECT correlation FROM message_wait WHERE correlation @> CAST(:c AS JSONB)"),
                             {"c": '{"order_no": "A-1", "@any": true}'}).scalars().all()
    assert found == [{"order_no": "A-1", "n": 2, "@any": True}]  # a message wait of before: catches any
