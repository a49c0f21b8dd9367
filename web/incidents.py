"""Incidents for designers and supervisors: what cannot go on by itself, and a retry button."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from gridloop.engine import incidents
from gridloop.engine.errors import IncidentOpened

from .i18n import t
from .pages import current_actor, login_required
from .services import reading, runtime

bp = Blueprint("incidents", __name__)


@bp.get("/incidents")
@login_required
def index():
    status = "resolved" if request.args.get("status") == "resolved" else "open"
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    with reading() as s:
        items, total = incidents.incident_list(s, current_actor(), status=status, page=page, per_page=50)
    return render_template("incidents.html", active="incidents", items=items, total=total, status=status,
                           page=page)


@bp.post("/incidents/<int:incident_id>/retry")
@login_required
def retry(incident_id: int):
    try:
        done = runtime().retry_incident(current_actor(), incident_id)
    except IncidentOpened as exc:
        flash(t("incident.failed_again", message=exc.message), "error")
    else:
        flash(t("incident.resolved" if done.status == "resolved" else "incident.retried", id=incident_id),
              "success")
    return redirect(url_for(".index"))
