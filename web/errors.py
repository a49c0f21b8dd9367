"""One error handler for the whole app: engine errors and HTTP errors become the right status,
as ``{"error": {"code", "message", "fields"?}}`` under /api/ and as an error page elsewhere."""
from __future__ import annotations

from flask import Flask, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine.errors import (Conflict, DeployError, EngineError, Forbidden, InvalidInput, NotFound, ProcessError,
                           TooLarge)

from . import i18n, open311

API_PREFIX = "/api/"
STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, InvalidInput: 400, TooLarge: 413, DeployError: 400,
          ProcessError: 422}


def status_of(exc: EngineError) -> int:
    return next((STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS), 400)


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    error = {"code": code, "message": message}
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
        return jsonify(error_body(code, message, fields)), status, headers
    if request.path.startswith(open311.PREFIX):
        return open311.error_response(status, message), status, headers
    if isinstance(exc, CSRFError):
        headline, message = i18n.t("error.csrf"), ""
    elif isinstance(exc, RequestEntityTooLarge):
        headline, message = i18n.t("error.too_large"), i18n.t("error.too_large_hint", size=_size(limit))
    elif isinstance(exc, EngineError):
        headline = i18n.t(f"error.{code}") if f"error.{code}" in i18n.MESSAGES else i18n.t("error.title")
    else:
        headline = i18n.t("error.http")
    return render_template("error.html", status=status, headline=headline, message=message,
                           fields=fields or {}), status, headers


def _size(limit: int) -> str:
    return f"{limit / 1024 / 1024:g} MiB" if limit >= 1024 * 1024 else f"{limit / 1024:g} KiB"


def init_app(app: Flask) -> None:
    app.register_error_handler(EngineError, handle_error)
    app.register_error_handler(HTTPException, handle_error)
