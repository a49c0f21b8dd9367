"""What every API module shares: a blueprint whose request parsing fails as a 400 naming each
bad field, the bearer-token guard, and the acting user."""
from __future__ import annotations

import threading
from datetime import datetime
from http import HTTPStatus

from cachetools import TTLCache
from flask import current_app, g, request
from flask_smorest import Blueprint
from marshmallow import missing
from webargs.flaskparser import FlaskParser
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Unauthorized

from gridloop.engine import inputs, org
from gridloop.engine.errors import InvalidInput

from ..services import now, reading

def flatten(messages, prefix: str = "") -> dict[str, str]:
    """marshmallow's nested messages as {"reporter.phone": "..."}, like the engine's fields."""
    if not isinstance(messages, dict):
        return {prefix or "body": "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)}
    fields: dict[str, str] = {}
    for key, value in messages.items():
        name = "body" if key == "_schema" else str(key)
        fields.update(flatten(value, f"{prefix}.{name}" if prefix else name))
    return fields


class Parser(FlaskParser):
    """Schema errors and malformed JSON become InvalidInput, answered 400 by the one handler
    (instead of flask-smorest's own 422 shape)."""

    DEFAULT_VALIDATION_STATUS = 400

    def handle_error(self, error, req, schema, *, error_status_code, error_headers):
        messages = error.messages
        if isinstance(messages, dict) and len(messages) == 1 and next(iter(messages)) in self.__location_map__:
            messages = next(iter(messages.values()))  # drop webargs' location level ("json", "query")
        fields = flatten(messages)
        raise InvalidInput("invalid request: " + "; ".join(f"{k}: {v}" for k, v in fields.items()), fields=fields)

    def _handle_invalid_json_error(self, error, req, *args, **kwargs):
        raise InvalidInput(f"request body is not valid JSON: {error}", fields={"body": "not valid JSON"})

    def _raw_load_json(self, req):
        """The body, refused (400 naming the place) where no database would store it alike:
        see ``engine.inputs.check_json``."""
        try:
            body = super()._raw_load_json(req)
        except RecursionError:
            too_deep = f"nested deeper than {inputs.MAX_DEPTH} levels"
            raise InvalidInput(f"request body is {too_deep}", fields={"body": too_deep}) from None
        if body is not missing:
            inputs.check_json(body)
        return body


class ApiBlueprint(Blueprint):
    """An API blueprint: 400 for bad input, and a bearer token required unless ``@public``.
    Its OpenAPI document lists every error an operation may answer (and no catch-all)."""

    ARGUMENTS_PARSER = Parser()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.before_request(authenticate)
        self._prepare_doc_cbks.append(self._prepare_errors_doc)

    @staticmethod
    def _prepare_errors_doc(doc, doc_info, **kwargs):
        """400 (a malformed query, path or body value), 401 unless public, 413 for a body, and
        what the view declares with ``@errors``."""
        codes = {400, *doc_info.get("errors", ())}
        if doc_info.get("manual_doc", {}).get("security") != []:
            codes.add(401)
        if "requestBody" in doc:
            codes.add(413)
        responses = doc.setdefault("responses", {})
        for code in codes:
            responses.setdefault(code, HTTPStatus(code).name)  # flask-smorest's response components
        doc["responses"] = dict(sorted(responses.items(), key=lambda item: str(item[0])))
        return doc


def errors(*codes: int):
    """Document the errors a view answers besides those every operation may (400, 401, 413)."""
    def mark(view):
        view._apidoc = {**getattr(view, "_apidoc", {}), "errors": codes}
        return view
    return mark


def public(view):
    """Mark an endpoint as needing no bearer token (and say so in the OpenAPI document)."""
    view.public = True
    return Blueprint.doc(security=[])(view)


class TokenCache:
    """Bearer tokens this process resolved lately, each kept ``seconds`` (and never past its
    expiry): a client's burst of requests costs one lookup. A token's user deactivated (or
    changed) meanwhile is seen at most that much later."""

    def __init__(self, seconds: float, size: int = 10_000):
        self._items: TTLCache | None = TTLCache(maxsize=size, ttl=seconds) if seconds > 0 else None
        self._lock = threading.Lock()

    def get(self, token: str, now: datetime) -> org.Actor | None:
        if self._items is None:
            return None
        with self._lock:
            item = self._items.get(token)
        return item[0] if item is not None and now < item[1] else None

    def put(self, token: str, actor: org.Actor, expires_at: datetime) -> None:
        if self._items is not None:
            with self._lock:
                self._items[token] = (actor, expires_at)

    def drop(self, token: str) -> None:
        if self._items is not None:
            with self._lock:
                self._items.pop(token, None)


def authenticate() -> None:
    """Before every API request: resolve ``Authorization: Bearer <token>`` (one SHA-256 lookup,
    or none if this process resolved the token a moment ago)."""
    if getattr(current_app.view_functions.get(request.endpoint), "public", False):
        return
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <token> (from POST /api/v1/auth/token)",
                           www_authenticate=WWWAuthenticate("Bearer"))
    cache, current = current_app.extensions["gridloop_tokens"], now()
    found = cache.get(token, current)
    if found is None:
        with reading() as s:
            resolved = org.actor_for_token(s, token, current)
        if resolved is None:
            raise Unauthorized("invalid or expired token", www_authenticate=WWWAuthenticate("Bearer"))
        found = resolved[0]
        cache.put(token, *resolved)
    g.api_actor, g.api_token = found, token


def actor() -> org.Actor:
    return g.api_actor
