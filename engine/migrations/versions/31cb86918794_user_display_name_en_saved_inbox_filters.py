"""Users get an English display name (pages show one language); saved inbox filters per user.

Revision ID: 31cb86918794
Revises: c8522e3ba134
Create Date: 2026-12-01 14:36:06.769408
"""
from alembic import op
import sqlalchemy as sa
import gridloop.engine.model


revision = '31cb86918794'
down_revision = 'c8522e3ba134'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('saved_filter',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('scope', sa.String(length=20), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'name', name='uq_saved_filter_user_name')
    )
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name_en', sa.String(length=120), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('display_name_en')

    op.drop_table('saved_filter')
