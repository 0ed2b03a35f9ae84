"""HTTP guards (issue 11, item 4): security headers on every response, no-store where personal
data may be, the session cookie's flags, trusted proxies and the request size limit."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.helpers import login, text
from volunteer_hub import create_app

PACKAGE = Path(__file__).resolve().parents[2] / "volunteer_hub"
HTTPS = "https://localhost"


def csp_directives(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: " ".join(part.split()[1:])
            for part in (p.strip() for p in policy.split(";")) if part}


def assert_guarded(response) -> None:
    directives = csp_directives(response)
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no wildcard
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def session_cookie(response) -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies, response.headers
    return cookies[0]


@pytest.mark.parametrize("method, url, status", [
    ("GET", "/login", 200),                   # a page
    ("GET", "/api/openapi.json", 200),        # the API
    ("GET", "/api/v1/me", 401),               # an API error
    ("GET", "/api/v1/no-such-thing", 404),
    ("GET", "/no-such-page", 404),            # an error page
    ("DELETE", "/login", 405),
    ("GET", "/static/css/app.css", 200),      # a static file
])
def test_every_kind_of_response_carries_the_security_headers(client, method, url, status):
    response = client.open(url, method=method)
    assert response.status_code == status
    assert_guarded(response)


def test_the_one_tap_fast_lane_answers_with_the_headers_too(app, client, monkeypatch):
    lane = app.wsgi_app
    monkeypatch.setattr(lane, "_answer", lambda *args: b'{"answer": "coming"}')
    response = client.post("/api/v1/emergency/respond/some-token",
                           json={"answer": "coming", "eta_minutes": 5})
    assert response.get_json() == {"answer": "coming"}  # answered by the lane, not by Flask
    assert_guarded(response)
    assert response.headers["Cache-Control"] == "no-store"


def test_pages_and_api_answers_with_personal_data_are_never_stored(client, tree, make_volunteer,
                                                                    auth_header):
    volunteer = make_volunteer(tree["a"], real_name="王小明")
    headers = auth_header(volunteer.user)
    me = client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.headers["Cache-Control"] == "no-store"
    login(client, volunteer.user)
    profile = client.get("/me")
    assert profile.status_code == 200 and "王小明" in text(profile)
    assert profile.headers["Cache-Control"] == "no-store"


def test_errors_are_not_stored_either(client):
    assert client.get("/api/v1/me").headers["Cache-Control"] == "no-store"
    assert client.get("/no-such-page").headers["Cache-Control"] == "no-store"


def test_static_files_stay_cacheable(client):
    response = client.get("/static/css/app.css")
    assert "no-store" not in response.headers.get("Cache-Control", "")


def test_hsts_is_sent_over_https_only(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    hsts = client.get("/login", base_url=HTTPS).headers["Strict-Transport-Security"]
    assert re.fullmatch(r"max-age=\d{8,}", hsts)


@pytest.fixture
def app_with_proxies(app, db):
    """A second app on the same database with TRUSTED_PROXIES set (and, unlike `client`, no
    app context of its own left open, so every request starts a fresh session)."""
    def make(proxies: int = 0):
        keys = ("DATABASE_URL", "SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY",
                "ARGON2_PARAMETERS")
        return create_app({**{k: app.config[k] for k in keys}, "TESTING": True,
                           "WTF_CSRF_ENABLED": False, "TRUSTED_PROXIES": proxies})
    return make


def test_session_cookie_is_lax_and_http_only_and_secure_under_https(app_with_proxies):
    plain = app_with_proxies()
    over_http = session_cookie(plain.test_client().get("/login"))
    over_https = session_cookie(plain.test_client().get("/login", base_url=HTTPS))
    for cookie in (over_http, over_https):
        assert "SameSite=Lax" in cookie and "HttpOnly" in cookie
    assert "Secure" in over_https
    assert "Secure" not in over_http  # `make run` on http://127.0.0.1 still keeps a session


# --- trusted proxies -----------------------------------------------------------------------------

def test_forwarded_scheme_counts_only_behind_a_configured_proxy(app_with_proxies):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    proxied = app_with_proxies(1).test_client().get("/login", headers=forwarded)
    assert "Strict-Transport-Security" in proxied.headers
    assert "Secure" in session_cookie(proxied)
    direct = app_with_proxies(0).test_client().get("/login", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers
    assert "Secure" not in session_cookie(direct)


def guesses_until_limited(client, forwarded_for: str, count: int = 11) -> list[int]:
    """`count` wrong logins for different accounts, from one proxy, for one forwarded client."""
    return [client.post("/api/v1/tokens", json={"login": f"1390000{n:04d}", "password": "x"},
                        headers={"X-Forwarded-For": forwarded_for},
                        environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code
            for n in range(count)]


def test_forwarded_client_address_counts_only_behind_a_configured_proxy(app_with_proxies):
    proxied = app_with_proxies(1).test_client()
    assert guesses_until_limited(proxied, "203.0.113.1")[-1] == 429
    # Another client behind the same proxy keeps its own bucket.
    assert guesses_until_limited(proxied, "203.0.113.2", count=1) == [401]

    direct = app_with_proxies(0).test_client()
    assert guesses_until_limited(direct, "198.51.100.1")[-1] == 429
    # Not behind a proxy: a forged X-Forwarded-For does not buy a fresh bucket.
    assert guesses_until_limited(direct, "198.51.100.2", count=1) == [429]


# --- request size --------------------------------------------------------------------------------

def test_an_oversize_api_body_answers_413_in_the_users_language(app, client):
    body = b'{"login": "' + b"1" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    response = client.post("/api/v1/tokens", data=body, content_type="application/json",
                           headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 413
    assert response.get_json()["error"] == "PAYLOAD_TOO_LARGE"
    assert response.get_json()["message"] == "请求内容过大。"
    assert_guarded(response)
    english = client.post("/api/v1/tokens", data=body, content_type="application/json")
    assert english.get_json()["message"] == "The request is too large."


def test_an_oversize_form_answers_a_413_page(app, client):
    response = client.post("/login", data={"login": "1" * app.config["MAX_CONTENT_LENGTH"]})
    assert response.status_code == 413
    assert "The request is too large." in text(response)


# --- no inline script anywhere (the policy would block it) ---------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>")
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("template", sorted(PACKAGE.rglob("templates/**/*.html")),
                         ids=lambda path: str(path.relative_to(PACKAGE)))
def test_templates_hold_no_inline_script_or_event_handler(template):
    source = template.read_text()
    assert not INLINE_SCRIPT.search(source)
    assert not EVENT_HANDLER.search(source)


def test_api_docs_page_starts_swagger_ui_from_a_file(client):
    page = text(client.get("/api/docs"))
    assert "SwaggerUIBundle" not in page  # flask-smorest's own page starts it inline
    assert not INLINE_SCRIPT.search(page)
    assert '<script src="/static/js/swagger-init.js">' in page
