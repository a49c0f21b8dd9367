"""case.external_ref: the case's number in the system it came from (the 12345 hotline's
ticket), unique per source

Revision ID: f2c8a4e61b37
Revises: e5b1c7d93a20
Create Date: 2026-12-01 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'f2c8a4e61b37'
down_revision = 'e5b1c7d93a20'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('external_ref', sa.String(length=64), nullable=True))
    op.create_index('uq_case_source_ref', 'case', ['source', 'external_ref'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_case_source_ref', table_name='case')
    with op.batch_alter_table('case') as batch:
        batch.drop_column('external_ref')
