"""On a phone, in Chinese: download my data and close my account from the account page."""
from __future__ import annotations

import json
import zipfile

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT, phones, screenshot, scroll_width

pytestmark = pytest.mark.browser


def test_download_my_data_then_close_my_account(browser, live_server, db, served, tmp_path):
    volunteer = served["volunteer"]
    phone = volunteer.user.phone
    with phones(browser, live_server, "zh-CN", {}) as open_phone:
        page = open_phone(login=phone)
        page.goto("/account")
        assert scroll_width(page) <= PHONE_VIEWPORT["width"]
        with page.expect_download() as download_info:
            page.get_by_role("link", name="下载我的数据").click()
        saved = tmp_path / "mine.zip"
        download_info.value.save_as(saved)
        with zipfile.ZipFile(saved) as archive:
            data = json.loads(archive.read("data.json"))
            assert "README.txt" in archive.namelist()
        assert data["sections"]["profile"][0]["real_name"] == "李小梅"
        assert [row["minutes"] for row in data["sections"]["service_records"]] == [180]

        page.get_by_role("link", name="谁查看过我的身份证号、注销账号").click()
        page.wait_for_load_state()
        assert scroll_width(page) <= PHONE_VIEWPORT["width"]
        screenshot(page, "privacy-my-data")
        page.get_by_role("link", name="注销账号").click()
        page.wait_for_load_state()
        assert scroll_width(page) <= PHONE_VIEWPORT["width"]
        page.get_by_label("您的密码").fill(factories.PASSWORD)
        page.get_by_text("我已了解").click()
        screenshot(page, "privacy-close-form")
        page.get_by_role("button", name="立即注销账号").click()
        page.wait_for_load_state()
        screenshot(page, "privacy-closed")
        assert "已注销志愿者 #" in page.inner_text("main")
        assert scroll_width(page) <= PHONE_VIEWPORT["width"]
        # the account is gone: logging in again is refused
        page.goto("/login")
        page.fill("#login", phone)
        page.fill("#password", factories.PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_load_state()
        assert "/login" in page.url and page.locator(".form-errors").count() == 1
