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


def _limiter_on(app: Flask, endpoints: tuple[str, ...]) -> Limiter:
    """A Limiter whose request hooks run for ``endpoints`` only. It hooks every request of the
    app; but its limits are all on these endpoints' views, whose decorators check them, so the
    check before every request finds nothing to do and is dropped, and the hooks after a request
    (deducting failed sign-ins, clearing its per-request state) run only where it counted."""
    hooks = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")
    before = {name: list(getattr(app, name).get(None, ())) for name in hooks}
    limiter = Limiter(get_remote_address, app=app)
    app.extensions["gridloop_limiter"] = limiter
    added = {name: [f for f in getattr(app, name).get(None, ()) if f not in before[name]] for name in hooks}
    for name in hooks:
        getattr(app, name)[None] = before[name]
    for hook in added["after_request_funcs"]:
        app.after_request(_only_on(endpoints, hook))
    for hook in added["teardown_request_funcs"]:
        app.teardown_request(_only_on(endpoints, hook))
    return limiter


def _only_on(endpoints: tuple[str, ...], hook):
    """``hook`` (after a request: takes and returns the response; teardown: takes the error)
    for requests to ``endpoints``; others pass through untouched."""
    def hook_on_endpoints(arg):
        return hook(arg) if request.endpoint in endpoints else arg
    return hook_on_endpoints


def init_app(app: Flask) -> None:
    """A limiter of this app's own (its storage and key prefix come from this app's config)
    over the sign-in endpoints, which must be registered already."""
    for setting in ("SIGNIN_LIMIT", "SIGNIN_ADDRESS_LIMIT", "PUBLIC_REPORT_LIMIT"):
        try:
            parse_many(app.config[setting])
        except ValueError:
            raise ValueError(f"GRIDLOOP_{setting} must be a limit such as '10 per minute', "
                             f"not {app.config[setting]!r}") from None
    limiter = _limiter_on(app, ENDPOINTS + PUBLIC_ENDPOINTS)
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
