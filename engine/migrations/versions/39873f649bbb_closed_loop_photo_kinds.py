"""closed_loop's versions deployed before its photoKinds property get the one the code had
(engine/casestages.py)

What a photo added to a task shows was engine/photos.py's by the task's stage (acceptance:
the report, verification: the verification, any other: a resolution); it is now read from the
photoKinds property of the case's process version. This writes that mapping into closed_loop's
versions that declare none, so photos added to their cases' tasks keep their kinds. Other
processes are left as they are.

Revision ID: 39873f649bbb
Revises: 9951e934d0e6
Create Date: 2026-12-01 20:52:48
"""
from alembic import op
import sqlalchemy as sa


revision = '39873f649bbb'
down_revision = '9951e934d0e6'
branch_labels = None
depends_on = None

_PHOTO_KINDS = "acceptance=report, verification=verification"
_DEFINITION = sa.table("process_definition", sa.column("id", sa.BigInteger), sa.column("key", sa.String),
                       sa.column("properties", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_DEFINITION.c.id, _DEFINITION.c.properties)
                        .where(_DEFINITION.c.key == "closed_loop")).all()
    for row in rows:
        properties = dict(row.properties or {})
        if "photoKinds" in properties or str(properties.get("caseProcess", "")).lower() != "true":
            continue  # declares its own, or is no case process
        bind.execute(sa.update(_DEFINITION).where(_DEFINITION.c.id == row.id)
                     .values(properties={**properties, "photoKinds": _PHOTO_KINDS}))


def downgrade() -> None:
    pass  # the code before ignores this property
