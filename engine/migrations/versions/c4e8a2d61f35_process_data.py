"""process data: the instance's current data and each task's input data, as JSON text

Revision ID: c4e8a2d61f35
Revises: b7d2e4a19c30
Create Date: 2026-12-01 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e8a2d61f35'
down_revision = 'b7d2e4a19c30'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('process_instance', sa.Column('data', sa.Text(), nullable=True))
    op.add_column('task', sa.Column('input', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('task', 'input')
    op.drop_column('process_instance', 'data')
