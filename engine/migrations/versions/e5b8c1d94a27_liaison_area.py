"""liaison_area: the grids, communities and streets each department liaison serves

Revision ID: e5b8c1d94a27
Revises: d4e9a7c3b512
Create Date: 2026-12-01 11:45:00
"""
from alembic import op
import sqlalchemy as sa

import gridloop.engine.model


revision = 'e5b8c1d94a27'
down_revision = 'd4e9a7c3b512'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('liaison_area',
                    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('org_unit_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('bound_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
                    sa.ForeignKeyConstraint(['org_unit_id'], ['org_unit.id']),
                    sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
                    sa.PrimaryKeyConstraint('user_id', 'org_unit_id'))
    op.create_index('ix_liaison_area_org_unit_id', 'liaison_area', ['org_unit_id'])


def downgrade() -> None:
    op.drop_index('ix_liaison_area_org_unit_id', table_name='liaison_area')
    op.drop_table('liaison_area')
