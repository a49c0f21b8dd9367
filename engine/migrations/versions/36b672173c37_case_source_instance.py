"""case.source_instance_id: the instance whose script reported the case (a patrol's
hazard_inspection), so the two link both ways

Revision ID: 36b672173c37
Revises: f2c8a4e61b37
Create Date: 2026-12-01 14:47:30
"""
from alembic import op
import sqlalchemy as sa


revision = '36b672173c37'
down_revision = 'f2c8a4e61b37'
branch_labels = None
depends_on = None

FK = 'fk_case_source_instance_id_process_instance'


def upgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.add_column(sa.Column('source_instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                   nullable=True))
        batch.create_index('ix_case_source_instance_id', ['source_instance_id'], unique=False)
        batch.create_foreign_key(FK, 'process_instance', ['source_instance_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('case') as batch:
        batch.drop_constraint(FK, type_='foreignkey')
        batch.drop_index('ix_case_source_instance_id')
        batch.drop_column('source_instance_id')
