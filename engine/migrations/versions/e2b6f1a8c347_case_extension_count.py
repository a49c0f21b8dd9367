"""case.extension_count: approved extensions that moved the case's deadline

Revision ID: e2b6f1a8c347
Revises: e5b8c1d94a27
Create Date: 2026-12-01 11:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e2b6f1a8c347'
down_revision = 'e5b8c1d94a27'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('extension_count', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('extension_count')
