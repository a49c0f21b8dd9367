"""residents: places (compounds, buildings), grid boundaries, Open311 clients, status links

Revision ID: 56e8105c5269
Revises: f3c8a5d2e714
Create Date: 2026-12-01 11:28:13
"""
from alembic import op
import sqlalchemy as sa
import gridloop.engine.model


revision = '56e8105c5269'
down_revision = 'f3c8a5d2e714'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('open311_client',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    sa.UniqueConstraint('name')
    )
    op.create_table('place',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=True),
    sa.Column('parent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('grid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('address', sa.String(length=200), nullable=False),
    sa.Column('lat', sa.Float(), nullable=True),
    sa.Column('lon', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['grid_id'], ['org_unit.id'], ),
    sa.ForeignKeyConstraint(['parent_id'], ['place.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_place_grid_id'), ['grid_id'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_token', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_case_status_token', ['status_token'])

    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('boundary', sa.JSON(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('org_unit', schema=None) as batch_op:
        batch_op.drop_column('boundary')

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_constraint('uq_case_status_token', type_='unique')
        batch_op.drop_column('status_token')

    with op.batch_alter_table('place', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_place_grid_id'))

    op.drop_table('place')
    op.drop_table('open311_client')
