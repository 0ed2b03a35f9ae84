"""Journeys on a 360 px wide phone screen, in headless Chromium."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser.a11y import assert_accessible
from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]


def test_person_signs_up_on_a_phone_and_sees_pending_profile(page, tree):
    community, grid = tree["a"], tree["grid_a"]
    page.goto("/signup")
    assert scroll_width(page) <= WIDTH, "the sign-up page scrolls sideways"

    page.fill("#real_name", "王芳")
    page.select_option("#id_type", "mainland_id")
    page.fill("#id_number", factories.make_id_number(gender="female"))
    page.fill("#phone", factories.unique_phone())
    page.click("#signup-more > summary")  # the optional part is folded away
    page.fill("#email", "wangfang@example.com")
    page.fill("#password", factories.PASSWORD)
    page.select_option("#community_id", str(community.id))
    page.select_option("#grid_id", str(grid.id))  # place.js kept the community's grids
    page.check("input[name=languages][value=en]")
    page.select_option("#skill_first_aid", "2")
    page.select_option("#skill_cooking", "1")
    page.check("#agree_terms")
    page.check("#agree_sensitive_data")
    assert scroll_width(page) <= WIDTH
    page.click("button[type=submit]:has-text('Sign up')")

    page.wait_for_url("**/me")
    badge = page.locator("#identity .badge")
    assert badge.get_attribute("data-status") == "pending"
    assert "pending" in badge.inner_text().lower()
    assert page.locator("text=First aid").count() >= 1
    assert scroll_width(page) <= WIDTH, "the profile page scrolls sideways"
    assert_accessible(page)
    screenshot(page, "a-signup-profile")


def test_grid_list_follows_the_community(page, tree):
    page.goto("/signup")
    page.select_option("#community_id", str(tree["b"].id))
    values = page.eval_on_selector_all("#grid_id option", "os => os.map(o => o.value)")
    assert values == ["", str(tree["grid_b"].id)]


def test_signup_error_keeps_values_on_a_phone(page, tree):
    page.goto("/signup")
    good = factories.make_id_number()
    page.fill("#real_name", "赵六")
    page.fill("#id_number", good[:17] + ("0" if good[17] != "0" else "1"))
    page.fill("#phone", factories.unique_phone())
    page.fill("#password", factories.PASSWORD)
    page.select_option("#community_id", str(tree["a"].id))
    page.check("#agree_terms")
    page.check("#agree_sensitive_data")
    page.click("button[type=submit]:has-text('Sign up')")
    page.wait_for_selector(".field-error")
    assert "does not match" in page.locator(".field-error").first.inner_text()
    assert page.input_value("#real_name") == "赵六"
    assert page.input_value("#password") == ""
    assert scroll_width(page) <= WIDTH
    assert_accessible(page)
    screenshot(page, "a2-signup-error")


def test_organizer_finds_and_approves_a_pending_volunteer(page, tree, make_staff,
                                                          make_volunteer):
    volunteer = make_volunteer(tree["a"], real_name="陈待审",
                               skills=[{"code": "driving", "level": 2}])
    for i in range(3):
        make_volunteer(tree["a"], real_name=f"其他{i}")
    organizer = make_staff(tree["a"], "organizer")
    volunteer_id = volunteer.id

    page.goto("/login")
    page.fill("#login", organizer.phone)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]:has-text('Log in')")
    page.wait_for_url("**/org/volunteers")
    assert scroll_width(page) <= WIDTH, "the volunteer list scrolls sideways"
    assert_accessible(page)
    screenshot(page, "b1-organizer-list")

    page.click(".filters-box > summary")
    page.fill("#q", "陈待审")
    page.select_option("#status", "pending")
    page.click("button[type=submit]:has-text('Search')")
    page.wait_for_url("**q=*")
    rows = page.locator("ul.volunteers > li")
    assert rows.count() == 1
    rows.first.locator("a.rowlink").click()
    page.wait_for_url(f"**/org/volunteers/{volunteer_id}")
    assert scroll_width(page) <= WIDTH

    page.click("#approve")
    page.wait_for_selector("#status-actions .badge[data-status=active]")
    assert page.locator("#identity .badge").get_attribute("data-status") == "active"
    assert scroll_width(page) <= WIDTH
    assert_accessible(page)
    screenshot(page, "b-organizer-approved")


def test_every_page_fits_a_phone(page, tree, make_staff, make_volunteer):
    volunteer = make_volunteer(tree["a"], skills=[{"code": "first_aid", "level": 1}])
    organizer = make_staff(tree["a"], "organizer")
    volunteer_phone, organizer_phone, volunteer_id = (volunteer.user.phone, organizer.phone,
                                                      volunteer.id)

    def log_in(phone):
        page.goto("/login")
        page.fill("#login", phone)
        page.fill("#password", factories.PASSWORD)
        page.click("button[type=submit]:has-text('Log in')")
        page.wait_for_load_state()

    log_in(volunteer_phone)
    for url in ("/me", "/me/edit", "/me/skills", "/me/certifications", "/me/availability",
                "/me/consents", "/account"):
        page.goto(url)
        assert scroll_width(page) <= WIDTH, f"{url} scrolls sideways"
        assert_accessible(page)
        screenshot(page, "c-" + (url.strip("/").replace("/", "-") or "home"))
    page.click("details.menu > summary")  # log out sits in the menu
    page.click("button:has-text('Log out')")
    page.wait_for_load_state()

    log_in(organizer_phone)
    for url in ("/org/volunteers", f"/org/volunteers/{volunteer_id}", "/org/teams"):
        page.goto(url)
        assert scroll_width(page) <= WIDTH, f"{url} scrolls sideways"
        assert_accessible(page)
    screenshot(page, "c-org-teams")
