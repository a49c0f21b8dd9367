"""Limits every request meets before a view sees it: a body of at most MAX_CONTENT_LENGTH bytes
(GRIDLOOP_MAX_REQUEST_BYTES; 413; a multipart request that may carry photos, that plus their
most) and query, path and form values the databases store alike (no NUL characters, integers
within 64 bits; 400 naming the field). JSON bodies are checked
where the API parses them (web.api.core)."""
from __future__ import annotations

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider

from gridloop.engine import inputs, photos
from gridloop.engine.errors import InvalidInput

# Endpoints whose requests may carry photos, and how many.
UPLOADS = {"cases.report": photos.MAX_PER_UPLOAD, "inbox.complete": photos.MAX_PER_UPLOAD,
           "Photos.case_upload": photos.MAX_PER_UPLOAD, "Photos.task_upload": photos.MAX_PER_UPLOAD,
           "residents.public_report": photos.PUBLIC_MAX, "residents.qr_report": photos.PUBLIC_MAX}


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a body nested too deep for the parser is invalid JSON (400, or
    None for ``get_json(silent=True)``) instead of a RecursionError (500)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def upload_limit() -> None:
    """Before anything reads the body (the CSRF check first): room for the photos a multipart
    request may carry."""
    most = UPLOADS.get(request.endpoint or "")
    if most and request.mimetype == "multipart/form-data":
        per_photo = current_app.extensions["gridloop"].photo_limits.max_bytes
        request.max_content_length = current_app.config["MAX_CONTENT_LENGTH"] + most * per_photo


def check_request() -> None:
    """Before every view: no value of the query, path or form that no database stores alike."""
    problems: dict[str, str] = {}
    sources = (request.args,) if request.query_string else ()  # parsed only when there is one
    if request.mimetype in _FORM_TYPES:
        sources += (request.form,)
    for source in sources:
        for name, values in source.lists():
            for value in (name, *values):
                problem = inputs.text_problem(value)
                if problem:
                    problems.setdefault(name if inputs.text_problem(name) is None else "query", problem)
    for name, value in (request.view_args or {}).items():
        problem = inputs.int_problem(value) if isinstance(value, int) else inputs.text_problem(str(value))
        if problem:
            problems[name] = problem
    if problems:
        raise InvalidInput("invalid request: " + "; ".join(f"{k}: {v}" for k, v in problems.items()),
                           fields=problems)


_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def init_app(app: Flask) -> None:
    provider = JSONProvider(app)
    provider.sort_keys = app.json.sort_keys
    app.json = provider
    app.before_request_funcs.setdefault(None, []).insert(0, upload_limit)
    app.before_request(check_request)
