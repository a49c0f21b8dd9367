"""The task inbox (mine / claimable / all in my area), the task page, claim, unclaim, complete."""
from __future__ import annotations

from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for

from engine import queries
from engine.errors import InvalidInput

from . import schema_forms
from .i18n import LABELS, pick, t, task_name
from .pages import current_actor, login_required, safe_next
from .services import now, reading, runtime

bp = Blueprint("inbox", __name__)
PER_PAGE = 20
FILTERS = ("category", "stage", "grid")
TASK_STAGES = [code for code in LABELS["stage"] if code not in ("reported", "closed", "rejected")]


@bp.get("/")
@login_required
def index():
    return redirect(url_for(".inbox", scope="mine"))


@bp.get("/inbox/<scope>")
@login_required
def inbox(scope: str):
    filters = {name: request.args.get(name, "").strip() or None for name in FILTERS}
    page = request.args.get("page", 1, type=int)
    with reading() as s:
        items, total = queries.inbox(s, current_actor(), scope, now=now(), page=page, per_page=PER_PAGE, **filters)
    return render_template("inbox.html", active=scope, scope=scope, items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)), filters=filters, stages=TASK_STAGES)


def _task_page(task: dict, values, errors: dict, status: int = 200):
    form_fields = schema_forms.fields(task["form"]) if task["can_act"] else []
    return render_template("task.html", task=task, form_fields=form_fields, values=values, errors=errors), status


@bp.get("/tasks/<task_id>")
@login_required
def task(task_id: str):
    with reading() as s:
        task = queries.task_detail(s, current_actor(), task_id, now())
    # Fields that name a case attribute (e.g. the department routing proposed) start with its value.
    return _task_page(task, schema_forms.initial(task["form"], task["case"] or {}), {})


@bp.post("/tasks/<task_id>")
@login_required
def complete(task_id: str):
    actor = current_actor()
    with reading() as s:
        task = queries.task_detail(s, actor, task_id, now())
    data = schema_forms.parse(schema_forms.fields(task["form"]), request.form)
    try:
        runtime().complete_task(actor.id, task_id, data)
    except InvalidInput as exc:
        return _task_page(task, request.form, exc.fields or {"data": exc.message}, 400)
    flash(t("task.completed", name=task_name(task)), "success")
    if task["case_id"]:
        return redirect(url_for("cases.case", case_id=task["case_id"]))
    return redirect(url_for(".inbox", scope="mine"))


@bp.post("/tasks/<task_id>/claim")
@login_required
def claim(task_id: str):
    claimed = runtime().claim(current_actor().id, task_id)
    flash(t("task.claimed", name=pick(claimed.name_zh, claimed.name)), "success")
    return redirect(url_for(".task", task_id=task_id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required
def unclaim(task_id: str):
    runtime().unclaim(current_actor().id, task_id)
    flash(t("task.unclaimed"), "info")
    return redirect(safe_next(request.form.get("next")))
