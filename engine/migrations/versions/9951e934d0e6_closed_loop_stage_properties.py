"""closed_loop's versions deployed before its stage properties get the ones the code had
(engine/casestages.py)

Until now the pages named closed_loop's stages from web/i18n.py, the status link and Open311
told citizens their word for them from engine/residents.py, and the 12345 export read what was
done from the tasks of two stages named in engine/hotline.py. Each is now read from the
process properties of the case's own version (stageLabelsZh, stageLabelsEn, citizenStages,
handlingStages, and taskStages, which the deploy keeps): this writes those constants, as they
were, into closed_loop's versions that declare none, so their cases read as before. Other
processes are left as they are.

Revision ID: 9951e934d0e6
Revises: e1a7c3f90b52
Create Date: 2026-12-01 20:41:39
"""
from alembic import op
import sqlalchemy as sa


revision = '9951e934d0e6'
down_revision = 'e1a7c3f90b52'
branch_labels = None
depends_on = None

_ADDED = {
    "stageLabelsZh": "reported=已上报, acceptance=受理, grid_handling=网格处置, department_handling=部门报到处置, "
                     "consultation=逐级会商, return_approval=退单审核, verification=核查, feedback=回访评价, "
                     "callback_retry=待再次回访, closed=已结案, rejected=不予受理",
    "stageLabelsEn": "reported=Reported, acceptance=Acceptance, grid_handling=Grid handling, "
                     "department_handling=Department handling, consultation=Consultation, "
                     "return_approval=Return approval, verification=Verification, feedback=Feedback, "
                     "callback_retry=Calling again, closed=Closed, rejected=Rejected",
    "citizenStages": "reported=received, acceptance=received, verification=checking, feedback=awaiting_feedback, "
                     "closed=done, rejected=not_accepted",
    "handlingStages": "grid_handling, department_handling",
    "taskStages": "acceptance, consultation, department_handling, feedback, grid_handling, return_approval, "
                  "verification",
}
_DEFINITION = sa.table("process_definition", sa.column("id", sa.BigInteger), sa.column("key", sa.String),
                       sa.column("properties", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.select(_DEFINITION.c.id, _DEFINITION.c.properties)
                        .where(_DEFINITION.c.key == "closed_loop")).all()
    for row in rows:
        properties = dict(row.properties or {})
        if any(name in properties for name in _ADDED) or str(properties.get("caseProcess", "")).lower() != "true":
            continue  # declares its own, or is no case process
        bind.execute(sa.update(_DEFINITION).where(_DEFINITION.c.id == row.id)
                     .values(properties={**properties, **_ADDED}))


def downgrade() -> None:
    pass  # the code before ignores these properties
