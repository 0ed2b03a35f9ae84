"""A volunteer's whole first task on a 360x740 phone in Chinese (and once in English), every
step in the browser (issue 13, "Done means"): sign-up -> organizer approval -> the organizer
posts a weekly need and matches it on /org/matching (confirming the proposal) -> the volunteer
accepts -> 签到 by code -> 签退 -> verification -> evaluation -> hours, star and certificate on
/me/hours and /me/recognition.

No step types a database id or calls the API: people find things by name and by tapping. Only
the clock is moved by the test (the task is tomorrow; the journey takes seconds). Every page is
checked with axe-core and must fit the phone. Screenshots go to $VOLUNTEER_HUB_SCREENSHOTS
(docs/screenshots for the README's gallery, `make screenshots`), else to a temporary folder."""
from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests import factories
from tests.browser.a11y import assert_accessible
from tests.browser_support import CHROMIUM, PHONE_VIEWPORT, phones, scroll_width
from volunteer_hub.db import db
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.models import NeedSlot
from volunteer_hub.needs.services import local_now, local_today
from volunteer_hub.records.models import ServiceRecord
from volunteer_hub.volunteers.models import Volunteer

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]
SHOTS = Path(os.environ.get("VOLUNTEER_HUB_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "vh-shots")
NAME, TITLE = "林晓雨", "每周陪老人读报"
# What each step chooses, taps or reads, in the journey's language.
WORDS = {
    "zh-CN": {"locale": "zh_Hans", "community": "甲社区", "in": "签到", "out": "签退",
              "out_done": "签退成功", "stars": "星级", "prefix": "daily-"},
    "en-US": {"locale": "en", "community": "Community A", "in": "Check in", "out": "Check out",
              "out_done": "Checked out.", "stars": "Star level", "prefix": "daily-en-"},
}


def shot(page, name: str) -> None:
    """The step fits the phone, passes axe, and is saved (quantized: a few dozen kB); the
    gallery is the Chinese pass, the English one goes to the temporary folder."""
    from PIL import Image

    assert scroll_width(page) <= WIDTH, f"{page.url} scrolls sideways"
    assert_accessible(page)
    folder = SHOTS if page.words["locale"] == "zh_Hans" else \
        Path(tempfile.gettempdir()) / "vh-shots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{page.words['prefix']}{name.removeprefix('daily-')}.png"
    page.screenshot(path=str(path), full_page=True)
    Image.open(path).quantize(colors=64).save(path, optimize=True)


@pytest.fixture(params=list(WORDS))
def phone(request, browser, live_server, db):
    """phone(login=None) -> a new phone (browser context), logged in when given; in Chinese,
    then in English."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    with phones(browser, live_server, request.param, WORDS[request.param]) as open_phone:
        yield open_phone


def sign_up(page, weekday: int) -> str:
    """A newcomer signs up, saying they can help on `weekday` mornings; returns their phone."""
    number = factories.unique_phone()
    page.goto("/signup")
    page.fill("#real_name", NAME)
    page.fill("#id_number", factories.make_id_number(gender="female"))
    page.fill("#phone", number)
    page.fill("#password", factories.PASSWORD)
    page.select_option("#community_id", label=page.words["community"])
    page.click("#signup-more > summary")
    page.check(f"input[name=available_days][value='{weekday}']")
    page.check("input[name=available_parts][value=morning]")
    page.check("#agree_terms")
    page.check("#agree_sensitive_data")
    shot(page, "daily-1-signup")
    page.click("#signup-form button[type=submit]")
    page.wait_for_url("**/me")
    assert page.locator("#identity .badge").get_attribute("data-status") == "pending"
    shot(page, "daily-2-pending")
    return number


def approve(org) -> None:
    """The organizer finds the newcomer by name and approves them."""
    org.goto("/org/volunteers")
    org.click(".filters-box > summary")
    org.fill("#q", NAME)
    org.select_option("#status", "pending")
    org.click(".filters-box button[type=submit]")
    org.wait_for_url("**q=*")
    org.locator("ul.volunteers > li a.rowlink").first.click()
    org.click("#approve")
    org.wait_for_selector("#status-actions .badge[data-status=active]")
    shot(org, "daily-3-approved")


def post_weekly_need(org, first_day) -> None:
    """Every week on `first_day`'s weekday, 9:00-11:00, for four weeks."""
    org.goto("/org/needs")
    assert_accessible(org)
    org.click("main a[href='/org/needs/new']")
    org.fill("#title", TITLE)
    org.fill("#description", "为独居老人读报、聊天。")
    org.fill("#first_date", first_day.isoformat())
    org.fill("#start", "09:00")
    org.fill("#end", "11:00")
    org.check("#weekly")
    org.check(f"input[name=weekdays][value='{first_day.weekday()}']")
    org.fill("#until", (first_day + timedelta(days=21)).isoformat())
    org.fill("#location_note", "甲社区服务站")
    shot(org, "daily-4-post-weekly-need")
    org.click("main form button[type=submit]:not(.secondary)")
    org.wait_for_selector(".flash-success")
    assert TITLE in org.inner_text("h1")
    assert org.locator("main a[href$='/check-in']").count() >= 4  # four weekly occurrences
    shot(org, "daily-5-need-posted")


def match_and_confirm(org) -> None:
    """Matching over the default window proposes the newcomer; the organizer confirms."""
    org.goto("/org/matching")
    shot(org, "daily-6-matching")
    org.click("main form button[type=submit]")
    org.wait_for_selector("ul.proposals")
    proposal = org.locator("ul.proposals > li", has_text=NAME).first
    assert TITLE in proposal.inner_text()
    shot(org, "daily-7-proposals")
    proposal.locator("form[action$='/confirm'] button").click()
    org.wait_for_selector(".flash-success")
    shot(org, "daily-8-confirmed")


def the_task_starts_now() -> NeedSlot:
    """Tomorrow morning comes: the confirmed occurrence starts ten minutes ago."""
    db.session.rollback()
    assignment = db.session.execute(select(Assignment).where(
        Assignment.state == "accepted")).scalar_one()
    slot = assignment.slot
    start = local_now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    slot.start, slot.end = start, start + timedelta(hours=2)
    db.session.commit()
    return slot


def time_passes(minutes: int) -> None:
    """The volunteer has been on duty for `minutes`."""
    db.session.rollback()
    record = db.session.execute(select(ServiceRecord)).scalar_one()
    record.check_in_at = record.check_in_at - timedelta(minutes=minutes)
    db.session.commit()


def test_from_sign_up_to_hours_star_and_certificate(phone, tree, make_staff, app, monkeypatch,
                                                     tmp_path):
    from tests.timebank.test_certificates import ready_issuer

    # the community certifies once its admins set what certificates print (issue 16); the
    # certificate makes a ledger checkpoint: kept out of the session's instance folder
    ready_issuer(db, tree["a"])
    monkeypatch.setitem(app.config, "LEDGER_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    organizer = make_staff(tree["a"], "organizer")
    words = phone.words
    tomorrow = local_today() + timedelta(days=1)

    newcomer = phone()
    number = sign_up(newcomer, tomorrow.weekday())
    org = phone(organizer.phone)
    approve(org)
    post_weekly_need(org, tomorrow)
    match_and_confirm(org)

    # The newcomer finds the task in 任务, reads it and accepts.
    me = phone(number)
    me.goto("/me/tasks")
    me.click(f"a.rowlink:has-text('{TITLE}')")
    me.wait_for_url("**/me/tasks/*")
    shot(me, "daily-9-task")
    me.click("main form[action$='/accept'] button")
    me.wait_for_selector(".flash-success")
    shot(me, "daily-10-accepted")

    # On the day the organizer opens the occurrence's door page; the volunteer types its code.
    slot = the_task_starts_now()
    org.goto("/org/needs")
    org.click(f"main a:has-text('{TITLE}')")
    today = org.locator("main a[href$='/check-in']").first  # the soonest occurrence
    assert today.get_attribute("href") == f"/org/slots/{slot.id}/check-in"
    today.click()
    code = org.inner_text("[data-code]").strip()
    assert len(code) == 6 and code.isdigit()
    assert_accessible(org)
    me.reload()
    me.fill("#code", code)
    me.click(f"#checkin button:has-text('{words['in']}')")
    me.wait_for_selector("[data-stage=on_duty]")
    shot(me, "daily-11-checked-in")
    time_passes(90)
    me.reload()
    me.fill("#code", code)
    me.click(f"#checkin button:has-text('{words['out']}')")
    me.wait_for_selector(f"text={words['out_done']}")
    shot(me, "daily-12-checked-out")

    # The organizer verifies the hour and a half, then gives the service five stars.
    org.goto("/org/verification")
    assert "1:30" in org.inner_text("main")
    assert_accessible(org)
    org.click("#approve-form button")
    org.wait_for_selector(".flash-success")
    org.goto("/org/evaluations")
    assert_accessible(org)
    org.locator("li.row", has_text=NAME).locator("a.button").click()
    org.check("input[name=score][value='5']")
    org.fill("#comment", "耐心细致，老人很喜欢。")
    shot(org, "daily-13-evaluate")
    org.click("main form button[type=submit]")
    org.wait_for_selector(".flash-success")

    # The volunteer's hours, star level and certificate; the five stars on recognition.
    me.goto("/me/hours")
    assert me.locator("[data-balance='90']").count() == 1
    assert words["stars"] in me.inner_text("main")
    certificate = me.locator(f"a[data-certificate='{words['locale']}']")
    response = me.request.get(certificate.get_attribute("href"))
    assert response.ok and response.body().startswith(b"%PDF")
    shot(me, "daily-14-my-hours")
    me.goto("/me/recognition")
    assert me.locator("[data-score='5']").count() == 1
    assert "耐心细致" in me.inner_text("main")
    shot(me, "daily-15-recognition")
    db.session.rollback()
    volunteer = db.session.execute(select(Volunteer).filter_by(real_name=NAME)).scalar_one()
    assert volunteer.status == "active"
