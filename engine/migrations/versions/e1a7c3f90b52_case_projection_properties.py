"""closed_loop's and merged_callback's versions deployed before the case projection was the
BPMN's get the projection they had then (engine/caseprojection.py)

Until now the engine applied closed_loop's projection (which variables fill which case
columns, the stage timestamps, the feedback stage and answers) to every process, from Python
constants; it is now read from each version's process properties. The versions deployed
before carry none, so their running instances would stop filling their cases: this writes
those constants, as they were, into the properties of those versions. Versions that declare
a projection of their own, and any other process, are left as they are.

Revision ID: e1a7c3f90b52
Revises: a7e4c2b9d615
Create Date: 2026-12-01 17:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e1a7c3f90b52'
down_revision = 'a7e4c2b9d615'
branch_labels = None
depends_on = None

_FEEDBACK = {"feedbackStage": "feedback",
             "feedbackFields": "contacted=feedback_contacted, resolved=feedback_resolved, satisfaction, "
                               "comment=feedback_comment"}
_CLOSED_LOOP = {"caseVariables": "category, urgency, department, escalation_level, consult_unit, rework_count, "
                                 "return_count, timeout_count, satisfaction",
                "stageTimestamps": "grid_handling=dispatched_at, department_handling=whistled_at",
                "stageTimestampsLatest": "verification=resolved_at, feedback=verified_at",
                "claimTimestamps": "department_handling=claimed_at", **_FEEDBACK}
_ADDED = {"closed_loop": _CLOSED_LOOP, "merged_callback": _FEEDBACK}
_DEFINITION = sa.table("process_definition", sa.column("id", sa.BigInteger), sa.column("key", sa.String),
                       sa.column("properties", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_DEFINITION.c.id, _DEFINITION.c.key, _DEFINITION.c.properties)
                        .where(_DEFINITION.c.key.in_(list(_ADDED)))).all()
    for row in rows:
        properties = dict(row.properties or {})
        if any(name in properties for name in _CLOSED_LOOP):
            continue  # declares its own
        if row.key == "closed_loop" and str(properties.get("caseProcess", "")).lower() != "true":
            continue
        bind.execute(sa.update(_DEFINITION).where(_DEFINITION.c.id == row.id)
                     .values(properties={**properties, **_ADDED[row.key]}))


def downgrade() -> None:
    pass  # the engine before ignores these properties
