"""The dispatcher's crash and hang guarantees with the template SMS clients.

kill -9 of the real `volunteer-hub worker` mid fan-out, then a restart: no message is lost
and every row ends 'sent'. Unlike our webhook, neither provider drops a repeated request, so
a message in flight when the worker died may reach its phone twice: at most one claimed
batch, each copy carrying the same OutId / SessionContext as the first (the receipt shows
it). A provider that stops answering pauses the SMS channel only.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.notify.test_crash import WORKER, add_users, counts, fan_out, stop, wait_until
from tests.sms.conftest import provider_settings
from volunteer_hub.notify.dispatcher import Dispatcher

FANOUT = 2000
CLAIM = 200
BOTH = pytest.mark.parametrize("provider", ["aliyun", "tencent"], indirect=True)


def start_worker(app, settings: dict, lease=2):
    env = dict(os.environ)
    env.update({
        "VOLUNTEER_HUB_DATABASE_URL": app.config["DATABASE_URL"],
        "VOLUNTEER_HUB_SECRET_KEY": "test-secret",
        "VOLUNTEER_HUB_DATA_ENCRYPTION_KEY": app.config["DATA_ENCRYPTION_KEY"],
        "VOLUNTEER_HUB_ID_HASH_KEY": "test-id-hash-key",
        "VOLUNTEER_HUB_NOTIFY_LEASE_SECONDS": str(lease),
    })
    for key, value in settings.items():
        if value is not None:
            env[f"VOLUNTEER_HUB_{key}"] = (json.dumps(value) if isinstance(value, dict)
                                           else str(value))
    return subprocess.Popen([str(WORKER), "worker", "--batch", str(CLAIM)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture
def crash_app(app, db, provider, tmp_path):
    """As tests/notify/test_crash.py: on SQLite a database file of the test's own."""
    if db.engine.dialect.name != "sqlite":
        yield app
        return
    from volunteer_hub import create_app

    own = create_app({**{k: app.config[k] for k in (
        "SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "ARGON2_PARAMETERS")},
        **provider_settings(provider.name, provider),
        "TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'crash.db'}"})
    with own.app_context():
        db.create_all()
        yield own
        db.session.remove()
        db.engine.dispose()


@BOTH
def test_kill_9_mid_fanout_then_restart_loses_nothing(crash_app, db, provider):
    settings = provider_settings(provider.name, provider)
    users = add_users(db, FANOUT, prefix="197")
    fan_out(db, users, event_key="flood:crash")
    first = start_worker(crash_app, settings)
    try:
        wait_until(lambda: len(provider.sent) >= FANOUT // 3 or first.poll() is not None,
                   60, "the first third")
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        first.kill()
        first.wait()
    finally:
        stop(first)
    at_kill = len(provider.sent)
    assert at_kill < FANOUT, "the worker finished before it could be killed"
    second = start_worker(crash_app, settings)
    try:
        wait_until(lambda: counts(db).get("sent", 0) == FANOUT or second.poll() is not None,
                   90, "all messages sent")
        assert second.poll() is None, second.stderr.read().decode()[-2000:]
    finally:
        stop(second)
    assert counts(db) == {"sent": FANOUT}
    assert provider.refused == []
    per_phone = collections.Counter(_bare(s["phone"]) for s in provider.sent)
    assert set(per_phone) == {phone for _uid, phone in users}  # none lost
    twice = [phone for phone, n in per_phone.items() if n > 1]
    assert max(per_phone.values()) <= 2 and len(twice) <= CLAIM  # one claim in flight
    tag = "out_id" if provider.name == "aliyun" else "context"
    for phone in twice:  # a copy is recognisable: the same message key as the first
        copies = {s[tag] for s in provider.sent if _bare(s["phone"]) == phone}
        assert len(copies) == 1, copies
    print(f"\n{provider.name}: killed after {at_kill} SMS; {len(twice)} sent twice")


def _bare(phone: str) -> str:
    return phone[3:] if phone.startswith("+86") else phone


class HungProvider:
    """Reads every request and answers none (a provider that accepts and hangs)."""

    def __init__(self):
        self.requests = 0
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests += 1
                outer.release.wait(10)
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@BOTH
def test_a_hung_provider_pauses_sms_only_and_the_e_mails_go(app, db, provider, monkeypatch,
                                                            make_user, smtp_server):
    from volunteer_hub.db import transaction
    from volunteer_hub.notify import services

    hung = HungProvider()
    key = "ALIYUN_SMS_ENDPOINT" if provider.name == "aliyun" else "TENCENT_SMS_ENDPOINT"
    monkeypatch.setitem(app.config, key, hung.url)
    monkeypatch.setitem(app.config, "SMS_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setitem(app.config, "NOTIFY_BREAKER_FAILURES", 3)
    users = [make_user() for _ in range(12)]
    with transaction():
        for n, user in enumerate(users):
            services.enqueue(f"drill-{n}", user, body="演练通知", channels=("sms",))
            services.enqueue(f"drill-{n}-mail", user, body="演练通知", subject="演练",
                             channels=("email",))
    worker = Dispatcher(app, batch=100, threads=4)
    try:
        worker.drain()
        assert worker.paused_channels() == ["sms"]
        assert 3 <= hung.requests <= 3 + 4
        assert len(smtp_server.messages) == 12
        assert counts(db).get("pending") == 12  # the SMS wait, none lost
    finally:
        worker.close()
        hung.stop()
