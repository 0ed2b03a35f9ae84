"""The recognition pages on a 360 px phone screen, in headless Chromium."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width
from volunteer_hub.recognition import services

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]


def _log_in(page, user):
    page.goto("/login")
    page.fill("#login", user.phone)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_load_state()


def test_a_course_evaluation_and_award_on_a_phone(page, db, tree, people,
                                                  verified_record):
    volunteer, other = people["volunteer"], people["other"]
    _log_in(page, people["organizer"])

    page.goto("/org/trainings/new")
    assert scroll_width(page) <= WIDTH, "the training form scrolls sideways"
    page.fill("#title", "应急救护入门")
    page.select_option("#kind", "first_aid")
    page.fill("#hours", "3")
    page.fill("#trainer", "区红十字会")
    page.fill("#volunteers", f"{volunteer.volunteer_number}\n{other.phone}")
    page.click("button[type=submit]:has-text('Record the training')")
    page.wait_for_url("**/org/recognition")
    assert page.locator("[data-training]").count() == 2
    assert scroll_width(page) <= WIDTH, "the overview scrolls sideways"
    screenshot(page, "recognition-org-home")

    page.goto(f"/org/records/{verified_record.id}/evaluation")
    page.check("input[name=score][value='5']")
    page.fill("#comment", "认真负责")
    assert scroll_width(page) <= WIDTH, "the evaluation form scrolls sideways"
    page.click("button[type=submit]:has-text('Save the evaluation')")
    page.wait_for_url("**/org/evaluations")

    page.goto(f"/org/awards/new?volunteer={volunteer.volunteer_number}")
    page.fill("#title", "优秀志愿者")
    assert scroll_width(page) <= WIDTH, "the award form scrolls sideways"
    page.click("button[type=submit]:has-text('Record the award')")
    page.wait_for_url("**/org/recognition")

    page.click("details.menu > summary")  # log out sits in the menu
    page.click("button:has-text('Log out')")
    _log_in(page, volunteer.user)
    page.goto("/me/recognition")
    assert page.locator("[data-score='5']").count() == 1
    assert page.locator("text=优秀志愿者").count() == 1
    assert scroll_width(page) <= WIDTH, "my recognition page scrolls sideways"
    screenshot(page, "recognition-mine")
    other_id = other.id
    db.session.rollback()  # end this thread's read snapshot: the server thread wrote since
    assert services.has_training(other_id, "first_aid")
