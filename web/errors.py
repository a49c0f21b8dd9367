"""One error handler for the whole app: engine errors and HTTP errors become the right status,
as ``{"error": {"code", "reason", "message", "fields"?}}`` under /api/ (the message in the
request's language when it names one in Accept-Language, else the engine's English) and as an
error page in the user's language elsewhere, saying what happened and linking to the case (when
she may see it) and her inbox."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from gridloop.engine import queries
from gridloop.engine.errors import (Conflict, DeployError, EngineError, Forbidden, InvalidInput, NotFound, ProcessError,
                           TooLarge)

from . import i18n, open311, refusals
from .pages import current_actor
from .services import reading

API_PREFIX = "/api/"
STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidInput: 400, TooLarge: 413, DeployError: 400,
          ProcessError: 422}


def status_of(exc: EngineError) -> int:
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 400)


def error_body(code: str, message: str, fields: dict | None = None, reason: str | None = None) -> dict:
    error = {"code": code, "message": message}
    if reason is not None:  # an engine refusal's finer reason (engine/errors.py)
        error = {"code": code, "reason": reason, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def handle_error(exc: Exception):
    if isinstance(exc, EngineError):
        status, code, message, fields, headers = status_of(exc), exc.code, exc.message, exc.fields, {}
    else:  # HTTPException
        status, code = exc.code or 500, (exc.name or "error").lower().replace(" ", "_")
        message, fields = exc.description or exc.name, None
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length or current_app.config["MAX_CONTENT_LENGTH"]
        code, message = "too_large", f"the request body is larger than {limit} bytes"
    if request.path.startswith(API_PREFIX) or request.is_json:  # the modeler's JSON posts too
        if isinstance(exc, EngineError):
            if request.headers.get("Accept-Language"):
                message = refusals.explain(exc)
            return jsonify(error_body(code, message, fields, exc.reason)), status, headers
        return jsonify(error_body(code, message, fields)), status, headers
    if request.path.startswith(open311.PREFIX):
        return open311.error_response(status, message), status, headers
    case_id = None
    if isinstance(exc, CSRFError):
        headline, message = i18n.t("error.csrf"), ""
    elif isinstance(exc, RequestEntityTooLarge):
        headline, message = i18n.t("error.too_large"), i18n.t("error.too_large_hint", size=_size(limit))
    elif isinstance(exc, EngineError):
        headline = i18n.t(f"error.{code}") if f"error.{code}" in i18n.MESSAGES else i18n.t("error.title")
        message, fields = refusals.explain(exc), refusals.field_messages(exc)
        case_id = _visible_case(exc.params.get("case_id"))
    else:
        headline = i18n.t(f"error.{code}") if f"error.{code}" in i18n.MESSAGES else i18n.t("error.http")
        message = i18n.t(f"refusal.http_{status}") if f"refusal.http_{status}" in i18n.MESSAGES else \
            (message if i18n.lang() == "en" else "")
    return render_template("error.html", status=status, headline=headline, message=message,
                           fields=fields or {}, case_id=case_id), status, headers


def _visible_case(case_id: int | None) -> int | None:
    """The case the refusal concerns, if the signed-in user may open it (a link to it)."""
    actor = current_actor() if case_id is not None else None
    if actor is None:
        return None
    with reading() as s:
        return case_id if queries.may_see_case(s, actor, case_id) else None


def _size(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MiB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KiB"


def init_app(app: Flask) -> None:
    app.register_error_handler(EngineError, handle_error)
    app.register_error_handler(HTTPException, handle_error)
