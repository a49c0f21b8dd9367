"""Signing in and out of the HTML pages (session cookie), and the language switch."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for

from engine import org

from .i18n import LANGUAGES, t
from .pages import safe_next
from .services import reading

bp = Blueprint("auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = request.values.get("next")
    if request.method == "GET":
        return render_template("sign_in.html", next=target, username="")
    username = request.form.get("username", "").strip()
    with reading() as s:
        user = org.authenticate(s, username, request.form.get("password", ""))
    if user is None:
        return render_template("sign_in.html", next=target, username=username, failed=True), 401
    language = session.get("lang")
    session.clear()  # a fresh session (and CSRF token) for the new user
    session["user_id"] = user.id
    if language:
        session["lang"] = language
    return redirect(safe_next(target))


@bp.post("/sign-out")
def sign_out():
    session.pop("user_id", None)
    flash(t("auth.signed_out"), "info")
    return redirect(url_for("auth.sign_in"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    """Remember the chosen language and go back to the page the user was on."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
