"""The Alembic migrations build exactly the schema the models describe, on every backend."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from gridloop.engine.caseprojection import CaseProjection
from gridloop.engine.casestages import CaseStages
from gridloop.engine.db import Database
from gridloop.engine.migrate import alembic_config, objects_for
from gridloop.engine.model import Base
from gridloop.engine.records import insert_events



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


def test_upgrading_gives_the_closed_loop_versions_before_the_projection_theirs(any_db):
    """Versions deployed while the engine applied closed_loop's projection from Python get it
    as properties (engine/caseprojection.py reads nothing else); any other is left alone."""
    with any_db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        command.upgrade(alembic_config(conn), "d227ece14096")
        for version, (key, properties) in enumerate((
                ("closed_loop", '{"caseProcess": "true", "starters": "acceptor"}'),
                ("closed_loop", '{"caseProcess": "true", "caseVariables": "category"}'),
                ("merged_callback", '{"startedByEngine": "true"}'), ("p", '{"caseProcess": "true"}'))):
            conn.execute(text("INSERT INTO process_definition (key, version, content_hash, sources, forms, properties, "
                              "spec, deployed_at) VALUES (:k, :v, 'h', '{}', '{}', :p, '', CURRENT_TIMESTAMP)"),
                         {"k": key, "v": version + 1, "p": properties})
    any_db.create_schema()
    with any_db.engine.connect() as conn:
        rows = conn.execute(text("SELECT key, version, properties FROM process_definition ORDER BY id")).all()
    found = [(key, version, json.loads(p) if isinstance(p, str) else p) for key, version, p in rows]
    old, own, merged, other = (CaseProjection.of(p) for _k, _v, p in found)
    assert found[0][2]["starters"] == "acceptor"
    assert (old.variables["rework_count"], old.first_entered["department_handling"], old.claimed_at,
            old.last_entered["feedback"], old.feedback_stage) == (
        "rework_count", "whistled_at", {"department_handling": "claimed_at"}, "verified_at", "feedback")
    assert own.variables == {"category": "category"} and own.first_entered == {}
    assert (merged.feedback_stage, merged.feedback_fields["comment"], merged.variables) == (
        "feedback", "feedback_comment", {})
    assert other == CaseProjection(case_process=True)


def test_upgrading_gives_the_closed_loop_versions_before_their_stage_properties_the_codes(any_db):
    """closed_loop's versions deployed while Python named its stages (pages, citizens' words,
    the 12345 export's handling stages, photo kinds) get those as properties; any other is
    left alone."""
    with any_db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        command.upgrade(alembic_config(conn), "e1a7c3f90b52")
        for version, (key, properties) in enumerate((
                ("closed_loop", '{"caseProcess": "true", "feedbackStage": "feedback"}'),
                ("closed_loop", '{"caseProcess": "true", "citizenStages": "closed=done"}'),
                ("p", '{"caseProcess": "true"}'))):
            conn.execute(text("INSERT INTO process_definition (key, version, content_hash, sources, forms, properties, "
                              "spec, deployed_at) VALUES (:k, :v, 'h', '{}', '{}', :p, '', CURRENT_TIMESTAMP)"),
                         {"k": key, "v": version + 1, "p": properties})
    any_db.create_schema()
    with any_db.engine.connect() as conn:
        rows = conn.execute(text("SELECT properties FROM process_definition ORDER BY id")).all()
    old, own, other = (CaseStages.of(json.loads(p) if isinstance(p, str) else p) for (p,) in rows)
    assert (old.labels["department_handling"], old.labels["callback_retry"]) == (
        ("部门报到处置", "Department handling"), ("待再次回访", "Calling again"))
    assert (old.citizen_status("feedback"), old.citizen_status("grid_handling"), old.handling) == (
        "awaiting_feedback", "in_progress", ("grid_handling", "department_handling"))
    assert "callback_retry" not in old.tasks and "verification" in old.tasks
    assert [old.photo_kind(stage) for stage in ("acceptance", "verification", "grid_handling")] == [
        "report", "verification", "resolution"]
    assert own == CaseStages(citizen={"closed": "done"}, photo_kinds=old.photo_kinds) and other == CaseStages()


def test_the_migrated_schema_copies_notified_events_into_the_outbox(any_db):
    """The outbox is written by a trigger (engine/model.py OUTBOX_TRIGGER): the migrations make
    it as create_all does, and an event the engine recorded without an actor is credited to
    the command's."""
    with any_db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    any_db.create_schema()
    with any_db.engine.begin() as conn:
        conn.execute(text("INSERT INTO app_user (username, display_name, password_hash, roles, active) "
                          "VALUES ('u1', 'U', 'x', '[]', true)"))
        user = conn.execute(text("SELECT id FROM app_user")).scalar_one()
    with any_db.transaction() as s:
        insert_events(s, [{"instance_id": None, "case_id": None, "task_id": "t1", "type": type_, "actor_id": actor,
                           "at": datetime(2027, 1, 4, tzinfo=timezone.utc), "payload": {"n": n}, "caused_by_id": None}
                          for n, (type_, actor) in enumerate((("task_completed", user), ("task_created", None),
                                                               ("case_closed", user)))])
    with any_db.engine.connect() as conn:
        rows = conn.execute(text("SELECT kind, task_id, actor_id, payload FROM outbox_event ORDER BY id")).all()
    assert [(kind, task, actor, json.loads(p) if isinstance(p, str) else p) for kind, task, actor, p in rows] == [
        ("task_offered", "t1", user, {"n": 1}), ("case_closed", "t1", user, {"n": 2})]
