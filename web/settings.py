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
    # Absolute links that are sent out (the reporter's feedback link) start with this, never
    # with the request's Host header; https here also makes the session cookie Secure.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    # Failed sign-ins (HTML and API together) allowed per account name and per client address.
    "SIGNIN_LIMIT": "10 per minute",
    "SIGNIN_ADDRESS_LIMIT": "30 per minute",
    # Reports residents may send without an account, per client address (QR and plain page together).
    "PUBLIC_REPORT_LIMIT": "5 per 10 minutes;20 per day",
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_KEY_PREFIX": "gridloop",
    # Redis unreachable: count in this process's memory meanwhile rather than fail sign-ins.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are believed.
    "TRUSTED_PROXIES": 0,
    # The largest request body (a report with a long description is a few KiB): larger ones
    # are refused with 413 before anything reads them.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
}
ENV = {"SECRET_KEY": "GRIDLOOP_SECRET_KEY", "DATABASE_URL": "GRIDLOOP_DATABASE_URL",
       "PUBLIC_URL": "GRIDLOOP_PUBLIC_URL", "SIGNIN_LIMIT": "GRIDLOOP_SIGNIN_LIMIT",
       "SIGNIN_ADDRESS_LIMIT": "GRIDLOOP_SIGNIN_ADDRESS_LIMIT", "PUBLIC_REPORT_LIMIT": "GRIDLOOP_PUBLIC_REPORT_LIMIT",
       "RATELIMIT_STORAGE_URI": "GRIDLOOP_RATELIMIT_STORAGE_URL"}
NUMBERS = {"API_TOKEN_CACHE_SECONDS": ("GRIDLOOP_API_TOKEN_CACHE_SECONDS", float, "a number of seconds"),
           "TRUSTED_PROXIES": ("GRIDLOOP_TRUSTED_PROXIES", int, "a whole number"),
           "MAX_CONTENT_LENGTH": ("GRIDLOOP_MAX_REQUEST_BYTES", int, "a number of bytes")}


def from_env() -> dict:
    """The settings of ENV and NUMBERS that the environment sets (the engine's Database reads
    GRIDLOOP_DATABASE_URL too)."""
    found = {key: os.environ[var] for key, var in ENV.items() if os.environ.get(var)}
    for key, (var, kind, what) in NUMBERS.items():
        value = os.environ.get(var)
        if value:
            try:
                found[key] = kind(value)
            except ValueError:
                raise ValueError(f"{var} must be {what}, not {value!r}") from None
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
