"""case.overdue_at: when the case-deadline timer found the case still open past due_at

Revision ID: d4e9a7c3b512
Revises: c4e8a2d61f35
Create Date: 2026-12-01 10:30:00
"""
from alembic import op
import sqlalchemy as sa
import gridloop.engine.model


revision = 'd4e9a7c3b512'
down_revision = 'c4e8a2d61f35'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('overdue_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_column('overdue_at')
