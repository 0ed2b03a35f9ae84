"""A matched task's day on a phone, in Chinese and in English: accept, 签到 by code and by the QR's link,
签退, verification, hours (issue 13 item 1). Screenshots go to $VOLUNTEER_HUB_SCREENSHOTS
(docs/screenshots for the README's gallery), else to a temporary folder."""
from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from tests.browser.a11y import assert_accessible
from tests.browser_support import CHROMIUM, PHONE_VIEWPORT, phones, scroll_width
from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs.services import local_now
from volunteer_hub.records import services, tasks
from volunteer_hub.records.models import ServiceRecord

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]
SHOTS = Path(os.environ.get("VOLUNTEER_HUB_SCREENSHOTS")
             or Path(tempfile.gettempdir()) / "vh-shots")
# What each step taps or reads, in the journey's language.
WORDS = {
    "zh-CN": {"locale": "zh_Hans", "door": "门口全屏显示", "accept": "接受", "in": "签到",
              "out": "签退", "in_done": "签到成功", "out_done": "签退成功",
              "out_badge": "已签退", "prefix": "checkin-"},
    "en-US": {"locale": "en", "door": "Full screen for the door", "accept": "Accept",
              "in": "Check in", "out": "Check out", "in_done": "Checked in.",
              "out_done": "Checked out.", "out_badge": "Checked out at",
              "prefix": "checkin-en-"},
}


def shot(page, name: str) -> None:
    """A screenshot of the step; the README's gallery (docs/screenshots) is the Chinese pass,
    the English one goes to the temporary folder."""
    from PIL import Image

    assert scroll_width(page) <= WIDTH, f"{page.url} scrolls sideways"
    assert_accessible(page)
    folder = SHOTS if page.words["locale"] == "zh_Hans" else \
        Path(tempfile.gettempdir()) / "vh-shots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{page.words['prefix']}{name}.png"
    page.screenshot(path=str(path), full_page=True)
    Image.open(path).quantize(colors=64).save(path, optimize=True)  # a few dozen kB each


@pytest.fixture(params=list(WORDS))
def phone(request, browser, live_server, db):
    """phone(login) -> a new phone (browser context) logged in with that phone number, for each
    person of the journey; in Chinese, then in English."""
    if not Path(CHROMIUM).exists():
        pytest.skip("no Chromium")
    with phones(browser, live_server, request.param, WORDS[request.param]) as open_phone:
        yield open_phone


def _two_places(tree, first, second):
    """One occurrence with two places, started 10 minutes ago: `first` must still accept,
    `second` has accepted."""
    need = helpers.need(tree["b"], title="陪伴独居老人", volunteers_per_occurrence=2,
                        location_note="幸福路社区服务站门口")
    start = local_now().replace(second=0, microsecond=0) - timedelta(minutes=10)
    for slot in need.slots[:2]:
        slot.start, slot.end, slot.status = start, start + timedelta(hours=2), "filled"
    mine = Assignment(slot_id=need.slots[0].id, volunteer_id=first.id, source="manual",
                      state="confirmed")
    theirs = Assignment(slot_id=need.slots[1].id, volunteer_id=second.id, source="manual",
                        state="accepted")
    db.session.add_all([mine, theirs])
    db.session.commit()
    return need, mine, theirs


def _time_passes(assignment, minutes: int) -> None:
    """The volunteer has been on duty for `minutes` (the journey takes seconds)."""
    db.session.rollback()
    record = db.session.execute(db.select(ServiceRecord).filter_by(
        assignment_id=assignment.id)).scalar_one()
    record.check_in_at = record.check_in_at - timedelta(minutes=minutes)
    db.session.commit()


def test_a_volunteers_day_with_a_matched_task(phone, tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    wang, li = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    words = phone.words
    for person, name in ((wang, "王志愿"), (li, "李志愿")):
        person.real_name, person.user.locale = name, words["locale"]
    db.session.commit()
    need, mine, theirs = _two_places(tree, wang, li)

    # The organizer opens the need, then the door screen of today's occurrence.
    org = phone(organizer.phone)
    org.goto("/org/needs")
    org.click("main a:has-text('陪伴独居老人')")
    assert_accessible(org)
    org.click(f"a[href='/org/slots/{need.slots[0].id}/check-in']")
    org.wait_for_selector("img.qr")
    code = org.inner_text("[data-code]").strip()
    assert len(code) == 6 and code.isdigit()
    org.wait_for_load_state("load")  # images included
    assert org.evaluate("document.querySelector('img.qr').naturalWidth") > 0
    shot(org, "1-organizer-door")
    org.click(f"a.button:has-text('{words['door']}')")
    org.wait_for_selector(".checkin-code-large")
    shot(org, "2-organizer-full-screen")

    # 王 opens the task: nothing about the person before accepting; accepts; types the code.
    me = phone(wang.user.phone)
    me.goto("/me/tasks")
    assert_accessible(me)
    me.click("a.rowlink:has-text('陪伴独居老人')")
    assert "幸福路社区服务站门口" not in me.inner_text("main")
    shot(me, "3-task-before-accepting")
    me.click(f"button:has-text('{words['accept']}')")
    me.wait_for_selector("#checkin")
    assert "幸福路社区服务站门口" in me.inner_text("main")
    me.fill("#code", code)
    me.click(f"#checkin button:has-text('{words['in']}')")
    me.wait_for_selector("[data-stage=on_duty]")
    assert words["in_done"] in me.inner_text(".flash")
    shot(me, "4-checked-in-by-code")

    # 李 scans the door's QR code: the phone opens its link; one tap checks in.
    db.session.rollback()  # end the test's read snapshot: the organizer's page made the activity
    activity = tasks.occurrence_activity(theirs.slot)
    link = tasks_link(activity, organizer)
    them = phone(li.user.phone)
    them.goto(link)
    shot(them, "5-scanned-link")
    them.click(f"main form button:has-text('{words['in']}')")
    them.wait_for_selector("[data-stage=on_duty]")
    shot(them, "6-checked-in-by-qr")

    # Ninety minutes later both check out: 王 with the code, 李 by scanning again.
    _time_passes(mine, 90)
    _time_passes(theirs, 90)
    me.reload()
    me.fill("#code", code)
    me.click(f"#checkin button:has-text('{words['out']}')")
    me.wait_for_selector(f"text={words['out_done']}")
    shot(me, "7-checked-out")
    them.goto(tasks_link(activity, organizer))
    them.click(f"main form button:has-text('{words['out']}')")
    them.wait_for_selector(f"text={words['out_done']}")

    # The organizer sees both on the door page and verifies the hours.
    org.go_back()  # from the full-screen view to the door page
    org.reload()
    assert org.locator(f"text={words['out_badge']}").count() == 2
    org.goto("/org/verification")
    assert org.locator("li.record").count() == 2
    assert "1:30" in org.inner_text("main")
    shot(org, "8-verification")
    org.click("#approve-form button")
    org.wait_for_selector(".flash-success")
    shot(org, "9-verified")

    # 王's hours page shows the verified hour and a half.
    me.goto("/me/hours")
    assert me.locator("[data-balance='90']").count() == 1
    shot(me, "10-my-hours")


def tasks_link(activity, organizer) -> str:
    """The address inside the door's QR code at this moment (the same function draws it)."""
    from flask import current_app, url_for

    token = services.issue_qr_token(activity, by=organizer)
    with current_app.test_request_context():
        return url_for("records.scan", activity_id=activity.id, t=token)
