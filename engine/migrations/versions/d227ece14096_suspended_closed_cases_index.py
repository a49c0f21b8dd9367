"""The few closed cases that were suspended, indexed for suspension_rate (the figures read
them beside the rollup instead of counting every closed case of the period).

Revision ID: d227ece14096
Revises: 109c0732a5ee
Create Date: 2026-12-01 16:35:37.572850
"""
from alembic import op
import sqlalchemy as sa


revision = 'd227ece14096'
down_revision = '109c0732a5ee'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index('ix_case_suspended_closed', ['closed_at'], unique=False, postgresql_where=sa.text('suspension_count >= 1'), sqlite_where=sa.text('suspension_count >= 1'))



def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_suspended_closed', postgresql_where=sa.text('suspension_count >= 1'), sqlite_where=sa.text('suspension_count >= 1'))

