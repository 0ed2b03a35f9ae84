"""On a 360 px phone in Chinese: a volunteer makes a calendar link, copies it with one tap,
and revokes it; the national-record pages fit too. Nothing is typed but the login."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser_support import CHROMIUM, PHONE_VIEWPORT, phones, screenshot, scroll_width

pytestmark = pytest.mark.browser


def _fits(page) -> None:
    assert scroll_width(page) <= PHONE_VIEWPORT["width"], f"{page.url} scrolls sideways"
    assert_accessible(page)


@pytest.fixture
def phone(browser, live_server, db):
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    with phones(browser, live_server, "zh-CN", {"locale": "zh_Hans"}) as open_phone:
        yield open_phone


def test_volunteer_subscribes_copies_and_revokes(phone, tree, make_volunteer, live_server):
    volunteer = make_volunteer(tree["b"])
    me = phone(volunteer.user.phone)
    me.goto("/me/calendar")
    assert "订阅到手机日历" in me.inner_text("h1")
    _fits(me)
    me.click("main button:has-text('生成我的日历链接')")
    me.wait_for_selector("#feed-link")
    link = me.input_value("#feed-link")
    assert link.startswith(live_server + "/feeds/")
    assert me.get_attribute("#feed-webcal", "href").startswith("webcal://")
    _fits(me)
    screenshot(me, "land-calendar-link")
    me.click("button[data-copy-target]")
    me.wait_for_function(
        "document.querySelector('button[data-copy-target]').textContent.includes('已复制')")
    feed = me.request.get(link)
    assert feed.status == 200 and b"BEGIN:VCALENDAR" in feed.body()
    me.goto("/me/calendar")
    me.click("main button:has-text('撤销链接')")
    me.wait_for_load_state()
    assert me.request.get(link).status == 404


def test_national_record_pages_fit_a_phone(phone, tree, make_staff, make_volunteer):
    admin = make_staff(tree["b"], "admin")
    volunteer = make_volunteer(tree["b"])
    page = phone(admin.phone)
    page.goto("/org/national")
    assert "全国志愿服务信息系统" in page.inner_text("main")
    _fits(page)
    screenshot(page, "land-national-org")
    me = phone(volunteer.user.phone)
    me.goto("/me/national-record")
    assert me.locator("a:has-text('下载 CSV')").count() == 1
    _fits(me)
