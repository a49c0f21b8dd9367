"""Cases: the list, the case page (stage, open tasks, timeline, feedback link) and reporting."""
from __future__ import annotations

from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import queries
from engine.errors import Forbidden, InvalidInput

from . import schema_forms
from .i18n import LABELS, t
from .pages import current_actor, login_required
from .services import now, reading, report_form, runtime

bp = Blueprint("cases", __name__)
PER_PAGE = 20
FILTERS = ("status", "stage", "category", "grid", "q")


def feedback_url(token: str | None) -> str | None:
    """The public page where the reporter scores the result (absolute: it is sent out)."""
    return url_for("feedback.page", token=token, _external=True) if token else None


@bp.get("/cases")
@login_required
def index():
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    page = request.args.get("page", 1, type=int)
    with reading() as s:
        items, total = queries.case_list(s, current_actor(), page=page, per_page=PER_PAGE, **filters)
    return render_template("cases.html", active="cases", items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), filters=filters,
                           stages=list(LABELS["stage"]), statuses=list(LABELS["case_status"]))


@bp.get("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    with reading() as s:
        detail = queries.case_detail(s, current_actor(), case_id, now())
    return render_template("case.html", active="cases", case=detail,
                           feedback_url=feedback_url(detail["feedback_token"]))


@bp.route("/report", methods=["GET", "POST"])
@login_required
def report():
    actor = current_actor()
    with reading() as s:
        schema = report_form(s)
    form_fields = schema_forms.fields(schema)
    if request.method == "GET":
        own_grid = {"grid": actor.org_unit} if actor.org_level == "grid" else {}
        return render_template("report.html", active="report", form_fields=form_fields,
                               values=schema_forms.initial(schema, own_grid), errors={})
    try:
        reported = runtime().report_case(actor.id, schema_forms.parse(form_fields, request.form))
    except InvalidInput as exc:
        errors = exc.fields or {"data": exc.message}
    except Forbidden as exc:  # the grid lies outside the reporter's area
        errors = {"grid": exc.message}
    else:
        flash(t("case.reported", number=reported.number), "success")
        return redirect(url_for(".case", case_id=reported.id))
    return render_template("report.html", active="report", form_fields=form_fields, values=request.form,
                           errors=errors), 400
