"""Configuration: defaults, then the environment, then what the caller of ``create_app`` passes."""
from __future__ import annotations

import os
import secrets

DEFAULTS = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # A token per session, not per hour: an inbox left open over lunch still submits.
    "WTF_CSRF_TIME_LIMIT": None,
    "API_TITLE": "Gridloop",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api/v1",
    "OPENAPI_JSON_PATH": "openapi.json",
    # How long a process trusts a bearer token it resolved (a client's burst of requests costs
    # one lookup); also the longest a deactivated user's token keeps working. 0 turns it off.
    "API_TOKEN_CACHE_SECONDS": 5.0,
}


def from_env() -> dict:
    """GRIDLOOP_SECRET_KEY, GRIDLOOP_DATABASE_URL (the engine's Database reads it too) and
    GRIDLOOP_API_TOKEN_CACHE_SECONDS."""
    env = {"SECRET_KEY": os.environ.get("GRIDLOOP_SECRET_KEY"),
           "DATABASE_URL": os.environ.get("GRIDLOOP_DATABASE_URL")}
    found = {k: v for k, v in env.items() if v}
    seconds = os.environ.get("GRIDLOOP_API_TOKEN_CACHE_SECONDS")
    if seconds:
        try:
            found["API_TOKEN_CACHE_SECONDS"] = float(seconds)
        except ValueError:
            raise ValueError(f"GRIDLOOP_API_TOKEN_CACHE_SECONDS must be a number of seconds, not {seconds!r}") from None
    return found


def instance_secret(instance_path: str) -> str:
    """A random key kept in ``instance/secret_key`` so that restarts keep everyone signed in.

    Created with O_EXCL: of several workers starting at once, one writes and the rest read.
    """
    path = os.path.join(instance_path, "secret_key")
    os.makedirs(instance_path, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        with open(path, encoding="ascii") as fh:
            key = fh.read().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty; delete it or set GRIDLOOP_SECRET_KEY") from None
    key = secrets.token_hex(32)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key)
    return key
