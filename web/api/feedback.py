"""The reporter's feedback link, public like the page it backs."""
from __future__ import annotations

from gridloop.engine import queries

from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, errors, public

blp = ApiBlueprint("Feedback", __name__, url_prefix="/api/v1", description="Public feedback links")


def _link(token: str) -> dict:
    with reading() as s:
        return queries.feedback_link(s, token, now())


@blp.route("/feedback/<token>")
@public
@blp.response(200, schemas.FeedbackLink)
@errors(404)
def show(token):
    """Whether the link still works (valid, used, expired) and the case in brief."""
    return _link(token)


@blp.route("/feedback/<token>", methods=["POST"])
@public
@blp.arguments(schemas.Feedback)
@blp.response(200, schemas.FeedbackLink)
@errors(404, 409, 422)
def submit(body, token):
    """The reporter's answer; works once (409 when used or expired)."""
    runtime().submit_feedback(token, body)
    return _link(token)
