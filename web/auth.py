"""Signing in and out of the HTML pages (session cookie), and the language switch."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for

from gridloop.engine import org

from .i18n import LANGUAGES, t
from .pages import SESSION_TOKEN, safe_next
from .services import now, runtime

bp = Blueprint("auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """A sign-in is a token (the API's kind) kept in the session cookie: signing out deletes
    it, so a copy of the old cookie opens nothing."""
    target = request.values.get("next")
    if request.method == "GET":
        return render_template("sign_in.html", next=target, username="")
    username = request.form.get("username", "").strip()
    signed = org.sign_in(runtime().db, username, request.form.get("password", ""), now())
    if signed is None:
        return render_template("sign_in.html", next=target, username=username, failed=True), 401
    language = session.get("lang")
    session.clear()  # a fresh session (and CSRF token) for the new user
    session[SESSION_TOKEN] = signed[1]
    if language:
        session["lang"] = language
    return redirect(safe_next(target))


@bp.post("/sign-out")
def sign_out():
    token = session.pop(SESSION_TOKEN, None)
    if token is not None:
        org.revoke_token(runtime().db, token)
        current_app.extensions["gridloop_tokens"].drop(token)  # were it used as a bearer token too
    flash(t("auth.signed_out"), "info")
    return redirect(url_for("auth.sign_in"))


@bp.get("/lang/<code>")
def switch_language(code: str):
    """Remember the chosen language and go back to the page the user was on."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next")))
