"""Gridloop's web layer: HTML pages and the REST API over the engine's service functions.

Thin on purpose: a view parses the request, calls one engine function and renders the result.
"""
from __future__ import annotations

import os

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gridloop.engine.db import Database
from gridloop.engine.runtime import Runtime

from . import (api, auth, cases, dashboard, designer, diagrams, errors, feedback, i18n, inbox, incidents, limits,
               notifications, open311, pages, photos, residents, security, settings, throttle, vendor)

csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment; ``RUNTIME`` reuses a Runtime
    (tests), else one is made for ``DATABASE_URL`` (GRIDLOOP_DATABASE_URL or the SQLite default)."""
    # The instance folder (secret key, the default SQLite file) is ./instance wherever the app is
    # started, for a source checkout and an installed package alike.
    app = Flask(__name__, instance_path=os.path.abspath("instance"), instance_relative_config=True)
    app.config.from_mapping(settings.DEFAULTS)
    app.config.update(settings.from_env())
    app.config.update(config or {})
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = settings.instance_secret(app.instance_path)
    app.extensions["gridloop"] = app.config.pop("RUNTIME", None) or Runtime(Database(app.config.get("DATABASE_URL")))
    app.json.sort_keys = False  # keep the schemas' field order
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    security.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)
    pages.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    vendor.init_app(app)
    for blueprint in (auth.bp, inbox.bp, cases.bp, feedback.bp, designer.bp, incidents.bp, dashboard.bp,
                      diagrams.bp, residents.bp, open311.bp, notifications.bp, photos.bp):
        app.register_blueprint(blueprint)
    api.init_app(app, csrf)
    csrf.exempt(open311.bp)  # client applications sign with an api_key, not a session cookie
    throttle.init_app(app)

    @app.get("/favicon.ico")
    def favicon():
        """Browsers ask for it on every page: the same icon the pages link."""
        return app.send_static_file("favicon.svg")

    @app.get("/healthz")
    def healthz():
        """Liveness for load balancers; touches nothing."""
        return {"status": "ok"}

    return app
