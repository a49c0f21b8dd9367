"""message correlation values as JSONB with a GIN index (PostgreSQL)

Senders find the instances waiting for a message with ``correlation @> {...}``; on SQLite
the column stays JSON and nothing changes.

Revision ID: a3c9e1f07b21
Revises: f55b6036f4d5
Create Date: 2026-11-29 15:50:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'a3c9e1f07b21'
down_revision = 'f55b6036f4d5'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.alter_column('message_wait', 'correlation', type_=postgresql.JSONB(), existing_type=sa.JSON(),
                    existing_nullable=False, postgresql_using='correlation::jsonb')
    op.create_index('ix_message_wait_correlation', 'message_wait', ['correlation'], unique=False,
                    postgresql_using='gin', postgresql_ops={'correlation': 'jsonb_path_ops'})


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index('ix_message_wait_correlation', table_name='message_wait')
    op.alter_column('message_wait', 'correlation', type_=sa.JSON(), existing_type=postgresql.JSONB(),
                    existing_nullable=False, postgresql_using='correlation::json')
