"""HTTP guards on every response: security headers, `no-store`, the session cookie's
Secure flag, trusted proxies.

The headers are added by a WSGI layer around the whole app (GuardedFlask.__call__) rather
than a Flask `after_request` hook so that the one-tap answer's fast lane
(emergency/fast_answer.py), which answers before Flask, gets them too: one place for every
response. docs/ARCHITECTURE.md "Guards (issue 11)" says why
this is not flask-talisman.
"""
from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.datastructures import Headers
from werkzeug.middleware.proxy_fix import ProxyFix

# Every script is a file under /static (no inline <script>, no on*="..." handlers), so
# scripts need no 'unsafe-inline' and no nonce. Inline style attributes remain in templates
# and in Swagger UI; styles cannot run code, so they stay allowed.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

# "same-origin", not "no-referrer": Flask-WTF checks the Referer of form posts over HTTPS.
BASELINE_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


class SecurityHeaders:
    """WSGI middleware adding the security headers to every response.

    `Cache-Control: no-store` goes on every response outside the static files unless the
    view chose its own caching (only public assets do: /sw.js, the web app manifest): pages,
    API answers and errors may all carry personal data, and telling them apart per view is
    where a leak would slip through.
    """

    def __init__(self, app, static_url_path: str):
        self.app = app
        self.static_prefix = static_url_path.rstrip("/") + "/"

    def __call__(self, environ, start_response):
        def start_with_guards(status, headers, exc_info=None):
            return start_response(status, self.guarded(environ, headers), exc_info)

        return self.app(environ, start_with_guards)

    def guarded(self, environ, header_list) -> list[tuple[str, str]]:
        headers = Headers(header_list)
        for name, value in BASELINE_HEADERS:
            headers.setdefault(name, value)
        if environ.get("wsgi.url_scheme") == "https":
            headers.setdefault(*HSTS)
        if not environ.get("PATH_INFO", "").startswith(self.static_prefix):
            headers.setdefault("Cache-Control", "no-store")
        return headers.to_wsgi_list()


class SessionCookies(SecureCookieSessionInterface):
    """The session cookie is Secure whenever the request came over HTTPS (as seen through
    the trusted proxies); SESSION_COOKIE_SECURE=1 forces it for every request."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


class GuardedFlask(Flask):
    """Flask with the HTTP guards as the outermost layer: WSGI servers and the test client
    call the app object, so the guards see every response, the fast lane's included, while
    `app.wsgi_app` stays the lane (tests and tools reach it there)."""

    guards = None  # set by install_http_guards

    def __call__(self, environ, start_response):
        if self.guards is None:
            return super().__call__(environ, start_response)
        return self.guards(environ, start_response)


def install_http_guards(app: GuardedFlask) -> None:
    """ProxyFix outermost (the headers and Flask then see the client's address and scheme),
    then the security headers around `app.wsgi_app`, looked up per request."""
    app.session_interface = SessionCookies()
    guards = SecurityHeaders(lambda environ, start: app.wsgi_app(environ, start),
                             app.static_url_path)
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies > 0:
        # Only the client address and the scheme: those are what the proxy sets and what
        # the limits, HSTS and the Secure cookie depend on.
        guards = ProxyFix(guards, x_for=proxies, x_proto=proxies)
    app.guards = guards
