"""The REST API at /api/v1 (flask-smorest), its OpenAPI document at /api/v1/openapi.json."""
from __future__ import annotations

from flask import Flask
from flask_smorest import Api
from flask_wtf.csrf import CSRFProtect

from . import (account, cases, definitions, exceptions, feedback, groups, incidents, liaisons, metrics, notifications,
               photos, processes, schemas, tasks)
from .core import TokenCache

BLUEPRINTS = (account.blp, cases.blp, exceptions.blp, tasks.blp, processes.blp, definitions.blp, incidents.blp,
              feedback.blp, metrics.blp, groups.blp, liaisons.blp, notifications.blp, photos.blp)


class GridloopApi(Api):
    ERROR_SCHEMA = schemas.Error
    DEFAULT_ERROR_RESPONSE_NAME = None  # no catch-all: each operation lists its errors (core.ApiBlueprint)

    def _register_error_handlers(self):
        """None: web.errors renders every error of the app, the API's as JSON."""


def init_app(app: Flask, csrf: CSRFProtect) -> None:
    app.extensions["gridloop_tokens"] = TokenCache(app.config["API_TOKEN_CACHE_SECONDS"])
    api = GridloopApi(app, spec_kwargs={"security": [{"bearer": []}]})
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for blp in BLUEPRINTS:
        csrf.exempt(blp)  # bearer tokens, not cookies: no cross-site forgery to guard against
        api.register_blueprint(blp)
