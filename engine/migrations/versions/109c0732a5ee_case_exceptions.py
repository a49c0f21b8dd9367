"""case_exception: extension, suspension, void and merge requests; the case's suspension and merge columns

Revision ID: 109c0732a5ee
Revises: cb9e3399c8ad
Create Date: 2026-12-01 14:35:47.630957
"""
from alembic import op
import sqlalchemy as sa
import gridloop.engine.model


revision = '109c0732a5ee'
down_revision = 'cb9e3399c8ad'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('case_exception',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('approval_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('until', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True),
    sa.Column('days', sa.Integer(), nullable=True),
    sa.Column('original_case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('requested_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('decided_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decision_note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['approval_instance_id'], ['process_instance.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['decided_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['original_case_id'], ['case.id'], ),
    sa.ForeignKeyConstraint(['requested_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('case_exception', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_exception_approval_instance_id'), ['approval_instance_id'], unique=False)
        batch_op.create_index('ix_case_exception_case', ['case_id', 'kind', 'status'], unique=False)

    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('suspension_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('suspended_at', gridloop.engine.model.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('merged_into_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True))
        batch_op.create_foreign_key('fk_case_merged_into', 'case', ['merged_into_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_constraint('fk_case_merged_into', type_='foreignkey')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('suspension_count')

    with op.batch_alter_table('case_exception', schema=None) as batch_op:
        batch_op.drop_index('ix_case_exception_case')
        batch_op.drop_index(batch_op.f('ix_case_exception_approval_instance_id'))

    op.drop_table('case_exception')
