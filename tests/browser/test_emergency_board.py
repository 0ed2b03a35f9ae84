"""The coordinator's live board on a 360 px phone, in headless Chromium: it fits the screen,
updates itself through server-sent events when someone answers, and falls back to polling
when the browser has no EventSource."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests import factories
from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width
from tests.emergency.conftest import build_world
from tests.emergency.conftest import fresh_board_cache  # noqa: F401  # autouse, as there
from tests.emergency.test_board import answer_at, build_scene
from volunteer_hub.db import transaction, utcnow

pytestmark = pytest.mark.browser
WIDTH = PHONE_VIEWPORT["width"]


@pytest.fixture
def live_scene(tree, db, app):
    """An active drill that started 20 minutes ago; fast event-stream timings."""
    world = build_world(tree)
    db.session.commit()
    scene = build_scene(world, start=utcnow() - timedelta(minutes=20), active=True)
    saved = {key: app.config.get(key) for key in ("EMERGENCY_SSE_SECONDS",
                                                  "EMERGENCY_SSE_POLL_SECONDS")}
    app.config.update(EMERGENCY_SSE_SECONDS=5, EMERGENCY_SSE_POLL_SECONDS=0.2)
    yield world, scene
    for key, value in saved.items():
        if value is None:
            app.config.pop(key, None)
        else:
            app.config[key] = value


def log_in(page, user):
    page.goto("/login")
    page.fill("#login", user.phone)
    page.fill("#password", factories.PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def tile(page, key: str) -> str:
    return page.locator(f'[data-count="{key}"] .num').inner_text()


def test_board_fits_a_phone_and_updates_live(page, live_scene, db):
    world, scene = live_scene
    log_in(page, world.coordinator)
    page.goto(f"/emergency/activations/{scene.activation.id}/board")
    page.wait_for_selector('#board-live[data-state="live"]')
    assert scroll_width(page) <= WIDTH, "the board scrolls sideways"
    assert page.locator(".drill-banner").is_visible()
    assert (tile(page, "coming"), tile(page, "cannot"), tile(page, "arrived")) == ("3", "2", "2")
    for key in ("notified", "coming", "arrived", "safe"):  # three tiles a row, all on screen
        box = page.locator(f'[data-count="{key}"]').bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= WIDTH
    assert page.locator('[data-role="driver"]').get_attribute("class") == "short"
    assert page.locator("#board-curve svg polyline.coming").count() == 1
    screenshot(page, "e3-board-live")

    with transaction():  # BEGIN IMMEDIATE: the server reads meanwhile (SQLite)
        zhou = scene.responders["zhou"]
        answer_at(zhou, 19, "coming", 5, start=scene.activation.activated_at)
        zhou.role_id = scene.roles["driver"].id
    page.wait_for_function(
        "document.querySelector('[data-count=\"coming\"] .num').textContent === '4'")
    assert page.locator('[data-role="driver"]').get_attribute("class") == "full"
    assert tile(page, "no_answer") == "0"

    with transaction():
        scene.activation.status = "stood_down"
        scene.activation.stood_down_at = utcnow()
    page.wait_for_function("document.getElementById('board').dataset.status === 'stood_down'")
    assert page.locator("#board-state").inner_text() == "Stood down"
    assert scroll_width(page) <= WIDTH
    screenshot(page, "e3-board-stood-down")


@pytest.mark.parametrize("how", ["no EventSource", "streaming off"])
def test_board_polls_without_event_stream(page, live_scene, db, app, how):
    world, scene = live_scene
    if how == "no EventSource":
        page.add_init_script("delete window.EventSource")
    else:
        app.config["EMERGENCY_SSE_SECONDS"] = 0  # restored by live_scene
    log_in(page, world.coordinator)
    page.goto(f"/emergency/activations/{scene.activation.id}/board")
    page.wait_for_selector('#board-live[data-state="polling"]')
    with transaction():
        scene.responders["zhou"].arrived_at = utcnow()
    page.wait_for_function(
        "document.querySelector('[data-count=\"arrived\"] .num').textContent === '3'",
        timeout=12_000)


def test_report_page_fits_a_phone(page, live_scene):
    world, scene = live_scene
    log_in(page, world.coordinator)
    page.goto(f"/emergency/activations/{scene.activation.id}/report")
    assert page.locator("#report svg").count() >= 3
    assert page.locator('[data-summary="no_shows"] .num').inner_text() == "1"
    assert scroll_width(page) <= WIDTH, "the report scrolls sideways (tables scroll inside)"
    screenshot(page, "e3-report")
