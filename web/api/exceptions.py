"""Exceptions to a case's course with approval: 延期 extension, 挂账 suspension, 作废 void, 合并 merge."""
from __future__ import annotations

from gridloop.engine import exceptions

from ..services import reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Exceptions", __name__, url_prefix="/api/v1",
                   description="Extension, suspension, void and merge requests, each approved by the level above")


@blp.route("/cases/<int:case_id>/exceptions", methods=["POST"])
@blp.arguments(schemas.ExceptionCreate)
@blp.response(201, schemas.ExceptionRequest)
@errors(403, 404, 409, 422)
def request_exception(body, case_id):
    """Ask for an exception; exceptions.dmn says who approves it, within what limit, and
    refuses it at once at a cap (``status`` refused, ``decision_note`` the cap)."""
    who = actor()
    asked = runtime().request_exception(who, case_id, body)
    with reading() as s:
        return exceptions.get(s, who, asked.id)


@blp.route("/cases/<int:case_id>/exceptions")
@blp.response(200, schemas.ExceptionRequest(many=True))
@errors(403, 404)
def case_exceptions(case_id):
    """A case's exception requests, newest first."""
    with reading() as s:
        return exceptions.requests(s, actor(), case_id)
