"""case_backlog: the closed cases open at each local midnight per org unit and cell, overdue and
by age band (the figures' backlog at a past cut-off without reading case rows); filled from
the cases stored

Revision ID: a7e4c2b9d615
Revises: 24ddd11401d1
Create Date: 2026-12-01 17:40:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.orm import Session


revision = 'a7e4c2b9d615'
down_revision = '24ddd11401d1'
branch_labels = None
depends_on = None

COUNTS = ("cases", "overdue", "band_lt_1d", "band_1d_3d", "band_3d_7d", "band_ge_7d")


def upgrade() -> None:
    op.create_table(
        'case_backlog',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('org_path', sa.String(length=400), nullable=False),
        sa.Column('department', sa.String(length=40), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default='0') for name in COUNTS],
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('day', 'org_path', 'department', 'category', 'source', name='uq_case_backlog_cell'),
    )
    op.create_index('ix_case_backlog_unit', 'case_backlog', ['org_path', 'day'], unique=False)
    from gridloop.engine import rollups
    from gridloop.engine.runtime import CALENDAR_FILE
    from gridloop.engine.workcalendar import WorkCalendar
    rollups.rebuild(Session(bind=op.get_bind()), WorkCalendar.from_file(CALENDAR_FILE).tz, tables=("case_backlog",))


def downgrade() -> None:
    op.drop_index('ix_case_backlog_unit', table_name='case_backlog')
    op.drop_table('case_backlog')
