"""notifications: the transactional outbox, deliveries, user settings, webhooks

Revision ID: e5b1c7d93a20
Revises: 56e8105c5269
Create Date: 2026-12-01 11:50:00
"""
from alembic import op
import sqlalchemy as sa

from gridloop.engine.model import IdType, UTCDateTime


revision = 'e5b1c7d93a20'
down_revision = '56e8105c5269'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_event',
        sa.Column('id', IdType, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('case_id', IdType, nullable=True),
        sa.Column('task_id', sa.String(length=36), nullable=True),
        sa.Column('actor_id', IdType, nullable=True),
        sa.Column('payload', sa.JSON(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('expanded_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id']),
        sa.ForeignKeyConstraint(['actor_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_outbox_event_pending', 'outbox_event', ['expanded_at', 'id'])
    op.create_table(
        'webhook',
        sa.Column('id', IdType, nullable=False),
        sa.Column('url', sa.String(length=400), nullable=False),
        sa.Column('secret', sa.String(length=128), nullable=False),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('user_id', IdType, nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_by', sa.String(length=80), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_webhook_user_id', 'webhook', ['user_id'])
    op.create_table(
        'notification',
        sa.Column('id', IdType, nullable=False),
        sa.Column('event_id', IdType, nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('user_id', IdType, nullable=True),
        sa.Column('webhook_id', IdType, nullable=True),
        sa.Column('target', sa.String(length=400), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=True),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('sent_at', UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['event_id'], ['outbox_event.id']),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_notification_event_id', 'notification', ['event_id'])
    op.create_index('ix_notification_due', 'notification', ['status', 'next_attempt_at'])
    op.create_index('ix_notification_user', 'notification', ['user_id', 'id'])
    op.create_table(
        'notification_setting',
        sa.Column('user_id', IdType, nullable=False),
        sa.Column('email', sa.String(length=254), nullable=True),
        sa.Column('language', sa.String(length=8), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['app_user.id']),
        sa.PrimaryKeyConstraint('user_id'),
    )


def downgrade() -> None:
    op.drop_table('notification_setting')
    op.drop_index('ix_notification_user', table_name='notification')
    op.drop_index('ix_notification_due', table_name='notification')
    op.drop_index('ix_notification_event_id', table_name='notification')
    op.drop_table('notification')
    op.drop_index('ix_webhook_user_id', table_name='webhook')
    op.drop_table('webhook')
    op.drop_index('ix_outbox_event_pending', table_name='outbox_event')
    op.drop_table('outbox_event')
