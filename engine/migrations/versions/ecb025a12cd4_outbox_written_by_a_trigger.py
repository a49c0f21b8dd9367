"""outbox written by a trigger: each history event of a notified type is copied into
outbox_event by the database, in the same statement (engine/notifications.py); events say
whose command recorded them (caused_by_id), the actor an engine-made event is credited to

Revision ID: ecb025a12cd4
Revises: ff17447ae542
Create Date: 2026-12-01 22:02:37.785191
"""
from alembic import op
import sqlalchemy as sa

revision = 'ecb025a12cd4'
down_revision = 'ff17447ae542'
branch_labels = None
depends_on = None

# As engine/model.py's OUTBOX_TRIGGER made them at this revision.
TRIGGER = {
    'sqlite': [
        "CREATE TRIGGER event_outbox AFTER INSERT ON event WHEN NEW.type IN ('task_created', 'task_assigned', 'task_overdue', 'case_overdue', 'task_urged', 'escalated', 'case_closed') BEGIN INSERT INTO outbox_event (kind, case_id, task_id, actor_id, payload, created_at, expanded_at) VALUES (CASE NEW.type WHEN 'task_created' THEN 'task_offered' WHEN 'task_assigned' THEN 'task_assigned' WHEN 'task_overdue' THEN 'overdue' WHEN 'case_overdue' THEN 'overdue' WHEN 'task_urged' THEN 'urged' WHEN 'escalated' THEN 'escalated' WHEN 'case_closed' THEN 'case_closed' END, NEW.case_id, NEW.task_id, COALESCE(NEW.actor_id, NEW.caused_by_id), NEW.payload, NEW.at, NULL); END",
    ],
    'postgresql': [
        "CREATE OR REPLACE FUNCTION event_outbox() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO outbox_event (kind, case_id, task_id, actor_id, payload, created_at, expanded_at) VALUES (CASE NEW.type WHEN 'task_created' THEN 'task_offered' WHEN 'task_assigned' THEN 'task_assigned' WHEN 'task_overdue' THEN 'overdue' WHEN 'case_overdue' THEN 'overdue' WHEN 'task_urged' THEN 'urged' WHEN 'escalated' THEN 'escalated' WHEN 'case_closed' THEN 'case_closed' END, NEW.case_id, NEW.task_id, COALESCE(NEW.actor_id, NEW.caused_by_id), NEW.payload, NEW.at, NULL); RETURN NULL; END $$",
        "CREATE TRIGGER event_outbox AFTER INSERT ON event FOR EACH ROW WHEN (NEW.type IN ('task_created', 'task_assigned', 'task_overdue', 'case_overdue', 'task_urged', 'escalated', 'case_closed')) EXECUTE FUNCTION event_outbox()",
    ],
}
DROP = {"sqlite": ["DROP TRIGGER IF EXISTS event_outbox"],
        "postgresql": ["DROP TRIGGER IF EXISTS event_outbox ON event", "DROP FUNCTION IF EXISTS event_outbox()"]}


def upgrade() -> None:
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('caused_by_id', sa.Integer(), nullable=True))
    for statement in TRIGGER[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_column('caused_by_id')
