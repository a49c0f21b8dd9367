"""incidents: instances that cannot go on by themselves

Revision ID: b7d41c2e9a10
Revises: a3c9e1f07b21
Create Date: 2026-12-01 09:30:00
"""
from alembic import op
import sqlalchemy as sa

from gridloop.engine.model import IdType, UTCDateTime


revision = 'b7d41c2e9a10'
down_revision = 'a3c9e1f07b21'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'incident',
        sa.Column('id', IdType, nullable=False),
        sa.Column('instance_id', IdType, nullable=False),
        sa.Column('case_id', IdType, nullable=True),
        sa.Column('org_path', sa.String(length=400), nullable=True),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('element', sa.String(length=120), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolved_by_id', IdType, nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id']),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_incident_instance_id', 'incident', ['instance_id'])
    op.create_index('ix_incident_status', 'incident', ['status', 'id'])


def downgrade() -> None:
    op.drop_index('ix_incident_status', table_name='incident')
    op.drop_index('ix_incident_instance_id', table_name='incident')
    op.drop_table('incident')
