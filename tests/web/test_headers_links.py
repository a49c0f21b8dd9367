"""What the browser is told: security headers, the session cookie's flags, and links sent out
that point at the configured public URL whatever Host the request named."""
from __future__ import annotations

import os
import re

import pytest

from gridloop.web import create_app

from .conftest import RESOLVED, Browser

TEMPLATES = os.path.join(os.path.dirname(__file__), "..", "..", "web", "templates")


def header_app(world, **config):
    return create_app({"TESTING": True, "RUNTIME": world, "SECRET_KEY": "k", **config})


@pytest.mark.parametrize("path, status", [("/sign-in", 200), ("/inbox/mine", 200), ("/no-such-page", 404),
                                          ("/static/gridloop.css", 200), ("/api/v1/me", 401)])
def test_every_response_carries_the_security_headers(as_user, path, status):
    response = as_user("grid1").get(path, status=status)
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_templates_hold_no_inline_script_or_style():
    """The CSP blocks inline code: a page that relied on it would break in the browser."""
    for name in os.listdir(TEMPLATES):
        with open(os.path.join(TEMPLATES, name), encoding="utf-8") as fh:
            html = fh.read()
        assert not re.search(r"<script(?![^>]*\ssrc=)", html), name
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", html, re.I), name


def session_cookie(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def sign_in_cookie(app, base_url: str = "http://localhost") -> str:
    browser = Browser(app.test_client())
    browser.get("/sign-in", base_url=base_url)
    return session_cookie(browser.post("/sign-in", {"username": "grid1", "password": "demo"}, base_url=base_url,
                                       headers={"Referer": f"{base_url}/sign-in"}))  # checked over HTTPS


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(world):
    plain = sign_in_cookie(header_app(world))
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert "Secure" in sign_in_cookie(header_app(world), "https://localhost")  # the request came over HTTPS
    assert "Secure" in sign_in_cookie(header_app(world, PUBLIC_URL="https://gridloop.example"))  # TLS ends at a proxy


def test_feedback_links_use_the_public_url_never_the_host_header(world, api):
    app = header_app(world, PUBLIC_URL="https://gridloop.example/hub/")
    client = app.test_client()
    token = api.token("acceptor1")  # who makes the callback sees the link
    case = api.report("grid1")
    api.step(case["id"], "grid1", RESOLVED)
    api.step(case["id"], "community1", {"outcome": "passed"})
    evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example", "Authorization": f"Bearer {token}"}
    url = client.get(f"/api/v1/cases/{case['id']}", headers=evil).get_json()["feedback_url"]
    assert re.fullmatch(r"https://gridloop\.example/hub/f/[\w-]+", url)
    browser = Browser(client)
    browser.sign_in("acceptor1")
    client.set_cookie("session", client.get_cookie("session").value, domain="evil.example")
    page = browser.get(f"/cases/{case['id']}", headers={"Host": "evil.example"}).get_data(True)
    assert f'href="{url}"' in page and "evil.example" not in page


@pytest.mark.parametrize("url", ["gridloop.example", "ftp://gridloop.example", "https://", "https://x.example/?a=1"])
def test_a_public_url_that_is_no_http_base_is_refused_at_start(world, url):
    with pytest.raises(ValueError, match="GRIDLOOP_PUBLIC_URL must be"):
        header_app(world, PUBLIC_URL=url)


def test_the_environment_sets_public_url_limits_storage_and_proxies(monkeypatch, world):
    monkeypatch.setenv("GRIDLOOP_PUBLIC_URL", "https://gridloop.example")
    monkeypatch.setenv("GRIDLOOP_SIGNIN_LIMIT", "5 per hour")
    monkeypatch.setenv("GRIDLOOP_SIGNIN_ADDRESS_LIMIT", "50 per hour")
    monkeypatch.setenv("GRIDLOOP_RATELIMIT_STORAGE_URL", "memory://")
    monkeypatch.setenv("GRIDLOOP_TRUSTED_PROXIES", "1")
    config = header_app(world).config
    assert (config["PUBLIC_URL"], config["SIGNIN_LIMIT"], config["SIGNIN_ADDRESS_LIMIT"], config["TRUSTED_PROXIES"],
            config["SESSION_COOKIE_SECURE"]) == ("https://gridloop.example", "5 per hour", "50 per hour", 1, True)
    monkeypatch.setenv("GRIDLOOP_TRUSTED_PROXIES", "one")
    with pytest.raises(ValueError, match="GRIDLOOP_TRUSTED_PROXIES must be a whole number"):
        header_app(world)
