"""On a 360 px phone in Chinese: a community's admin fills in what its certificates print
(负责人, 经办人, 联系方式, credit code, seal) by tapping, never typing an id; the volunteer
then downloads a certificate from that community and the public star notice page fits."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser_support import CHROMIUM, PHONE_VIEWPORT, phones, scroll_width
from tests.timebank.test_certificates import _earn
from volunteer_hub.db import db

pytestmark = pytest.mark.browser
WORDS = {"locale": "zh_Hans"}


def _fits(page) -> None:
    assert scroll_width(page) <= PHONE_VIEWPORT["width"], f"{page.url} scrolls sideways"
    assert_accessible(page)


@pytest.fixture
def phone(browser, live_server, db, app, monkeypatch, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    with phones(browser, live_server, "zh-CN", WORDS) as open_phone:
        yield open_phone


def _seal_png(tmp_path) -> Path:
    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((10, 10, 230, 230), outline=(200, 0, 0, 255), width=12)
    path = tmp_path / "seal.png"
    image.save(path)
    return path


def test_admin_sets_issuer_then_volunteer_downloads(phone, tree, make_staff, make_volunteer,
                                                    tmp_path):
    admin = make_staff(tree["a"], "admin")
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="林晓雨")
    _earn(db, tree, organizer, volunteer, 120)

    me = phone(volunteer.user.phone)
    me.goto("/me/hours")
    assert me.locator("[data-issuer-incomplete]").count() == 1  # says why there is no button
    assert me.locator("a[data-certificate]").count() == 0
    _fits(me)

    page = phone(admin.phone)
    page.goto("/org/certificate-settings")
    _fits(page)
    page.click("main a:has-text('甲社区')")
    page.wait_for_url("**/certificate-settings")
    assert page.locator("[data-issuer-missing]").count() == 1
    _fits(page)
    page.fill("#person_in_charge", "王主任")
    page.fill("#handler", "赵经办")
    page.fill("#contact", "010-12345678")
    page.fill("#credit_code", "91110108551385082R")  # a wrong check character
    page.set_input_files("#seal", str(_seal_png(tmp_path)))
    page.click("main form button[type=submit]")
    assert "统一社会信用代码" in page.inner_text(".field.has-error")
    _fits(page)
    page.fill("#credit_code", "91110108551385082Q")
    page.set_input_files("#seal", str(_seal_png(tmp_path)))
    page.click("main form button[type=submit]")
    page.wait_for_selector(".flash-success")
    assert page.locator("[data-issuer-missing]").count() == 0
    assert page.locator("img.seal-preview").count() == 1
    _fits(page)

    me.reload()
    link = me.locator("a[data-certificate='zh_Hans']")
    response = me.request.get(link.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF")
    _fits(me)

    from volunteer_hub.recognition.stars import refresh_star_notices

    db.session.rollback()
    with db.session.begin():
        refresh_star_notices()
    public = phone()
    public.goto("/orgs/CB/star-notices")
    _fits(public)
