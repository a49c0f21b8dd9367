"""message waits record their BPMN correlation: '@any' on the waits stored before

A message wait's correlation now also says whether it catches any message ('@any': true)
or only those sharing its process's correlation key values ('@keys'); senders look for
either. Waits stored before recorded neither: they are marked '@any' (a superset: the
engine checks each candidate against its workflow before delivering).

Revision ID: c71d2e5a9b40
Revises: b7d41c2e9a10
Create Date: 2026-12-01 09:30:00
"""
from alembic import op


revision = 'c71d2e5a9b40'
down_revision = 'b7d41c2e9a10'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""UPDATE message_wait SET correlation = correlation || '{"@any": true}'::jsonb """
                   """WHERE kind = 'message' AND NOT correlation ? '@keys'""")
    else:
        op.execute("""UPDATE message_wait SET correlation = json_set(correlation, '$."@any"', json('true')) """
                   """WHERE kind = 'message' AND json_type(correlation, '$."@keys"') IS NULL""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE message_wait SET correlation = correlation - '@any' - '@keys'")
    else:
        op.execute("""UPDATE message_wait SET correlation = json_remove(correlation, '$."@any"', '$."@keys"')""")
