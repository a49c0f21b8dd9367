"""the case's deadline (due_at), first whistle time, and indexes for the figures

Revision ID: c7d2e8a41f90
Revises: c71d2e5a9b40
Create Date: 2026-12-01 09:20:00
"""
from alembic import op
import sqlalchemy as sa

import gridloop.engine.model


revision = 'c7d2e8a41f90'
down_revision = 'c71d2e5a9b40'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('whistled_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('due_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True))
    op.create_index('ix_case_closed', 'case', ['closed_at'], unique=False)
    op.create_index('ix_case_reported', 'case', ['reported_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_reported', table_name='case')
    op.drop_index('ix_case_closed', table_name='case')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('due_at')
        batch.drop_column('whistled_at')
