"""The reporter's public feedback page (no sign-in): her own questions (the case process's
citizen feedback form), what was done; the link works once, until it expires, and a used,
replaced or unknown link says so in her language."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from werkzeug.datastructures import MultiDict

from gridloop.engine import residents
from gridloop.engine.errors import Conflict, InvalidInput, NotFound

from . import refusals, schema_forms
from .services import now, reading, runtime

bp = Blueprint("feedback", __name__)


def _link(token: str) -> tuple[dict, list]:
    with reading() as s:
        link = residents.feedback_link(s, token, now())
    return link, schema_forms.fields(link["schema"])


@bp.route("/f/<token>", methods=["GET", "POST"])
def page(token: str):
    try:
        link, form_fields = _link(token)
    except NotFound:  # never issued, or replaced by the link of a newer feedback round
        return render_template("feedback.html", link={"state": "gone"}), 404
    values, errors, status = MultiDict(), {}, 200
    if request.method == "POST" and link["state"] == "valid":
        try:
            runtime().submit_feedback(token, schema_forms.read(link["schema"], request.form), citizen=True)
        except InvalidInput as exc:
            values, errors, status = request.form, refusals.form_errors(exc), 400
        except Conflict:  # used or expired meanwhile: say which
            link, form_fields = _link(token)
            status = 409
        else:
            return render_template("feedback.html", link=link, thanks=True)
    elif request.method == "POST":
        status = 409
    return render_template("feedback.html", link=link, form_fields=form_fields, values=values,
                           errors=errors), status
