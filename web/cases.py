"""Cases: the list, the case page (stage, open tasks, timeline, feedback link) and reporting."""
from __future__ import annotations

from datetime import date
from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for

from gridloop.engine import exceptions, metrics, org, photos, policy, queries
from gridloop.engine import timeline as timelines
from gridloop.engine.errors import Forbidden, InvalidInput
from gridloop.engine.model import Case

from . import photos as page_photos
from . import refusals, schema_forms
from .i18n import LABELS, label, pick, t, timeline
from .pages import current_actor, field_labels, login_required, stage_codes
from .security import external_url
from .services import now, reading, report_form, runtime

bp = Blueprint("cases", __name__)
PER_PAGE = 20
FILTERS = ("status", "stage", "category", "grid", "q", "department", "source", "area", "from", "to", "overdue")


def feedback_url(token: str | None) -> str | None:
    """The public page where the reporter scores the result (absolute: it is sent out)."""
    return external_url("feedback.page", token=token) if token else None


def case_filters(filters: dict) -> dict:
    """The list filters as the engine takes them: the period ``from``..``to`` (local days,
    either may be left open) as UTC bounds, ``overdue`` as "open past its deadline now"."""
    first, last = filters.pop("from", None), filters.pop("to", None)
    if isinstance(first, str) or isinstance(last, str):
        first, last = (_day(name, value) for name, value in (("from", first), ("to", last)))
    if first or last:
        start, end, _ = metrics.period(first or date(1970, 1, 1), last or date(9998, 12, 31),
                                       runtime().calendar.tz, now())
        filters["reported"] = (start, end)
    filters["overdue_at"] = now() if filters.pop("overdue", None) else None
    return filters


def _day(name: str, value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date", fields={name: "YYYY-MM-DD"}) from None


@bp.get("/cases")
@login_required
def index():
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    page = request.args.get("page", 1, type=int)
    with reading() as s:
        items, total = queries.case_list(s, current_actor(), page=page, per_page=PER_PAGE,
                                         **case_filters(dict(filters)))
        areas = org.areas(s, current_actor())
    return render_template("cases.html", active="cases", items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), filters=filters, areas=areas,
                           stages=stage_codes(), statuses=list(LABELS["case_status"]))


@bp.get("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    with reading() as s:
        detail = queries.case_detail(s, current_actor(), case_id, now())
        case_photos = photos.case_photos(s, current_actor(), case_id)
        may_ask = policy.offers_case_exceptions(current_actor(), s.get(Case, case_id))
        events = readable_timeline(s, detail["history"], detail["satisfaction"])
    return render_template("case.html", active="cases", case=detail, timeline=events, photos=case_photos,
                           may_ask=may_ask,
                           feedback_url=feedback_url(detail["feedback_token"]))


def readable_timeline(s, history: list[dict], satisfaction: str | None = None) -> list[dict]:
    """History as the engine reads it (engine/timeline.py), in the page's language."""
    return timeline(timelines.read(s, history, satisfaction), field_labels())


def _grid_choice(form_fields: list, grids: list[dict]) -> list:
    """The report form with the grid as a choice among the grids she may report for."""
    if not grids:
        return form_fields
    options = [(g["code"], f"{pick(g['name'], g['name_en'])} · {g['code']}") for g in grids]
    return schema_forms.as_select(form_fields, "grid", options)


@bp.route("/report", methods=["GET", "POST"])
@login_required
def report():
    actor = current_actor()
    with reading() as s:
        schema = report_form(s)
        grids = queries.report_grids(s, actor)
    form_fields = _grid_choice(schema_forms.fields(schema), grids)
    if request.method == "GET":
        own_grid = {"grid": actor.org_unit} if actor.org_level == "grid" else {}
        return render_template("report.html", active="report", schema=schema, form_fields=form_fields,
                               values=schema_forms.initial(schema, own_grid), errors={},
                               max_photos=photos.MAX_PER_UPLOAD)
    data = schema_forms.read(schema, request.form, form_fields)
    try:
        stored = photos.prepare(runtime(), page_photos.uploads())
    except InvalidInput as exc:  # checked first: a refused photo reports nothing
        return render_template("report.html", active="report", schema=schema, form_fields=form_fields,
                               values=request.form, errors=page_photos.errors_of(exc),
                               max_photos=photos.MAX_PER_UPLOAD), 400
    try:
        reported = runtime().report_case(actor, data, photos=stored)
    except InvalidInput as exc:
        errors = refusals.form_errors(exc)
    except Forbidden as exc:  # the grid lies outside the reporter's area
        errors = refusals.form_errors(exc, "grid")
    else:
        flash(t("case.reported", number=reported.number), "success")
        return redirect(url_for(".case", case_id=reported.id))
    form_fields = _grid_choice(schema_forms.fields(schema, data=data), grids)  # asterisks for the answers given
    return render_template("report.html", active="report", schema=schema, form_fields=form_fields,
                           values=request.form, errors=errors, max_photos=photos.MAX_PER_UPLOAD), 400


@bp.post("/cases/<int:case_id>/exceptions")
@login_required
def ask(case_id: int):
    """Ask to void (作废) a case reported in error, or merge (合并) a duplicate into its original."""
    body = {name: request.form.get(name, "").strip() for name in ("kind", "reason", "original")}
    try:
        asked = runtime().request_exception(current_actor(), case_id, body)
    except InvalidInput as exc:
        flash(next(iter((exc.fields or {}).values()), exc.message), "error")
        return redirect(url_for(".case", case_id=case_id))
    flash_request(asked)
    return redirect(url_for(".case", case_id=case_id))


def flash_request(asked: exceptions.ExceptionRequestRef) -> None:
    """Say what became of a request: waiting for approval, or refused at once (a cap)."""
    kind = label("exception_kind", asked.kind)
    if asked.status == "refused":
        flash(t("exception.refused_at_once", kind=kind, note=asked.decision_note), "error")
    else:
        flash(t("exception.requested", kind=kind), "success")
