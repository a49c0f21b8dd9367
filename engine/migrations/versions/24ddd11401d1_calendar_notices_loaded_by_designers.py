"""Calendar notices (State Council holiday notices) loaded by designers, kept for every process to read.

Revision ID: 24ddd11401d1
Revises: d227ece14096
Create Date: 2026-12-01 17:24:19.946322
"""
from alembic import op
import sqlalchemy as sa
import gridloop.engine.model


revision = '24ddd11401d1'
down_revision = 'd227ece14096'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_notice',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('notice', sa.JSON(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('loaded_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('loaded_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['loaded_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('calendar_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_notice_year'), ['year'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('calendar_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_notice_year'))

    op.drop_table('calendar_notice')
