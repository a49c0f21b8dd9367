"""Limits every request meets before a view sees it: a body of at most MAX_CONTENT_LENGTH bytes
(GRIDLOOP_MAX_REQUEST_BYTES; 413) and query, path and form values the databases store alike
(no NUL characters, integers within 64 bits; 400 naming the field). JSON bodies are checked
where the API parses them (web.api.core)."""
from __future__ import annotations

from flask import Flask, request

from engine import inputs
from engine.errors import InvalidInput


def check_request() -> None:
    problems: dict[str, str] = {}
    sources = (request.args, request.form) if request.mimetype in _FORM_TYPES else (request.args,)
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
    app.before_request(check_request)
