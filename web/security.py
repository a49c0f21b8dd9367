"""What the browser is told to protect: security headers on every response (a WSGI middleware:
no per-request hook), a session cookie that is Secure over HTTPS, the client's real address and
scheme behind trusted proxies, and absolute links built from the configured public URL, never
from the request's Host header."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, after_this_request, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer
from werkzeug.middleware.proxy_fix import ProxyFix

HEADERS = {
    # The pages load their CSS (and any script) from /static only: no inline code runs.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Not no-referrer: Flask-WTF requires a same-site Referer on form posts over HTTPS.
    "Referrer-Policy": "same-origin",
}


class SecurityHeaders:
    """WSGI middleware: each response gets the headers it does not set itself."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.names = {name.lower() for name in HEADERS}

    def __call__(self, environ, start_response):
        def start(status, headers, exc_info=None):
            present = {name.lower() for name, _value in headers} & self.names
            headers.extend((name, value) for name, value in HEADERS.items() if name.lower() not in present)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)


class SessionInterface(SecureCookieSessionInterface):
    """The session cookie is Secure when configured (an https public URL) or the request came
    over HTTPS. Its signing serializer is made once per set of keys, not on every request."""

    def __init__(self):
        self._serializers: dict[tuple, URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        keys = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def external_url(endpoint: str, **values) -> str:
    """An absolute URL to send out (the reporter's feedback link), on PUBLIC_URL."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


# dmn-js's decision tables (inferno) set style attributes in markup; pages that show them allow
# style attributes only (CSP3 style-src-attr), never <style> elements or inline scripts.
STYLE_ATTRIBUTES = "; style-src-attr 'unsafe-inline'"


def allow_style_attributes() -> None:
    """This response's CSP also allows style attributes (a page with DMN decision tables)."""
    _relax_csp()
    g.csp_style_attributes = True


# dmn-js's modeler edits expressions in CodeMirror, which adds <style> elements and takes no
# nonce from outside: the modeler page (designers only) allows inline styles, never inline scripts.
INLINE_STYLES = ("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def allow_inline_styles() -> None:
    """This response's CSP also allows <style> elements and style attributes (the modeler)."""
    _relax_csp()
    g.csp_inline_styles = True


def _relax_csp() -> None:
    """Once per request: the response's CSP as its page asked (inline styles over attributes)."""
    if g.get("csp_style_attributes") or g.get("csp_inline_styles"):
        return

    @after_this_request
    def relax(response):
        csp = response.headers.get("Content-Security-Policy", HEADERS["Content-Security-Policy"])
        if g.get("csp_inline_styles"):
            response.headers["Content-Security-Policy"] = csp.replace(*INLINE_STYLES)
        else:
            response.headers["Content-Security-Policy"] = csp + STYLE_ATTRIBUTES
        return response


def init_app(app: Flask) -> None:
    public = urlsplit(app.config["PUBLIC_URL"])
    if public.scheme not in ("http", "https") or not public.netloc or public.query or public.fragment:
        raise ValueError(f"GRIDLOOP_PUBLIC_URL must be http(s)://host[:port][/path], not {app.config['PUBLIC_URL']!r}")
    if public.scheme == "https":
        app.config["SESSION_COOKIE_SECURE"] = True
    app.session_interface = SessionInterface()
    app.wsgi_app = SecurityHeaders(app.wsgi_app)
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
