"""On a 360 px phone in Chinese: an organization's admin sets the order its people are tried
in by tapping (no ids, nothing typed), and a volunteer switches WeChat messages off."""
from __future__ import annotations

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser_support import PHONE_VIEWPORT, phones, scroll_width
from volunteer_hub.notify import services

pytestmark = pytest.mark.browser


def _fits(page) -> None:
    assert scroll_width(page) <= PHONE_VIEWPORT["width"], f"{page.url} scrolls sideways"
    assert_accessible(page)


@pytest.fixture
def phone(browser, live_server, db):
    with phones(browser, live_server, "zh-CN", {"locale": "zh_Hans"}) as open_phone:
        yield open_phone


def test_admin_sets_the_channel_order_by_tapping(phone, tree, make_staff):
    admin = make_staff(tree["street"], "admin")
    page = phone(admin.phone)
    page.goto("/org/channel-order")
    _fits(page)
    page.click("main a:has-text('甲社区')")
    page.wait_for_url("**/channel-order")
    assert "默认顺序" in page.inner_text("[data-set-by]")
    page.select_option("#place_1", label="微信")
    page.select_option("#place_2", label="短信")
    page.select_option("#place_3", label="电子邮件")
    page.select_option("#place_4", label="（不选）")
    _fits(page)
    page.click("main form button[type=submit]")
    page.wait_for_selector("[data-order] li")
    assert page.locator("[data-order] li").all_inner_texts() == [
        "微信", "短信", "电子邮件", "站内信"]
    assert "由本组织设置" in page.inner_text("[data-set-by]")
    _fits(page)


def test_volunteer_switches_wechat_messages_off(phone, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    page = phone(volunteer.user.phone)
    page.goto("/account/notifications")
    _fits(page)
    page.uncheck("#wechat")
    page.click("main form[action$='/account/notifications'] button[type=submit]")
    page.wait_for_load_state()
    services.db.session.rollback()  # a new transaction sees what the server committed
    assert services.get_preference(volunteer.user_id).wechat is False
