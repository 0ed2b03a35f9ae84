"""SMS fixtures: local Alibaba Cloud and Tencent Cloud servers, the app pointed at either.

`provider` is parametrized by the tests that run for both (`@pytest.mark.parametrize(
"provider", ["aliyun", "tencent"], indirect=True)`): it configures the app for that
provider's local server with a template for every message kind, and yields the server.
"""
from __future__ import annotations

import re

import pytest

from tests.emergency.conftest import (  # noqa: F401 - fixtures
    activate_drill, fresh_board_cache, make_plan, world,
)
from tests.notify.conftest import make_user, smtp_server  # noqa: F401 - fixtures
from tests.sms.servers import AliyunSms, TencentSms
from volunteer_hub.sms.kinds import KINDS

SITE = "https://vh.example.org"
CALLBACK_SECRET = "callback-secret-0123456789"
ALIYUN_CODES = {kind.name: f"SMS_{4700 + n}" for n, kind in enumerate(KINDS)}
TENCENT_IDS = {kind.name: str(180000 + n) for n, kind in enumerate(KINDS)}


def wording(kind, locale="zh_Hans") -> str:
    """What the deployer registered: the kind's text with the site's address."""
    return kind.text(locale).replace("<site>", SITE)


def tencent_wording(kind, locale="zh_Hans") -> str:
    """Tencent numbers its variables {1}, {2} in the order of the parameter list."""
    text = wording(kind, locale)
    for n, name in enumerate(kind.params, start=1):
        text = text.replace("${" + name + "}", "{" + str(n) + "}")
    return text


@pytest.fixture(scope="session")
def aliyun_server(app):
    with app.app_context():
        server = AliyunSms({ALIYUN_CODES[k.name]: wording(k) for k in KINDS}).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tencent_server(app):
    with app.app_context():
        server = TencentSms({TENCENT_IDS[k.name]: tencent_wording(k) for k in KINDS}).start()
    yield server
    server.stop()


def provider_settings(name: str, server) -> dict:
    common = {"SMS_PROVIDER": name, "SMS_SIGN_NAME": server.sign_name,
              "SMS_CALLBACK_SECRET": CALLBACK_SECRET, "SMS_GATEWAY_URL": None,
              "SMS_RATE": 0, "EMAIL_RATE": 0, "EMERGENCY_BASE_URL": SITE}
    if name == "aliyun":
        return {**common, "ALIYUN_SMS_ACCESS_KEY_ID": server.key_id,
                "ALIYUN_SMS_ACCESS_KEY_SECRET": server.key_secret,
                "ALIYUN_SMS_ENDPOINT": server.url, "SMS_TEMPLATES": {"aliyun": ALIYUN_CODES}}
    return {**common, "TENCENT_SMS_SECRET_ID": server.secret_id,
            "TENCENT_SMS_SECRET_KEY": server.secret_key,
            "TENCENT_SMS_SDK_APP_ID": server.sdk_app_id, "TENCENT_SMS_ENDPOINT": server.url,
            "SMS_TEMPLATES": {"tencent": TENCENT_IDS}}


@pytest.fixture
def provider(request, app, db, monkeypatch, aliyun_server, tencent_server, smtp_server):
    name = getattr(request, "param", "aliyun")
    server = {"aliyun": aliyun_server, "tencent": tencent_server}[name]
    server.clear()
    smtp_server.clear()
    settings = {**provider_settings(name, server), "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": smtp_server.port, "SMTP_FROM": "station@volunteer-hub.test"}
    for key, value in settings.items():
        monkeypatch.setitem(app.config, key, value)
    server.name = name
    return server


@pytest.fixture
def dispatcher(app, provider):
    from volunteer_hub.notify.dispatcher import Dispatcher

    worker = Dispatcher(app, batch=50, threads=4)
    yield worker
    worker.close()


def code_in(text: str) -> str:
    found = re.search(re.escape(SITE) + r"/s/([0-9a-z]+)", text)
    assert found, text
    return found.group(1)
