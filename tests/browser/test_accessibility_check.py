"""The vendored axe-core check reports what it should (so a journey's clean pass means
something), and the site's own pages load it despite their Content-Security-Policy."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible, violations

pytestmark = pytest.mark.browser


def test_a_picture_without_text_and_a_nameless_button_are_reported(page):
    page.set_content('<!doctype html><html lang="en"><title>t</title><main>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button>'
                     '</main></html>')
    found = {violation["id"]: violation["impact"] for violation in violations(page)}
    assert found == {"image-alt": "critical", "button-name": "critical"}
    with pytest.raises(AssertionError, match="image-alt"):
        assert_accessible(page)


def test_the_login_page_passes_under_its_content_security_policy(browser, live_server, db):
    context = browser.new_context(base_url=live_server, locale="zh-CN")  # no bypass_csp
    try:
        login = context.new_page()
        login.goto("/login")
        assert_accessible(login)
    finally:
        context.close()
