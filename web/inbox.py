"""The task inbox (mine / claimable / all in my area / a supervisor's overdue view) with its
filters, search, sort and saved filters, the task page, and the claim, unclaim, complete, urge
(催办) and assign (派单) commands."""
from __future__ import annotations

from datetime import datetime
from math import ceil

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from gridloop.engine import casebrief, inbox_plan, org, photos, queries, saved_filters, supervision, task_views
from gridloop.engine.errors import Conflict, InvalidInput
from gridloop.engine.exceptions import ON_TASK
from gridloop.engine.saved_filters import FilterRow

from . import photos as page_photos
from . import refusals, schema_forms
from .cases import flash_request, readable_timeline
from .i18n import LOCAL_TZ, pick, t, task_name
from .pages import current_actor, login_required, nav_counts, safe_next, stage_vocabulary
from .services import local_tz, now, reading, runtime, with_names

bp = Blueprint("inbox", __name__)
PER_PAGE = 20
FILTERS = tuple(f for f in task_views.TaskFilters.__dataclass_fields__)
LANDING = ("mine", "claimable", "overdue", "area")  # the first tab with work in it


@bp.get("/")
@login_required
def index():
    """Land where the work is: my claimed tasks if any, else what I may claim, else (for a
    supervisor) the overdue work of her area, else all of it."""
    counts = nav_counts()
    scope = next((sc for sc in LANDING if counts.get(sc)), "area" if "area" in counts else "mine")
    return redirect(url_for(".inbox", scope=scope))


@bp.get("/inbox/counts")
@login_required
def counts():
    """Each tab's count as shown ("1000+" when capped), for the navigation to refresh itself."""
    return jsonify({scope: str(total) for scope, total in nav_counts().items()})


@bp.get("/inbox/<scope>")
@login_required
def inbox(scope: str):
    actor = current_actor()
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    page = max(1, request.args.get("page", 1, type=int))
    with reading() as s:
        items, total = inbox_plan.inbox(s, actor, scope, now=now(), tz=local_tz(), page=page, per_page=PER_PAGE,
                                     **filters)
        items = with_names(s, items)
        saved, units = saved_filters.list_filters(s, actor), org.areas(s, actor, ("community", "grid"), limit=200)
    first = (page - 1) * PER_PAGE + 1 if items else 0
    return render_template("inbox.html", active=scope, scope=scope, items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), filters=filters, stages=stage_vocabulary().task_stages,
                           saved=saved, units=units, shown=(first, first + len(items) - 1 if items else 0),
                           due_windows=task_views.DUE_WINDOWS, sorts=list(task_views.SORTS),
                           current=_current_filter(saved, scope, filters))


def _current_filter(saved: list[FilterRow], scope: str, filters: dict) -> FilterRow | None:
    """The saved filter this view is, if any."""
    chosen = {k: v for k, v in filters.items() if v}
    return next((f for f in saved if f.scope == scope and f.params == chosen), None)


def _not_saved(exc: InvalidInput | Conflict):
    """Back to where she was, told why in her language."""
    if isinstance(exc, Conflict):
        reason = t("filters.name_taken") if exc.fields else t("filters.too_many")
    else:
        reason = t("filters.bad_name") if "name" in (exc.fields or {}) else t("error.validation_error")
    flash(t("filters.not_saved", reason=reason), "error")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/inbox/filters")
@login_required
def save_filter():
    """Save the view she is looking at under a name; back to it."""
    scope = request.form.get("scope", "")
    params = {name: request.form.get(name) for name in FILTERS if request.form.get(name)}
    try:
        saved = runtime().save_filter(current_actor(), request.form.get("name", ""), scope, params)
    except (InvalidInput, Conflict) as exc:
        return _not_saved(exc)
    flash(t("filters.saved", name=saved.name), "success")
    return redirect(url_for(".inbox", scope=saved.scope, **saved.params))


@bp.post("/inbox/filters/<int:filter_id>/rename")
@login_required
def rename_filter(filter_id: int):
    try:
        saved = runtime().rename_filter(current_actor(), filter_id, request.form.get("name", ""))
    except (InvalidInput, Conflict) as exc:
        return _not_saved(exc)
    flash(t("filters.renamed", name=saved.name), "success")
    return redirect(url_for(".inbox", scope=saved.scope, **saved.params))


@bp.post("/inbox/filters/<int:filter_id>/delete")
@login_required
def delete_filter(filter_id: int):
    runtime().delete_filter(current_actor(), filter_id)
    flash(t("filters.deleted"), "info")
    return redirect(safe_next(request.form.get("next")))


def _task_page(task: dict, values, errors: dict, extras: dict, status: int = 200, answers: dict | None = None):
    form_fields = schema_forms.fields(task["schema"], data=answers) if task["can_act"] else []
    return render_template("task.html", task=task, form_fields=form_fields, values=values, errors=errors,
                           max_photos=photos.MAX_PER_UPLOAD, may_extend=task["can_ask_exception"], **extras), status


def _task(task_id: str, submitting: bool = False) -> tuple[dict, dict]:
    """The task as its page shows it, with who may urge it and how often it was urged, what came
    before (engine/casebrief.py) with the last resolution's photos, and its own photos;
    ``submitting``: a finished task she could have taken is the command's refusal (a stale tab)."""
    actor = current_actor()
    with reading() as s:
        read = queries.task_for_submit if submitting else queries.task_detail
        task = with_names(s, [read(s, actor, task_id, now())])[0]
        brief = casebrief.task_brief(s, actor, task_id)
        resolution = next((note for note in brief["notes"] if note["kind"] == "resolution"), None)
        brief["photos"] = photos.task_photos(s, resolution["task_id"]) if resolution else []
        extras = {**supervision.urgings(s, actor, task_id),
                  "brief": brief, "brief_events": readable_timeline(s, brief["recent"]),
                  "photos": photos.task_photos(s, task_id), "assignees": supervision.assignees(s, actor, task_id)}
    return task, extras


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    task, extras = _task(task_id)
    # Fields that name a case attribute (e.g. the department routing proposed) start with its value.
    return _task_page(task, schema_forms.initial(task["schema"], task["case"] or {}), {}, extras)


@bp.post("/tasks/<task_id>")
@login_required
def complete(task_id: str):
    actor = current_actor()
    task, extras = _task(task_id, submitting=True)
    data = schema_forms.read(task["schema"], request.form)
    files = page_photos.uploads()
    if files:  # added first: a refused photo leaves the task open, the form as filled in
        try:
            runtime().add_task_photos(actor, task_id, files)
        except InvalidInput as exc:
            return _task_page(task, request.form, page_photos.errors_of(exc), extras, 400,
                              answers=data)
    try:
        done = runtime().complete_task(actor, task_id, data)
    except InvalidInput as exc:
        return _task_page(task, request.form, refusals.form_errors(exc), extras, 400, answers=data)
    flash(t("task.completed", name=task_name(task)), "success")
    if task["case_id"]:
        return redirect(url_for("cases.case", case_id=task["case_id"]))
    follow = done.next_for(actor)  # any other process: go on to her next task of it
    return redirect(url_for(".task", task_id=follow[0].id) if follow else url_for(".inbox", scope="mine"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    claimed = runtime().claim(current_actor(), task_id)
    flash(t("task.claimed", name=pick(claimed.name_zh, claimed.name)), "success")
    return redirect(url_for(".task", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    runtime().unclaim(current_actor(), task_id)
    flash(t("task.unclaimed"), "info")
    return redirect(safe_next(request.form.get("next")))


@bp.post("/tasks/<task_id>/urge")
@login_required
def urge(task_id: str):
    """A supervisor urges (催办) an open task of her area, with an optional note; back to
    where she was (the task page, or the inbox row she urged from)."""
    target = request.form.get("next")
    back = safe_next(target) if target else url_for(".task", task_id=task_id)
    note = request.form.get("note", "").strip() or None
    try:
        urged = runtime().urge(current_actor(), task_id, note)
    except InvalidInput:
        flash(t("urge.note_too_long", n=supervision.MAX_NOTE), "error")
        return redirect(back)
    flash(t("urge.done", name=pick(urged.name_zh, urged.name), n=urged.urge_count), "success")
    return redirect(back)


@bp.post("/tasks/<task_id>/assign")
@login_required
def assign(task_id: str):
    """A supervisor or coordinator assigns (派单) the task to someone it is offered to."""
    try:
        assigned = runtime().assign(current_actor(), task_id, request.form.get("user", ""))
    except InvalidInput:
        flash(t("assign.not_offered"), "error")
    else:
        flash(t("assign.done", name=pick(assigned.name_zh, assigned.name), user=request.form.get("user")), "success")
    return redirect(url_for(".task", task_id=task_id))


@bp.post("/tasks/<task_id>/exceptions")
@login_required
def ask(task_id: str):
    """The task's handler asks for a later due time (延期) or to suspend the case (挂账) until a
    review date; the level above approves."""
    task, _extras = _task(task_id)
    try:
        until = datetime.fromisoformat(request.form.get("until", "")).replace(tzinfo=LOCAL_TZ)
    except ValueError:
        flash(t("exception.bad_until"), "error")
        return redirect(url_for(".task", task_id=task_id))
    kind = request.form.get("kind", "")
    body = {"kind": kind if kind in ON_TASK else "extension", "task_id": task_id, "until": until.isoformat(),
            "reason": request.form.get("reason", "")}
    try:
        asked = runtime().request_exception(current_actor(), task["case_id"] or 0, body)
    except InvalidInput as exc:
        flash(next(iter((exc.fields or {}).values()), exc.message), "error")
        return redirect(url_for(".task", task_id=task_id))
    flash_request(asked)
    return redirect(url_for("cases.case", case_id=task["case_id"]))
