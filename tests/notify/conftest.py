"""Notify fixtures: a real SMTP server and a real HTTP SMS gateway on 127.0.0.1."""
from __future__ import annotations

import pytest

from tests.notify.servers import SmsGateway, SmtpSink

GATEWAY_SECRET = "receipt-secret"


@pytest.fixture(scope="session")
def smtp_server():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def sms_gateway():
    gateway = SmsGateway().start()
    yield gateway
    gateway.stop()


@pytest.fixture
def notify_config(app, db, smtp_server, sms_gateway):
    """Point the app at the local servers for one test; cleared servers, restored config."""
    smtp_server.clear()
    sms_gateway.clear()
    settings = {
        "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp_server.port,
        "SMTP_FROM": "station@volunteer-hub.test",
        "SMS_GATEWAY_URL": sms_gateway.url, "SMS_GATEWAY_KEY": sms_gateway.key,
        "SMS_GATEWAY_SECRET": GATEWAY_SECRET,
        "SMS_RATE": 0, "EMAIL_RATE": 0,  # no limit unless a test asks
    }
    saved = {key: app.config.get(key, _MISSING) for key in settings}
    app.config.update(settings)
    yield settings
    for key, value in saved.items():
        if value is _MISSING:
            app.config.pop(key, None)
        else:
            app.config[key] = value


_MISSING = object()


@pytest.fixture
def dispatcher(app, notify_config):
    from volunteer_hub.notify.dispatcher import Dispatcher

    worker = Dispatcher(app, batch=50, threads=4)
    yield worker
    worker.close()


@pytest.fixture
def make_user(db):
    from tests.factories import PASSWORD, unique_phone
    from volunteer_hub.accounts.services import create_user

    counter = iter(range(1, 10_000))

    def make(*, phone=True, email=True, locale="zh_Hans", name=None):
        n = next(counter)
        user = create_user(display_name=name or f"user{n}", password=PASSWORD,
                           phone=unique_phone() if phone else None,
                           email=f"user{n}.{id(counter) % 10000}@example.org" if email else None,
                           locale=locale)
        db.session.commit()
        return user
    return make
