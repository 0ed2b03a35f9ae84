"""WeChat fixtures: the local WeChat stand-in and the app pointed at it for one test."""
from __future__ import annotations

import pytest

from tests.wechat.fake_wechat import APP_ID, APP_SECRET, FakeWeChat

EVENT_TOKEN = "event-token-of-the-server-configuration"
TEMPLATES = {
    "callout": {"template_id": "TPL-CALLOUT", "fields": {"thing1": "title",
                                                         "character_string2": "code"}},
    "task_notice": "TPL-TASK",
}


@pytest.fixture(scope="session")
def fake_wechat():
    server = FakeWeChat().start()
    yield server
    server.stop()


@pytest.fixture
def wechat_config(app, db, fake_wechat, monkeypatch):
    fake_wechat.clear()
    settings = {"WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
                "WECHAT_TOKEN": EVENT_TOKEN, "WECHAT_API_BASE": fake_wechat.url,
                "WECHAT_OAUTH_BASE": fake_wechat.url, "WECHAT_TEMPLATES": TEMPLATES}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    return settings
