"""Cases: report, list, detail (with the public feedback link for staff) and the categories."""
from __future__ import annotations

from gridloop.engine import queries

from ..cases import case_filters, feedback_url
from ..services import now, reading, runtime
from . import schemas
from .core import ApiBlueprint, actor, errors

blp = ApiBlueprint("Cases", __name__, url_prefix="/api/v1", description="Cases of the closed loop")


def _case(case_id: int) -> dict:
    with reading() as s:
        detail = queries.case_detail(s, actor(), case_id, now())
    detail["feedback_url"] = feedback_url(detail.pop("feedback_token"))
    return detail


@blp.route("/cases", methods=["POST"])
@blp.arguments(schemas.CaseCreate)
@blp.response(201, schemas.CaseDetail)
@errors(403, 404)
def report(body):
    """Report a case; it starts the closed-loop process at its grid."""
    return _case(runtime().report_case(actor(), body).id)


@blp.route("/cases")
@blp.arguments(schemas.CaseQuery, location="query")
@blp.response(200, schemas.CasePage)
def case_list(query):
    """Cases in the caller's area (and, for a liaison, of her department), newest first."""
    with reading() as s:
        items, total = queries.case_list(s, actor(), **case_filters(
            {("from" if k == "from_" else k): v for k, v in query.items()}))
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}


@blp.route("/cases/<int:case_id>")
@blp.response(200, schemas.CaseDetail)
@errors(403, 404)
def case_detail(case_id):
    """A case with its open tasks, its history and, while it waits for feedback, the public link."""
    return _case(case_id)


@blp.route("/categories")
@blp.response(200, schemas.Category(many=True))
@errors(404)
def categories():
    """Case categories with their responsible department and whether the grid may handle them."""
    return runtime().categories()
