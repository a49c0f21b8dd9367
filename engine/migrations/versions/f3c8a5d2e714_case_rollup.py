"""case_rollup (the figures' counts per day or month and cell; c8522e3ba134 fills it);
case indexes for a small area's closed cases and (PostgreSQL) the cases open at a cut-off

Revision ID: f3c8a5d2e714
Revises: e2b6f1a8c347
Create Date: 2026-12-01 12:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'f3c8a5d2e714'
down_revision = 'e2b6f1a8c347'
branch_labels = None
depends_on = None

COUNTS = ("cases", "valid", "contacted", "resolved", "satisfied", "basically", "on_time", "rework", "returned",
          "returns", "escalated", "level_2", "level_3", "level_4", "extended", "report_in")
BUCKETS = tuple(f"close_h{k:02d}" for k in range(29)) + tuple(f"report_in_h{k:02d}" for k in range(29))


def upgrade() -> None:
    op.create_table(
        'case_rollup',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
        sa.Column('grain', sa.String(length=5), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('period', sa.Date(), nullable=False),
        sa.Column('since', sa.Date(), nullable=False),
        sa.Column('org_path', sa.String(length=400), nullable=False),
        sa.Column('department', sa.String(length=40), nullable=False),
        sa.Column('category', sa.String(length=40), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        *[sa.Column(name, sa.Integer(), nullable=False, server_default='0') for name in COUNTS + BUCKETS],
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('grain', 'kind', 'period', 'since', 'org_path', 'department', 'category', 'source',
                            name='uq_case_rollup_cell'),
    )
    op.create_index('ix_case_path_closed', 'case', ['org_path', 'closed_at'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        op.create_index('ix_case_open_span', 'case', [sa.text("tstzrange(reported_at, closed_at, '(]')")],
                        unique=False, postgresql_using='gist', postgresql_where=sa.text("status = 'closed'"))
    # The cases stored so far are counted by c8522e3ba134 (the rollup's later shape).


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index('ix_case_open_span', table_name='case')
    op.drop_index('ix_case_path_closed', table_name='case')
    op.drop_table('case_rollup')
