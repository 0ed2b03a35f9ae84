"""Real-browser fixtures (registered for the whole suite by tests/conftest.py): the session app
served on a free local port, and headless Chromium, started once per test run.

The server thread uses the same app (and so the same test database) as the other
fixtures; seed data with `tree`, `make_staff` and `make_volunteer`, which commit.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("VOLUNTEER_HUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PHONE_VIEWPORT = {"width": 360, "height": 740}
SHOTS = Path("/tmp/vh-shots")


def _require_browser():
    if Path(CHROMIUM).exists():
        return
    reason = (f"Chromium not found at {CHROMIUM}: install Debian's chromium or set "
              "VOLUNTEER_HUB_CHROMIUM")
    if os.environ.get("VOLUNTEER_HUB_REQUIRE_BROWSER") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    _require_browser()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:  # pragma: no cover - the test extras install it
        if os.environ.get("VOLUNTEER_HUB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"playwright is not installed: {error}")
        pytest.skip(f"playwright is not installed: {error}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        yield instance
        instance.close()


@pytest.fixture
def page(browser, live_server, db):
    """A phone-sized page in English, on a fresh database; closed after the test."""
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the site's policy
    # refuses; tests/browser/test_content_security_policy.py checks the policy itself.
    context = browser.new_context(viewport=PHONE_VIEWPORT, locale="en-US",
                                  base_url=live_server, device_scale_factor=1, bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if os.environ.get("VOLUNTEER_HUB_SHOT_PARTS") == "1":  # screen-sized parts, for review
        height = page.evaluate("document.documentElement.scrollHeight")
        for index, top in enumerate(range(0, height, PHONE_VIEWPORT["height"])):
            page.screenshot(path=str(SHOTS / f"{name}-part{index}.png"), full_page=True,
                            clip={"x": 0, "y": top, "width": PHONE_VIEWPORT["width"],
                                  "height": min(PHONE_VIEWPORT["height"], height - top)})
    return path


def scroll_width(page) -> int:
    page.wait_for_load_state()  # a tap that navigates may still be replacing the document
    return page.evaluate("document.documentElement.scrollWidth")


@contextmanager
def phones(browser, live_server, locale: str, words: dict):
    """open_phone(login=None) -> a new phone (browser context) in `locale`, logged in with
    that phone number when given; every phone opened is closed at the end."""
    from tests import factories

    contexts = []

    def open_phone(login=None):
        context = browser.new_context(viewport=PHONE_VIEWPORT, locale=locale,
                                      base_url=live_server, device_scale_factor=1)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.words = words
        if login:
            page.goto("/login")
            page.fill("#login", login)
            page.fill("#password", factories.PASSWORD)
            page.click("main button[type=submit]")
            page.wait_for_load_state()
        return page

    open_phone.words = words
    try:
        yield open_phone
    finally:
        for context in contexts:
            context.close()
