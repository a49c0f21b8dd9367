"""index of merges into a case: a case's load asks whether any request merges into it

Revision ID: ff17447ae542
Revises: 39873f649bbb
Create Date: 2026-12-01 21:12:53.583301
"""
from alembic import op

revision = 'ff17447ae542'
down_revision = '39873f649bbb'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_exception', schema=None) as batch_op:
        batch_op.create_index('ix_case_exception_original', ['original_case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_exception', schema=None) as batch_op:
        batch_op.drop_index('ix_case_exception_original')
