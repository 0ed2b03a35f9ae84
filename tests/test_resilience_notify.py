"""A gateway that accepts and never answers pauses its channel only (issue 11, item 7).

Before the circuit breaker every SMS of the outbox waited out the gateway's timeout in a
send thread (1.6 messages a second in production). Now a few requests without an answer
pause the SMS channel: e-mails keep going, the SMS wait in the outbox without losing an
attempt, and after the cool-down one probe finds the gateway again.
"""
from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import func, select, update

from tests.factories import PASSWORD, unique_phone
from tests.notify.servers import SmtpSink
from volunteer_hub.accounts.services import create_user
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.channels import EmailChannel, SmsGatewayChannel
from volunteer_hub.notify.dispatcher import Dispatcher
from volunteer_hub.notify.models import OutboxMessage, now

CLIENT_TIMEOUT = 0.5  # the SMS channel's wait for an answer, short for the test
FAILURES, COOL_DOWN, THREADS = 3, 30.0, 4
HELD_AT_MOST = 10.0  # how long the hung gateway keeps a request before dropping it


class HangingGateway:
    """An HTTP server on 127.0.0.1 that reads each request and, while `hung`, never
    answers; otherwise it accepts the SMS like a real gateway."""

    def __init__(self):
        self.hung = True
        self.requests = 0
        self.accepted: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with gateway.lock:
                    gateway.requests += 1
                    hung = gateway.hung
                if hung:
                    gateway.release.wait(HELD_AT_MOST)
                    self.close_connection = True
                    return
                with gateway.lock:
                    gateway.accepted.append(request["id"])
                body = json.dumps({"message_id": f"provider-{request['id']}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def start(self) -> HangingGateway:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    server = HangingGateway().start()
    yield server
    server.stop()


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


class Clock:
    """The breakers' monotonic clock, moved by the test instead of waiting."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def dispatcher(app, db, gateway, smtp, monkeypatch):
    monkeypatch.setitem(app.config, "NOTIFY_BREAKER_FAILURES", FAILURES)
    monkeypatch.setitem(app.config, "NOTIFY_BREAKER_COOL_DOWN_SECONDS", COOL_DOWN)
    monkeypatch.setitem(app.config, "SMS_GATEWAY_URL", gateway.url)  # else SMS become e-mail
    channels = {"sms": SmsGatewayChannel(gateway.url, None, timeout=CLIENT_TIMEOUT),
                "email": EmailChannel("127.0.0.1", smtp.port, "station@volunteer-hub.test")}
    worker = Dispatcher(app, batch=100, threads=THREADS, channels=channels)
    worker.buckets.clear()  # no rate limits here
    clock = Clock()
    for breaker in worker.breakers.values():
        breaker.clock = clock
    worker.clock = clock
    yield worker
    worker.close()


def enqueue_for_people(db, count: int) -> None:
    """`count` people, each sent one SMS and one e-mail (the SMS written first)."""
    with transaction():
        for n in range(count):
            person = create_user(display_name=f"person{n}", password=PASSWORD,
                                 phone=unique_phone(), email=f"person{n}@example.org")
            db.session.flush()
            services.enqueue(f"drill-{n}", person, body="演练通知", channels=("sms",))
            services.enqueue(f"drill-{n}-mail", person, body="演练通知", subject="演练",
                             channels=("email",))


def statuses(db, channel: str) -> dict[str, int]:
    db.session.expire_all()
    return dict(db.session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.channel == channel)
        .group_by(OutboxMessage.status)).all())


def test_a_hung_gateway_holds_a_few_threads_and_the_e_mails_go(db, dispatcher, gateway,
                                                                smtp):
    enqueue_for_people(db, 20)
    dispatcher.drain()
    assert statuses(db, "email") == {"sent": 20}
    assert len(smtp.messages) == 20
    # Only the requests already under way when the circuit opened met the hung gateway.
    assert FAILURES <= gateway.requests <= FAILURES + THREADS
    assert statuses(db, "sms") == {"pending": 20}  # none failed, dead or lost
    db.session.expire_all()
    attempts = sorted(db.session.execute(select(OutboxMessage.attempts).where(
        OutboxMessage.channel == "sms")).scalars())
    assert attempts.count(0) == 20 - gateway.requests  # waiting is not an attempt
    assert dispatcher.paused_channels() == ["sms"]


def test_after_the_cool_down_a_probe_finds_the_gateway_and_every_sms_goes(
        db, dispatcher, gateway, smtp):
    enqueue_for_people(db, 12)
    dispatcher.drain()
    tried_while_hung = gateway.requests
    gateway.hung = False
    dispatcher.drain()  # still paused: nothing is tried before the cool-down
    assert gateway.requests == tried_while_hung
    dispatcher.clock.now += COOL_DOWN
    dispatcher.drain()
    assert dispatcher.paused_channels() == []
    # The messages that met the hung gateway are retried on their own backoff; the others
    # are sent now, each once.
    sent = statuses(db, "sms")
    assert sent == {"sent": 12 - tried_while_hung, "pending": tried_while_hung}
    assert len(gateway.accepted) == len(set(gateway.accepted)) == 12 - tried_while_hung


def test_a_failed_probe_pauses_the_channel_again(db, dispatcher, gateway):
    enqueue_for_people(db, 8)
    dispatcher.drain()
    before = gateway.requests
    dispatcher.clock.now += COOL_DOWN
    dispatcher.drain()
    assert gateway.requests == before + 1  # one probe, no answer
    assert dispatcher.paused_channels() == ["sms"]
    assert statuses(db, "sms") == {"pending": 8}


def test_sms_paused_longer_than_their_retries_fall_back_to_e_mail(db, dispatcher, gateway,
                                                                  smtp):
    """Waiting is not an attempt, but it does not last for ever: an SMS still held back by
    the paused channel once its retries would all have run out is given up and falls back
    to e-mail, as it would have without the breaker."""
    enqueue_for_people(db, 20)
    dispatcher.drain()
    tried_while_hung, e_mails_before = gateway.requests, len(smtp.messages)
    with transaction():  # the gateway has now been hung for hours
        db.session.execute(update(OutboxMessage).where(OutboxMessage.channel == "sms").values(
            created_at=now() - timedelta(hours=3)))
    dispatcher.clock.now += COOL_DOWN
    dispatcher.drain()  # one probe, no answer; the other SMS claimed with it were deferred
    assert gateway.requests == tried_while_hung + 1
    assert dispatcher.paused_channels() == ["sms"]
    given_up = 20 - tried_while_hung - 1
    assert statuses(db, "sms") == {"dead": given_up, "pending": tried_while_hung + 1}
    assert len(smtp.messages) - e_mails_before == given_up  # each one's fallback e-mail


def test_an_smtp_server_that_answers_with_a_refusal_is_not_a_silent_one(smtp):
    """smtplib's errors are OSErrors too; one the server answered (no STARTTLS here) must
    not count towards pausing the channel as if the server never answered."""
    from volunteer_hub.notify.channels import Outgoing

    channel = EmailChannel("127.0.0.1", smtp.port, "station@volunteer-hub.test", starttls=True)
    try:
        result = channel.send(Outgoing(id=1, channel="email", address="a@example.org",
                                       subject="s", body="b", locale="zh_Hans",
                                       idempotency_key="vh-1", urgent=False, link=None))
    finally:
        channel.close()
    assert not result.ok and "STARTTLS" in result.error
    assert result.unanswered is False
