"""Review fix: what the service worker kept for one volunteer is not shown to the next person
on the phone when the first one's session simply ended (no tap on 退出)."""
from __future__ import annotations

import time

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="zh-CN",
                                  base_url=live_server, device_scale_factor=1)
    context.set_default_timeout(15_000)
    yield context.new_page()
    context.close()


def _log_in(page, user) -> None:
    page.goto("/login")
    page.fill("#login", user.phone)
    page.fill("#password", factories.PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


KEPT_HOURS = ("caches.open('vh-pages-v1').then(c => c.keys())"
              ".then(keys => keys.some(k => new URL(k.url).pathname === '/me/hours'))")


def _until_kept(page, expected: bool) -> None:
    for _ in range(50):
        if page.evaluate(KEPT_HOURS) is expected:
            return
        time.sleep(0.1)
    raise AssertionError(f"/me/hours kept: expected {expected}")


def test_pages_kept_offline_are_forgotten_when_the_session_ends(phone, tree, make_volunteer):
    volunteer = make_volunteer(tree["a"])
    _log_in(phone, volunteer.user)
    phone.goto("/me/profile")
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.goto("/me/hours")
    phone.reload()  # under the worker's control: this load is kept
    _until_kept(phone, True)
    phone.context.clear_cookies()  # the session ended without 退出
    phone.goto("/me/hours")  # sends the next person to the login page
    assert "/login" in phone.url
    _until_kept(phone, False)
    phone.context.set_offline(True)
    phone.goto("/me/hours")
    assert phone.locator("h1").inner_text() == "没有网络连接"  # the offline page is still kept
    phone.context.set_offline(False)


def test_a_kept_answer_survives_a_server_that_cannot_take_it_yet(phone, db, live_server, app,
                                                                  monkeypatch):
    """Back online but the server answers 503 (restarting, gateway down): the answer stays
    kept and goes with the next page load, instead of being dropped as if sent."""
    import re

    from sqlalchemy import select

    from volunteer_hub.demo import DEMO_PASSWORD, build_demo
    from volunteer_hub.emergency import activation as activations
    from volunteer_hub.emergency.models import EmergencyPlan, Responder
    from volunteer_hub.notify.models import OutboxMessage
    from volunteer_hub.notify import fanout

    build_demo(volunteers=60, seed=13)
    db.session.commit()
    plan = db.session.execute(select(EmergencyPlan)).scalar_one()
    activation = activations.activate(plan, level=3, is_drill=True, by=None)
    db.session.commit()
    [message] = fanout.filled(db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == f"emergency:{activation.id}:alert:1",
        OutboxMessage.channel == "inbox").order_by(OutboxMessage.id).limit(1)).scalars().all())
    link = re.search(r"https?://\S+/emergency/respond/[^\s/]+", message.body).group(0)
    from volunteer_hub.volunteers.models import Volunteer

    responder = db.session.execute(select(Responder).join(
        Volunteer, Responder.volunteer_id == Volunteer.id).where(
        Responder.activation_id == activation.id,
        Volunteer.user_id == message.recipient_id)).scalar_one()
    phone.goto("/login")
    phone.fill("#login", responder.volunteer.phone)
    phone.fill("#password", DEMO_PASSWORD)
    phone.click("main button[type=submit]")
    phone.wait_for_load_state()
    phone.goto(link.replace("http://localhost", live_server))
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.reload()
    phone.context.set_offline(True)
    phone.click("button[name=coming_eta][value='20']")
    phone.wait_for_selector("#answer-queued")
    real = app.view_functions["emergency.respond_answer"]
    refused = []

    def unavailable(token):
        refused.append(token)
        return "busy", 503
    monkeypatch.setitem(app.view_functions, "emergency.respond_answer", unavailable)
    phone.context.set_offline(False)
    phone.goto("/me/tasks")  # the worker sends what it kept: the server is not ready
    for _ in range(50):
        if refused:
            break
        time.sleep(0.1)
    assert refused
    time.sleep(0.5)
    monkeypatch.setitem(app.view_functions, "emergency.respond_answer", real)
    phone.goto("/me/hours")  # the next load sends it again
    for _ in range(50):
        db.session.rollback()
        if db.session.get(Responder, responder.id).answer == "coming":
            break
        time.sleep(0.2)
    assert db.session.get(Responder, responder.id).answer == "coming"


def test_a_kept_task_page_stops_showing_the_person_when_the_task_is_over(phone, tree, db, app,
                                                                         monkeypatch):
    """The person's details are shown for the duration of the task only: the copy kept for
    offline use is not shown after that (the offline page instead)."""
    from datetime import timedelta

    from tests.needs import helpers
    from tests.records.task_builders import task
    from volunteer_hub.needs.services import local_now

    monkeypatch.setitem(app.config, "RECORDS_MISSING_CHECKOUT_GRACE_MINUTES", 0)
    volunteer = helpers.volunteer(tree["b"])
    person = helpers.beneficiary(tree["b"])
    assignment = task(tree["b"], volunteer, beneficiary=person)
    assignment.slot.end = local_now() + timedelta(seconds=8)
    db.session.commit()
    _log_in(phone, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    phone.goto(url)
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    phone.reload()
    assert "幸福路" in phone.content()
    for _ in range(50):
        if phone.evaluate("caches.open('vh-pages-v1').then(c => c.keys()).then(keys => "
                          f"keys.some(k => new URL(k.url).pathname === '{url}'))"):
            break
        time.sleep(0.1)
    phone.context.set_offline(True)
    phone.goto(url)
    assert "幸福路" in phone.content()  # during the task: readable offline
    time.sleep(9)
    phone.goto(url)
    assert "幸福路" not in phone.content()
    assert phone.locator("h1").inner_text() in ("没有网络连接", "No connection")
    phone.context.set_offline(False)
