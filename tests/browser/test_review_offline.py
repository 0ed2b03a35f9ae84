"""Review fix: what the service worker kept for one volunteer is not shown to the next person
on the phone when the first one's session simply ended (no tap on 退出)."""
from __future__ import annotations

import time

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN",
                                  base_url=live_server, device_scale_factor=1)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _log_in(page, user) -> None:
    page.goto("/login")
    page.fill("#login", user.phone)
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


KEPT_HOURS = ("caches.open('vh-pages-v1').then(c => c.keys())"
              ".then(keys => keys.some(k => new URL(k.url).pathname === '/me/hours'))")


def _until_kept(page, expected: bool) -> None:
    for _ in range(50):
        if page.evaluate(KEPT_HOURS) is expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"/me/hours kept: expected {expected}")


def test_pages_kept_offline_are_forgotten_when_the_session_ends(phone, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    _log_in(phone, volunteer.user)
    phone.goto("/me/profile")
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.goto("/me/hours")
    phone.reload()  # under the worker's control: this load is kept
    _until_kept(phone, True)
    phone.context.clear_cookies()  # the session ended without 退出
    phone.goto("/me/hours")  # sends the next person to the login page
    assert "/login" in phone.url
    _until_kept(phone, False)
    phone.context.set_offline(True)
    phone.goto("/me/hours")
    assert phone.locator("h1").inner_text() == "没有网络连接"  # the offline page is still kept
    phone.context.set_offline(False)
