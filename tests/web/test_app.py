"""The app factory: configuration from the environment, a secret key that survives restarts."""
from __future__ import annotations

import os
import stat

import pytest

from gridloop.web import create_app, settings


def test_secret_key_is_created_once_and_kept(tmp_path):
    first = settings.instance_secret(str(tmp_path / "instance"))
    path = tmp_path / "instance" / "secret_key"
    assert len(first) == 64 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert settings.instance_secret(str(tmp_path / "instance")) == first  # a restart keeps the sessions


def test_environment_configures_database_and_secret(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path}/env.sqlite"
    monkeypatch.setenv("GRIDLOOP_DATABASE_URL", url)
    monkeypatch.setenv("GRIDLOOP_SECRET_KEY", "from-env")
    app = create_app()
    assert app.config["SECRET_KEY"] == "from-env"
    assert app.extensions["gridloop"].db.url == url
    assert create_app({"SECRET_KEY": "given"}).config["SECRET_KEY"] == "given"  # the caller wins


def test_token_cache_time_comes_from_the_environment_and_must_be_a_number(monkeypatch, runtime):
    monkeypatch.setenv("GRIDLOOP_API_TOKEN_CACHE_SECONDS", "0.5")
    assert create_app({"RUNTIME": runtime, "SECRET_KEY": "x"}).config["API_TOKEN_CACHE_SECONDS"] == 0.5
    monkeypatch.setenv("GRIDLOOP_API_TOKEN_CACHE_SECONDS", "five")
    with pytest.raises(ValueError, match="GRIDLOOP_API_TOKEN_CACHE_SECONDS must be a number"):
        create_app({"RUNTIME": runtime, "SECRET_KEY": "x"})


def test_given_runtime_is_reused_and_health_needs_nothing(runtime):
    app = create_app({"RUNTIME": runtime, "SECRET_KEY": "x"})
    assert app.extensions["gridloop"] is runtime and "RUNTIME" not in app.config
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_request_size_limit_comes_from_the_environment(monkeypatch, runtime):
    monkeypatch.setenv("GRIDLOOP_MAX_REQUEST_BYTES", "4096")
    app = create_app({"RUNTIME": runtime, "SECRET_KEY": "x"})
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    response = app.test_client().post("/api/v1/auth/token", data="x" * 5000, content_type="application/json")
    assert (response.status_code, response.get_json()["error"]["code"]) == (413, "too_large")
    monkeypatch.setenv("GRIDLOOP_MAX_REQUEST_BYTES", "1MB")
    with pytest.raises(ValueError, match="GRIDLOOP_MAX_REQUEST_BYTES must be a number of bytes"):
        create_app({"RUNTIME": runtime, "SECRET_KEY": "x"})
