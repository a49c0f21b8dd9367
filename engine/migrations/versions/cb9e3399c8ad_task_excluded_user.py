"""task.excluded_user_id: the user a task is not offered to though she is a candidate (its
``notBy``: whoever resolved a case never verifies it)

Revision ID: cb9e3399c8ad
Revises: 31cb86918794
Create Date: 2026-12-01 15:04:55
"""
from alembic import op
import sqlalchemy as sa


revision = 'cb9e3399c8ad'
down_revision = '31cb86918794'
branch_labels = None
depends_on = None

FK = 'fk_task_excluded_user_id_app_user'


def upgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.add_column(sa.Column('excluded_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                   nullable=True))
        batch.create_foreign_key(FK, 'app_user', ['excluded_user_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('task') as batch:
        batch.drop_constraint(FK, type_='foreignkey')
        batch.drop_column('excluded_user_id')
