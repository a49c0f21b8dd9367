"""Limits (Flask-Limiter) on failed sign-ins, per account name and per client address, the
HTML page and the API's token endpoint counted together: only failures count, so an office
behind one address signs its people in freely. And on residents' reports without an account,
per client address, every one counting. Past a limit the answer is 429 with Retry-After, as
the API's JSON error or as the page saying when to try again."""
from __future__ import annotations

import math
import time

from flask import Flask, current_app, render_template, request
from flask_limiter import Limiter
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from . import errors
from .i18n import t

ENDPOINTS = ("auth.sign_in", "Auth.token")  # the HTML form and POST /api/v1/auth/token
# Reports without an account (every one counts, per client address): the residents' pages.
PUBLIC_ENDPOINTS = ("residents.public_report", "residents.qr_report")


def _account() -> str:
    """The account name tried (JSON body or form); empty (no per-account limit) when absent."""
    body = request.get_json(silent=True) if request.is_json else request.form
    name = body.get("username") if hasattr(body, "get") else None
    return name.strip()[:80] if isinstance(name, str) else ""


def _failed(response) -> bool:
    return response.status_code == 401


def _too_many(exc: RateLimitExceeded):
    reset = current_app.extensions["gridloop_limiter"].current_limit.window.reset_time
    exc.retry_after = seconds = max(1, math.ceil(reset - time.time()))
    if request.endpoint in PUBLIC_ENDPOINTS:
        return render_template("error.html", status=429, headline=t("public.throttled", seconds=seconds),
                               message="", fields={}), 429, {"Retry-After": str(seconds)}
    if request.path.startswith(errors.API_PREFIX):
        exc.description = f"too many failed sign-ins; try again in {seconds} s"
        return errors.handle_error(exc)
    form = request.form
    return render_template("sign_in.html", next=form.get("next"), username=form.get("username", "").strip(),
                           throttled=t("auth.throttled", seconds=seconds)), 429, {"Retry-After": str(seconds)}


def init_app(app: Flask) -> None:
    """A limiter of this app's own (its storage and key prefix come from this app's config)
    over the sign-in endpoints, which must be registered already."""
    for setting in ("SIGNIN_LIMIT", "SIGNIN_ADDRESS_LIMIT", "PUBLIC_REPORT_LIMIT"):
        try:
            parse_many(app.config[setting])
        except ValueError:
            raise ValueError(f"GRIDLOOP_{setting} must be a limit such as '10 per minute', "
                             f"not {app.config[setting]!r}") from None
    limiter = Limiter(get_remote_address, app=app)
    app.extensions["gridloop_limiter"] = limiter
    per_account = limiter.shared_limit(lambda: current_app.config["SIGNIN_LIMIT"], "sign-in-account",
                                       key_func=_account, methods=["POST"], deduct_when=_failed)
    per_address = limiter.shared_limit(lambda: current_app.config["SIGNIN_ADDRESS_LIMIT"], "sign-in-address",
                                       key_func=get_remote_address, methods=["POST"], deduct_when=_failed)
    for endpoint in ENDPOINTS:
        app.view_functions[endpoint] = per_address(per_account(app.view_functions[endpoint]))
    public = limiter.shared_limit(lambda: current_app.config["PUBLIC_REPORT_LIMIT"], "public-report",
                                  key_func=get_remote_address, methods=["POST"])
    for endpoint in PUBLIC_ENDPOINTS:
        app.view_functions[endpoint] = public(app.view_functions[endpoint])
    app.register_error_handler(RateLimitExceeded, _too_many)
