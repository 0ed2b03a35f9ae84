"""Pages work under the Content-Security-Policy in headless Chromium (issue 11, item 4): no
violation is reported on any page whose script moved out of the template, and the scripts
still do their job (Swagger UI renders, the skill filter submits itself)."""
from __future__ import annotations

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT
from tests.browser.test_emergency_board import live_scene  # noqa: F401  # fixture
from tests.emergency.conftest import fresh_board_cache  # noqa: F401  # autouse, as there

pytestmark = pytest.mark.browser

REPORT_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (event) {
  window.__csp.push(event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


@pytest.fixture
def page(browser, live_server, db):
    """Like browser_support's page, but with the site's policy enforced."""
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="en-US",
                                  base_url=live_server)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


@pytest.fixture
def watched(page):
    """The page, and the list of CSP violations and script errors seen on it."""
    problems = []
    page.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: problems.append(message.text)
            if "Content Security Policy" in message.text else None)
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def visit(url: str, ready: str = "body"):
        page.goto(url)
        page.wait_for_selector(ready)
        page.wait_for_load_state("load")
        problems.extend(f"{url}: {seen}" for seen in page.evaluate("window.__csp || []"))
    return page, visit, problems


def log_in(page, phone: str) -> None:
    page.goto("/login")
    page.fill("#login", phone)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_swagger_ui_renders_under_the_policy(watched):
    page, visit, problems = watched
    visit("/api/docs", ready=".swagger-ui .opblock")  # the operations are listed
    assert "Volunteer Hub API" in page.locator(".swagger-ui .info .title").inner_text()
    assert problems == []


def test_volunteer_pages_run_their_scripts_without_violations(watched, tree, make_volunteer):
    page, visit, problems = watched
    volunteer = make_volunteer(tree["a"], skills=[{"code": "first_aid", "level": 1}])
    visit("/login")
    visit("/signup")
    log_in(page, volunteer.user.phone)
    for url in ("/me", "/me/edit", "/me/certifications", "/me/consents",
                "/account/notifications"):
        visit(url)
    visit("/me/open-needs")
    with page.expect_navigation():
        page.select_option("#skill", "first_aid")  # js/autosubmit.js sends the form
    assert "skill=first_aid" in page.url
    assert problems == []


def test_board_and_roll_call_run_without_violations(watched, live_scene):  # noqa: F811
    page, visit, problems = watched
    world, scene = live_scene
    log_in(page, world.coordinator.phone)
    visit(f"/emergency/activations/{scene.activation.id}/board",
          ready='#board-live[data-state="live"]')
    visit(f"/emergency/activations/{scene.activation.id}/rollcall")
    assert problems == []


def test_organizer_pages_run_without_violations(watched, tree, make_staff, make_volunteer):
    page, visit, problems = watched
    volunteer = make_volunteer(tree["a"])
    organizer = make_staff(tree["a"], "organizer")
    log_in(page, organizer.phone)
    for url in ("/org/volunteers", f"/org/volunteers/{volunteer.id}", "/org/teams",
                "/org/needs", "/org/matching", "/org/verification", "/org/reports",
                "/org/recognition", "/emergency/plans", "/account"):
        visit(url)
    assert problems == []
