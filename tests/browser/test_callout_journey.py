"""A coordinator calls out the demo flood plan as a drill on a 360x740 phone in Chinese, without
typing coordinates; volunteers answer through their one-tap links; the board, the roll call,
the stand-down and the report follow. Volunteers' pages have the bottom tab bar and never
scroll sideways. Set VOLUNTEER_HUB_SCREENSHOTS=1 to save a screenshot per step in
docs/screenshots/ (the README's gallery)."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.browser.a11y import assert_accessible
from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width
from volunteer_hub.demo import DEMO_PASSWORD, build_demo
from volunteer_hub.emergency.models import Activation, EmergencyPlan
from volunteer_hub.notify import fanout
from volunteer_hub.notify.models import OutboxMessage

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]
GALLERY = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
LINK = re.compile(r"https?://[^\s]+/emergency/respond/[A-Za-z0-9._-]+")


def shot(page, name: str) -> None:
    assert_accessible(page)
    screenshot(page, name)
    if os.environ.get("VOLUNTEER_HUB_SCREENSHOTS"):
        GALLERY.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(GALLERY / f"{name}.png"), full_page=False)


@pytest.fixture
def demo(db):
    logins = build_demo(volunteers=150, seed=13)
    db.session.commit()
    return logins


@pytest.fixture
def phone(browser, live_server):
    """phone() -> a new 360x740 page in Chinese with its own cookies."""
    contexts = []

    def make():
        context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN",
                                      base_url=live_server, device_scale_factor=1)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()
    yield make
    for context in contexts:
        context.close()


def log_in(page, phone_number: str) -> None:
    page.goto("/login")
    page.fill("#login", phone_number)
    page.fill("#password", DEMO_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def alert_links(db, activation_id: int, count: int) -> list[str]:
    rows = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == f"emergency:{activation_id}:alert:1",
        OutboxMessage.channel == "inbox").order_by(OutboxMessage.id).limit(count)).scalars().all()
    return [LINK.search(message.body).group(0) for message in fanout.filled(rows)]


def test_coordinator_calls_out_the_demo_plan_without_coordinates(phone, demo, db, live_server):
    coordinator = phone()
    log_in(coordinator, demo["coordinator"])
    assert coordinator.locator("details.menu > summary").is_visible()  # a compact menu
    assert coordinator.locator(".tabbar").count() == 0  # staff have no volunteer tabs
    coordinator.goto("/emergency/plans")
    shot(coordinator, "callout-1-plans")
    coordinator.click("main a.button[href$='/activate']")  # the demo's one plan
    assert "整个区域：朝阳区" in coordinator.locator("#place_id").inner_text()
    coordinator.check("input[name=kind][value=drill]")
    coordinator.fill("#note", "演练：劲松地区内涝转移")
    assert scroll_width(coordinator) <= WIDTH
    shot(coordinator, "callout-2-activate")
    coordinator.click("button[type=submit].wide")
    coordinator.wait_for_selector("#board")
    db.session.rollback()  # end the test's read snapshot: the server wrote since
    activation = db.session.execute(select(Activation).where(
        Activation.status == "active")).scalar_one()
    assert activation.incident_lat is not None  # centred on the district, nothing typed
    notified = int(coordinator.locator('[data-count="notified"] .num').inner_text())
    assert notified > 10
    shot(coordinator, "callout-3-board")

    for link, eta in zip(alert_links(db, activation.id, 3), ("10", "20", None)):
        volunteer = phone()  # the link needs no login
        volunteer.goto(link.replace("http://localhost", live_server))
        assert scroll_width(volunteer) <= WIDTH
        if eta:
            volunteer.click(f"button[name=coming_eta][value='{eta}']")
        else:
            volunteer.click("button[name=answer][value=cannot]")
        volunteer.wait_for_selector(".flash-success")
        if eta == "10":
            shot(volunteer, "callout-4-answered")

    coordinator.reload()  # the board it stayed on
    coordinator.wait_for_selector('[data-count="coming"] .num:text("2")')
    assert coordinator.locator('[data-count="cannot"] .num').inner_text() == "1"
    links = coordinator.locator(".board-links a")
    assert links.count() == 5  # roll call, assignment, well-being, stand-down, report
    for index in range(links.count()):
        assert links.nth(index).bounding_box()["height"] >= 44
    assert scroll_width(coordinator) <= WIDTH
    shot(coordinator, "callout-5-board-answers")

    coordinator.click(".board-links a[href$='/rollcall']")
    calls = coordinator.locator("li[data-responder] a[href^='tel:']")
    assert calls.count() and calls.first.bounding_box()["height"] >= 44  # a tap target
    first = coordinator.locator("li[data-responder] form[action$='/arrived'] button").first
    first.click()
    coordinator.wait_for_selector(".flash-success")
    assert "已记录" in coordinator.locator(".flash-success").inner_text()
    assert scroll_width(coordinator) <= WIDTH
    shot(coordinator, "callout-6-rollcall")

    coordinator.click("main a.back[href$='/board']")
    coordinator.click(".board-links a[href$='/stand-down']")
    assert_accessible(coordinator)
    coordinator.on("dialog", lambda dialog: dialog.accept())
    coordinator.click("main button[type=submit]")
    coordinator.wait_for_selector("#board-ended:not([hidden])")
    assert "结束" in coordinator.locator("#board-ended").inner_text()
    assert coordinator.locator(".board-links a[href$='/stand-down']").count() == 0
    shot(coordinator, "callout-7-stood-down")

    coordinator.click(".board-links a[href$='/report']")
    coordinator.wait_for_selector("#report")
    assert scroll_width(coordinator) <= WIDTH
    shot(coordinator, "callout-8-report")


def test_volunteer_pages_have_the_bottom_tab_bar_and_fit(phone, demo, db):
    volunteer = phone()
    log_in(volunteer, demo["volunteer"])
    tabs = volunteer.locator(".tabbar a")
    assert [tabs.nth(i).inner_text() for i in range(tabs.count())] == [
        "任务", "附近", "时长", "召集", "我的"]
    for path, tab in (("/me/tasks", "tasks"), ("/me/open-needs", "nearby"),
                      ("/me/hours", "hours"), ("/emergency/alerts", "alerts"), ("/me", "me")):
        volunteer.goto(path)
        assert volunteer.locator(f'.tabbar a[data-tab="{tab}"]').get_attribute(
            "aria-current") == "page", path
        assert scroll_width(volunteer) <= WIDTH, f"{path} scrolls sideways"
        header = volunteer.locator(".topbar").bounding_box()
        assert header["height"] <= 64, f"{path}: header {header['height']} px"
        bar = volunteer.locator(".tabbar").bounding_box()
        assert bar["y"] + bar["height"] == PHONE_VIEWPORT["height"]  # pinned to the bottom
        for index in range(tabs.count()):
            assert tabs.nth(index).bounding_box()["height"] >= 44
        shot(volunteer, f"volunteer-{tab}")
    volunteer.click("details.menu > summary")
    assert volunteer.locator(".menu-panel a[href='/me/inbox']").is_visible()
    shot(volunteer, "volunteer-menu")


def test_tasks_and_alerts_stay_readable_offline(phone, demo):
    volunteer = phone()
    log_in(volunteer, demo["volunteer"])
    volunteer.goto("/me/tasks")
    volunteer.evaluate("navigator.serviceWorker.ready.then(() => true)")
    volunteer.reload()  # now under the worker's control: this load is kept
    volunteer.goto("/emergency/alerts")
    volunteer.context.set_offline(True)
    volunteer.goto("/me/tasks")
    assert volunteer.locator("h1").inner_text() == "我的任务"
    volunteer.goto("/emergency/alerts")
    assert volunteer.locator(".tabbar").is_visible()
    volunteer.goto("/org/needs")  # never kept: the offline page instead of the browser's error
    assert volunteer.locator("h1").inner_text() == "没有网络连接"
    shot(volunteer, "volunteer-offline")
    volunteer.context.set_offline(False)


def test_the_matching_page_date_inputs_fit_a_phone(phone, demo):
    organizer = phone()
    log_in(organizer, demo["organizer"])
    organizer.goto("/org/matching")
    assert scroll_width(organizer) <= WIDTH
    dates = organizer.locator("main input[type=date]")
    assert dates.count() == 2
    for index in range(2):
        box = dates.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
        # the whole date and its picker button are shown, not cut off inside the box
        assert dates.nth(index).evaluate("el => el.scrollWidth <= el.clientWidth")
    shot(organizer, "organizer-matching")


def test_signup_checks_the_id_when_the_field_is_left_and_finds_skills(phone, demo):
    visitor = phone()
    visitor.goto("/signup")
    assert scroll_width(visitor) <= WIDTH
    assert visitor.locator("#birth_date").is_hidden()  # a mainland ID carries the birth date
    assert visitor.locator(".skill-row").first.is_hidden()  # optional part folded away
    visitor.fill("#id_number", "110105194912310021")  # the check character should be X
    visitor.locator("#phone").focus()
    message = visitor.locator("#id-number-check")
    assert message.is_visible() and "校验码" in message.inner_text()
    visitor.fill("#id_number", "11010519491231002X")
    visitor.locator("#phone").focus()
    assert message.is_hidden()
    visitor.select_option("#id_type", "passport")
    assert visitor.locator("#birth_date").is_visible()
    visitor.click("#signup-more > summary")
    visitor.fill("#skill-search", "急救")
    shown = visitor.locator(".skill-row:visible label")
    assert shown.count() >= 1 and all("急救" in shown.nth(i).inner_text()
                                      for i in range(shown.count()))
    assert scroll_width(visitor) <= WIDTH
    shot(visitor, "signup-skill-search")


def test_organizer_replaces_a_proposed_volunteer_by_name(phone, demo, db):
    from volunteer_hub.matching.models import Assignment
    from volunteer_hub.orgs.models import Org
    from volunteer_hub.volunteers.models import Volunteer

    from volunteer_hub.volunteers.models import AvailabilityWindow, VolunteerSkill

    community = db.session.execute(select(Org).where(Org.code == "CY-JX-01")).scalar_one()
    helpers = db.session.execute(select(Volunteer).where(
        Volunteer.community_id == community.id).order_by(Volunteer.id).limit(4)).scalars().all()
    for helper in helpers:  # four people who could do any of the demo's three tasks
        helper.status = "active"
        have = {skill.skill_code for skill in helper.skills}
        for code in {"companionship", "driving", "first_aid"} - have:
            helper.skills.append(VolunteerSkill(skill_code=code, level=2))
        helper.availability.clear()
        db.session.flush()
        helper.availability.extend(AvailabilityWindow(weekday=day, start_minute=7 * 60,
                                                      end_minute=14 * 60) for day in range(7))
    db.session.commit()
    organizer = phone()
    log_in(organizer, demo["organizer"])
    organizer.goto("/org/matching")
    organizer.click("main form button[type=submit]")
    organizer.wait_for_selector("main form[action$='/replace'] input[type=search]")
    db.session.rollback()
    proposed = db.session.execute(select(Assignment).where(
        Assignment.state == "proposed").order_by(Assignment.id)).scalars().first()
    other = db.session.execute(select(Volunteer).where(
        Volunteer.id.in_([h.id for h in helpers]),
        Volunteer.id != proposed.volunteer_id).order_by(Volunteer.id)).scalars().first()
    form = organizer.locator(f"form[action$='/{proposed.id}/replace']")
    form.locator("input[type=search]").fill(other.volunteer_number)
    form.locator(f"button[data-person='{other.id}']").click()
    assert other.real_name in form.locator(".person-chosen").inner_text()
    assert scroll_width(organizer) <= WIDTH
    shot(organizer, "organizer-replace-picker")
    form.locator("button.secondary").last.click()
    organizer.wait_for_selector(".flash")
    db.session.rollback()
    replaced = db.session.get(Assignment, proposed.id)
    assert replaced.volunteer_id == other.id, organizer.locator(".flash").inner_text()


def test_a_one_tap_answer_given_offline_is_sent_when_back_online(phone, demo, db, live_server):
    import time

    from volunteer_hub.emergency import activation as activations
    from volunteer_hub.emergency.models import Responder

    plan = db.session.execute(select(EmergencyPlan)).scalar_one()
    activation = activations.activate(plan, level=3, is_drill=True, by=None)
    db.session.commit()
    link = alert_links(db, activation.id, 1)[0]
    responder = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id).order_by(Responder.id)).scalars().first()
    volunteer = phone()
    log_in(volunteer, responder.volunteer.phone)
    volunteer.goto(link.replace("http://localhost", live_server))
    volunteer.evaluate("navigator.serviceWorker.ready.then(() => true)")
    volunteer.reload()  # under the worker's control
    volunteer.context.set_offline(True)
    volunteer.click("button[name=coming_eta][value='20']")
    volunteer.wait_for_selector("#answer-queued")
    shot(volunteer, "respond-offline-queued")
    db.session.rollback()
    assert db.session.get(Responder, responder.id).answer == "none"
    volunteer.context.set_offline(False)
    volunteer.goto("/me/tasks")
    for _ in range(50):
        db.session.rollback()
        if db.session.get(Responder, responder.id).answer == "coming":
            break
        time.sleep(0.2)
    answered = db.session.get(Responder, responder.id)
    assert (answered.answer, answered.eta_minutes) == ("coming", 20)


def test_the_call_out_in_english(browser, live_server, demo, db):
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="en-US", base_url=live_server,
                                  device_scale_factor=1)
    context.set_default_timeout(15_000)
    coordinator = context.new_page()
    try:
        log_in(coordinator, demo["coordinator"])
        coordinator.goto("/emergency/plans")
        coordinator.click("main a.button[href$='/activate']")
        assert "The whole area: Chaoyang District" in coordinator.locator("#place_id").inner_text()
        coordinator.check("input[name=kind][value=drill]")
        coordinator.click("button[type=submit].wide")
        coordinator.wait_for_selector("#board")
        links = [coordinator.locator(".board-links a").nth(i).inner_text()
                 for i in range(coordinator.locator(".board-links a").count())]
        assert links == ["Roll call", "Roles and assignment", "Well-being roll call",
                         "Stand down", "After-action report"]
        assert "In-app inbox" in coordinator.locator("#board-channels").inner_text()
        coordinator.click(".board-links a[href$='/stand-down']")
        coordinator.on("dialog", lambda dialog: dialog.accept())
        coordinator.click("main button[type=submit]")
        coordinator.wait_for_selector("#board-ended:not([hidden])")
        assert coordinator.locator("#board-ended").inner_text().startswith(
            "This call-out ended at")
        assert scroll_width(coordinator) <= WIDTH
        assert_accessible(coordinator)
        screenshot(coordinator, "callout-en-stood-down")  # the gallery is the Chinese pass
    finally:
        context.close()
