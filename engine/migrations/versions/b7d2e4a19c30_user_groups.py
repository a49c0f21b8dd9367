"""user groups: named sets of users that lanes and process properties can name

Members carry the group's name in ``app_user.roles``; this table lists the groups an
administrator made (so a name is known even while nobody is in it).

Revision ID: b7d2e4a19c30
Revises: c7d2e8a41f90
Create Date: 2026-12-01 09:00:00
"""
from alembic import op
import sqlalchemy as sa

import gridloop.engine.model


revision = 'b7d2e4a19c30'
down_revision = 'c7d2e8a41f90'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_group',
                    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
                    sa.Column('name', sa.String(length=40), nullable=False),
                    sa.Column('title', sa.String(length=120), nullable=True),
                    sa.Column('created_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
                    sa.Column('created_by', sa.String(length=80), nullable=True),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('name'))


def downgrade() -> None:
    op.drop_table('user_group')
