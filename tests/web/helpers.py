"""Helpers for page tests: CSRF tokens come from the rendered HTML, as in a browser."""
from __future__ import annotations

import re

from tests import factories

_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client, url: str = "/login") -> str:
    """GET `url` and return the CSRF token printed in it."""
    response = client.get(url)
    html = response.get_data(as_text=True)
    match = _INPUT.search(html) or _META.search(html)
    assert match, f"no csrf token on {url} ({response.status_code})"
    return match.group(1)


def post_form(client, url: str, data: dict, *, form_url: str | None = None, **kwargs):
    """POST `data` to `url` with the CSRF token taken from `form_url` (default: `url`)."""
    payload = {"csrf_token": csrf_token(client, form_url or url), **data}
    return client.post(url, data=payload, **kwargs)


def login(client, user, password: str = factories.PASSWORD):
    response = post_form(client, "/login", {"login": user.phone, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def text(response) -> str:
    return response.get_data(as_text=True)


def signup_data(community, **overrides) -> dict:
    data = {
        "real_name": "李四",
        "id_type": "mainland_id",
        "id_number": factories.make_id_number(),
        "phone": factories.unique_phone(),
        "password": factories.PASSWORD,
        "community_id": str(community.id),
        "languages": ["zh"],
        "agree_terms": "y",
        "agree_sensitive_data": "y",
    }
    data.update(overrides)
    return data
