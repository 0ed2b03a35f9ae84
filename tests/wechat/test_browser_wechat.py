"""On a 360x740 phone in Chinese, inside WeChat (a MicroMessenger user agent): the first visit
goes through WeChat's authorization (the local WeChat) and, unbound, lands on the login page
saying how to bind; the volunteer logs in, binds from the account page with one tap; a later
visit in a new browser session is recognised without typing anything."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser.a11y import assert_accessible
from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width
from tests.wechat.test_login_and_binding import WECHAT_UA

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]


@pytest.fixture
def wechat_phone(browser, live_server):
    """wechat_phone() -> a new page in WeChat's browser (its own cookies), in Chinese."""
    contexts = []

    def open_phone():
        context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN",
                                      user_agent=WECHAT_UA, base_url=live_server,
                                      device_scale_factor=1)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()
    yield open_phone
    for context in contexts:
        context.close()


def test_bind_once_inside_wechat_then_be_recognised(wechat_phone, tree, make_volunteer,
                                                    wechat_config, fake_wechat, live_server):
    volunteer = make_volunteer(tree["a"])
    fake_wechat.next_openid = "oBrowserOpenid00000000000001"

    phone = wechat_phone()
    phone.goto("/")  # straight to WeChat and back: not bound yet
    phone.wait_for_url("**/login**")
    assert len(fake_wechat.authorize_requests) == 1
    assert "还没有绑定账户" in phone.locator("main").inner_text()
    assert phone.locator("a.button:has-text('微信登录')").is_visible()
    assert scroll_width(phone) <= WIDTH
    assert_accessible(phone)
    screenshot(phone, "wechat-1-not-bound")

    phone.fill("#login", volunteer.user.phone)
    phone.fill("#password", factories.PASSWORD)
    phone.click("main button[type=submit]")
    phone.wait_for_load_state()
    phone.goto("/account")
    phone.click("a.button:has-text('绑定微信')")
    phone.wait_for_url("**/wechat/account")
    assert scroll_width(phone) <= WIDTH
    assert_accessible(phone)
    phone.click("main form button:has-text('绑定微信')")
    phone.wait_for_selector("[data-wechat-binding=bound]")
    assert "微信已绑定" in phone.locator("main").inner_text()
    assert scroll_width(phone) <= WIDTH
    screenshot(phone, "wechat-2-bound")

    later = wechat_phone()  # another day: WeChat's browser kept no session
    later.goto("/")
    later.wait_for_url("**/me**")
    assert len(fake_wechat.authorize_requests) == 3  # no visit, bind, this visit
    later.goto("/account")
    assert volunteer.user.display_name in later.locator("main").inner_text()
    assert later.url.endswith("/account")  # logged in: no login page
    assert scroll_width(later) <= WIDTH
    screenshot(later, "wechat-3-recognised")
