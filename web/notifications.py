"""The signed-in user's notification settings page: her email address, the language of her
emails and, per event, the channels she wants. Only ever her own (the engine checks it). And
the administrators' page of deliveries that failed for good, each with a retry."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from math import ceil

from gridloop.engine import failed_deliveries, subscriptions
from gridloop.engine.errors import InvalidInput
from gridloop.engine.notifications import CHANNELS, EVENTS

from .i18n import t
from .pages import current_actor, login_required
from .services import reading, runtime

bp = Blueprint("notifications", __name__)


def _render(settings: subscriptions.Settings, problems: dict | None = None, status: int = 200):
    return render_template("notifications.html", active="notifications", settings=settings, events=EVENTS,
                           channels=CHANNELS, problems=problems or {}), status


@bp.get("/account/notifications")
@login_required
def settings():
    with reading() as s:
        return _render(subscriptions.get_settings(s, current_actor(), current_actor().username))


@bp.post("/account/notifications")
@login_required
def save():
    form = request.form
    chosen = {kind: [c for c in CHANNELS if form.get(f"{kind}.{c}") == "on"] for kind in EVENTS}
    me, email, language = current_actor(), form.get("email", ""), form.get("language", "zh")
    try:
        runtime().save_notification_settings(me, me.username, email=email, language=language, channels=chosen)
    except InvalidInput as exc:
        return _render(subscriptions.Settings(email, language, chosen), exc.fields, 400)
    flash(t("notify.saved"), "success")
    return redirect(url_for(".settings"))


PER_PAGE = 50


@bp.get("/admin/deliveries")
@login_required
def failed():
    page = max(1, request.args.get("page", 1, type=int))
    with reading() as s:
        items, total = failed_deliveries.failed(s, current_actor(), page=page, per_page=PER_PAGE)
    return render_template("deliveries.html", active="deliveries", items=items, total=total, page=page,
                           pages=max(1, ceil(total / PER_PAGE)))


@bp.post("/admin/deliveries/<int:notification_id>/retry")
@login_required
def retry(notification_id: int):
    runtime().retry_delivery(current_actor(), notification_id)
    flash(t("deliveries.retried", id=notification_id), "success")
    return redirect(url_for(".failed"))
