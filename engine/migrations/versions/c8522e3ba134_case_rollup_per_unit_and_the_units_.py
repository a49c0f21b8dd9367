"""case_rollup counts each case for its own unit and every unit above it (an area's figures
read its own rows); an index for an area's rows; the rollup recounted from the cases

Revision ID: c8522e3ba134
Revises: f6925aab8f77
Create Date: 2026-12-01 15:00:57.191661
"""
from alembic import op
from sqlalchemy.orm import Session


revision = 'c8522e3ba134'
down_revision = 'f6925aab8f77'
branch_labels = None
depends_on = None


def _recount() -> None:
    from gridloop.engine import rollups
    from gridloop.engine.runtime import CALENDAR_FILE
    from gridloop.engine.workcalendar import WorkCalendar
    # Not the backlog: its table (and the case's suspended_at) come in later revisions.
    rollups.rebuild(Session(bind=op.get_bind()), WorkCalendar.from_file(CALENDAR_FILE).tz,
                    tables=("case_rollup",))


def upgrade() -> None:
    with op.batch_alter_table('case_rollup', schema=None) as batch_op:
        batch_op.create_index('ix_case_rollup_unit', ['org_path', 'kind', 'grain', 'period'], unique=False)
    _recount()


def downgrade() -> None:
    with op.batch_alter_table('case_rollup', schema=None) as batch_op:
        batch_op.drop_index('ix_case_rollup_unit')
    # The older code sums a subtree's rows, which now hold each case once per level: emptied,
    # for `gridloop rebuild-rollups` of that version to recount.
    op.execute("DELETE FROM case_rollup")
