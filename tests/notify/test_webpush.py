"""Web Push: a real push service on 127.0.0.1 receives, the test decrypts as a browser would.

The subscriber's key pair is made here (cryptography), so the test can decrypt the
aes128gcm body with http_ece, check the VAPID JWT against the app's public key, and look at
TTL, Urgency and Topic; 404/410 and timeouts fall back to SMS through the real SMS gateway.
"""
from __future__ import annotations

import base64
import json
import os
import struct
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import http_ece
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from sqlalchemy import select, update

from tests.web.helpers import csrf_token, login, text
from volunteer_hub.config import _vapid_private_key
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.models import OutboxMessage, PushSubscription, now

STATIC = Path(__file__).resolve().parents[2] / "volunteer_hub" / "web" / "static"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text_: str) -> bytes:
    return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4))


class PushService:
    """A push service on 127.0.0.1: keeps every request; answers 201 unless told otherwise
    (`answers[path] = status`, or `delay[path] = seconds` before answering)."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: dict[str, int] = {}
        self.delay: dict[str, float] = {}
        self.lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with service.lock:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    service.requests.append({"path": self.path, "headers": headers,
                                             "body": body})
                    status = service.answers.get(self.path, 201)
                    delay = service.delay.get(self.path, 0)
                time.sleep(delay)
                self.send_response(status)
                if status == 201:
                    self.send_header("Location", f"{service.origin}/m{len(service.requests)}")
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that timed out closed its connection: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """What a browser keeps for one push subscription: its endpoint and private keys."""

    def __init__(self, service: PushService, name: str):
        self.path = f"/push/{name}"
        self.endpoint = service.origin + self.path
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    @property
    def p256dh(self) -> str:
        return b64url(self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def json(self) -> dict:
        return {"endpoint": self.endpoint,
                "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def decrypt(self, request: dict) -> dict:
        assert request["headers"]["content-encoding"] == "aes128gcm"
        plain = http_ece.decrypt(request["body"], private_key=self.key,
                                 auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


@pytest.fixture(scope="module")
def push_service():
    service = PushService()
    yield service
    service.stop()


VAPID_KEY = _vapid_private_key()


@pytest.fixture
def webpush(app, notify_config, push_service):
    """Web Push set up with a fresh push service log; config restored afterwards."""
    settings = {"VAPID_PRIVATE_KEY": VAPID_KEY, "VAPID_PUBLIC_KEY": None,
                "VAPID_SUBJECT": "mailto:ops@volunteer-hub.test",
                "WEBPUSH_ENDPOINT_HOSTS": "127.0.0.1", "WEBPUSH_RATE": 0,
                "WEBPUSH_TIMEOUT_SECONDS": 2}
    saved = {key: app.config.get(key) for key in settings}
    app.config.update(settings)
    with push_service.lock:
        push_service.requests.clear()
        push_service.answers.clear()
        push_service.delay.clear()
    yield push_service
    app.config.update(saved)


@pytest.fixture
def push_dispatcher(app, webpush):
    from volunteer_hub.notify.dispatcher import Dispatcher

    worker = Dispatcher(app, batch=50, threads=4)
    yield worker
    worker.close()


def subscribe(db, user, browser: Browser) -> PushSubscription:
    with transaction():
        subscription, _created = services.subscribe(
            user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=b64url(browser.auth),
            user_agent="Mozilla/5.0 (Linux; Android 14) Chrome/131.0 Mobile Safari/537.36")
    return subscription


def outbox(db) -> list[OutboxMessage]:
    db.session.expire_all()
    return list(db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def verify_vapid(header: str, audience: str) -> dict:
    """Check `vapid t=<JWT>,k=<key>` (RFC 8292) against the app's key; return the claims."""
    scheme, _, params = header.partition(" ")
    assert scheme == "vapid"
    parts = dict(item.split("=", 1) for item in params.split(","))
    assert parts["k"] == services.vapid_public_key()
    head, claims, signature = parts["t"].split(".")
    assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(parts["k"]))
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    decoded = json.loads(unb64url(claims))
    assert decoded["aud"] == audience
    assert decoded["sub"] == "mailto:ops@volunteer-hub.test"
    assert time.time() < decoded["exp"] <= time.time() + 24 * 3600
    return decoded


def test_one_message_reaches_every_live_phone_encrypted_and_signed(db, make_user,
                                                                   push_dispatcher, webpush):
    user = make_user()
    phone, tablet, old = (Browser(webpush, n) for n in ("phone", "tablet", "old"))
    for browser in (phone, tablet, old):
        subscribe(db, user, browser)
    db.session.execute(update(PushSubscription).where(PushSubscription.endpoint == old.endpoint)
                       .values(gone_at=now()))
    db.session.commit()
    with transaction():
        [queued] = services.enqueue("need:7", user, subject="新任务", body="周二 9:00 陪诊",
                                    channels=("webpush",), link="/tasks/7")
    assert queued.channel == "webpush"

    assert push_dispatcher.drain() == 1
    by_path = {r["path"]: r for r in webpush.requests}
    assert set(by_path) == {phone.path, tablet.path}  # the gone one is not sent to
    for browser in (phone, tablet):
        request = by_path[browser.path]
        assert browser.decrypt(request) == {
            "id": f"vh-{queued.id}", "title": "新任务", "body": "周二 9:00 陪诊",
            "url": "/tasks/7", "urgent": False, "lang": "zh-Hans"}
        headers = request["headers"]
        verify_vapid(headers["authorization"], webpush.origin)
        assert (headers["ttl"], headers["urgency"], headers["topic"]) == (
            "86400", "normal", f"vh-{queued.id}")
    with pytest.raises(Exception):
        tablet.decrypt(by_path[phone.path])  # each copy is encrypted for its own browser

    [row] = outbox(db)
    assert (row.status, row.ack_deadline, row.fallback_of_id) == ("sent", None, None)
    assert row.provider_message_id.startswith(webpush.origin)
    live = {s.endpoint: s for s in db.session.execute(select(PushSubscription)).scalars()}
    assert live[phone.endpoint].last_success_at is not None
    assert live[old.endpoint].last_success_at is None
    assert push_dispatcher.drain() == 0


def test_urgent_push_is_high_urgency_and_the_phone_acknowledges_it(db, client, make_user,
                                                                   push_dispatcher, webpush,
                                                                   sms_gateway):
    first, second = make_user(), make_user()
    first_phone, second_phone = Browser(webpush, "first"), Browser(webpush, "second")
    subscribe(db, first, first_phone)
    subscribe(db, second, second_phone)
    with transaction():
        for user in (first, second):
            services.enqueue("flood:1", user, subject="【演练】防汛集合",
                             body="请回复 https://hub.example/r/abc 确认", channels=("webpush",),
                             urgent=True)
    assert push_dispatcher.drain() == 2
    requests = {r["path"]: r for r in webpush.requests}
    assert requests[first_phone.path]["headers"]["urgency"] == "high"
    assert requests[first_phone.path]["headers"]["ttl"] == "3600"
    payload = first_phone.decrypt(requests[first_phone.path])
    assert payload["url"] == "https://hub.example/r/abc"  # no link given: the one in the text
    assert payload["urgent"] is True and payload["ack"] == "/api/v1/notify/push/receipts"
    a, b = outbox(db)
    assert a.status == b.status == "sent"
    assert a.ack_deadline is not None and b.ack_deadline is not None

    # The first phone's service worker shows the push and acknowledges it.
    forged = client.post(payload["ack"], json={"id": payload["id"], "sig": "x" * 24})
    assert forged.status_code == 404
    other = second_phone.decrypt(requests[second_phone.path])
    assert client.post(payload["ack"], json={"id": payload["id"], "sig": other["sig"]}
                       ).status_code == 404  # a token is bound to its message
    answer = client.post(payload["ack"], json={"id": payload["id"], "sig": payload["sig"]})
    assert answer.get_json() == {"id": a.id, "status": "delivered"}

    # The second phone stays silent: when the deadline passes, the SMS goes out.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.ack_deadline.isnot(None))
                       .values(ack_deadline=now() - timedelta(seconds=1)))
    db.session.commit()
    assert push_dispatcher.check_acknowledgements(every=0) == 1
    push_dispatcher.drain()
    rows = outbox(db)
    assert [(r.channel, r.status) for r in rows] == [
        ("webpush", "delivered"), ("webpush", "sent"), ("sms", "sent")]
    assert rows[2].fallback_of_id == b.id
    assert [r["to"] for r in sms_gateway.sent.values()] == [second.phone]


def test_gone_subscription_is_marked_and_the_message_falls_back_to_sms(
        db, make_user, push_dispatcher, webpush, sms_gateway):
    user = make_user()
    browser = Browser(webpush, "uninstalled")
    subscribe(db, user, browser)
    webpush.answers[browser.path] = 410
    with transaction():
        [push] = services.enqueue("evt:1", user, body="集合 at 9", channels=("webpush",),
                                  urgent=True)
    assert push_dispatcher.drain() == 2  # the push, then the SMS it fell back to
    push_row, sms_row = outbox(db)
    assert (push_row.status, push_row.attempts) == ("failed", 1)
    assert "push service 410" in push_row.last_error
    assert (sms_row.channel, sms_row.status, sms_row.fallback_of_id) == ("sms", "sent", push.id)
    assert [r["text"] for r in sms_gateway.sent.values()] == ["集合 at 9"]
    [subscription] = db.session.execute(select(PushSubscription)).scalars()
    assert subscription.gone_at is not None and subscription.failure_count == 1

    # Gone means gone: the next event goes straight to SMS, and nothing more is pushed.
    with transaction():
        [later] = services.enqueue("evt:2", user, body="x", channels=("webpush",))
    assert later.channel == "sms"
    push_dispatcher.drain()
    assert len(webpush.requests) == 1


def test_one_gone_phone_of_two_does_not_stop_delivery(db, make_user, push_dispatcher, webpush):
    user = make_user()
    kept, lost = Browser(webpush, "kept"), Browser(webpush, "lost")
    subscribe(db, user, kept)
    subscribe(db, user, lost)
    webpush.answers[lost.path] = 404
    with transaction():
        services.enqueue("evt", user, body="x", channels=("webpush",))
    assert push_dispatcher.drain() == 1
    [row] = outbox(db)
    assert row.status == "sent"
    state = {s.endpoint: s.gone_at is not None
             for s in db.session.execute(select(PushSubscription)).scalars()}
    assert state == {kept.endpoint: False, lost.endpoint: True}


def test_a_push_service_that_does_not_answer_in_time_falls_back(db, app, make_user,
                                                                push_dispatcher, webpush):
    app.config["WEBPUSH_TIMEOUT_SECONDS"] = 0.3
    from volunteer_hub.notify.dispatcher import Dispatcher

    worker = Dispatcher(app, batch=10, threads=1)
    user = make_user()
    slow = Browser(webpush, "slow")
    subscribe(db, user, slow)
    webpush.delay[slow.path] = 1.5
    with transaction():
        services.enqueue("evt", user, body="x", channels=("webpush",), urgent=True)
    started = time.monotonic()
    worker.drain()
    worker.close()
    assert time.monotonic() - started < 1.4
    push_row, sms_row = outbox(db)
    assert push_row.status == "failed" and "push service" in push_row.last_error
    assert sms_row.channel == "sms"
    [subscription] = db.session.execute(select(PushSubscription)).scalars()
    assert (subscription.failure_count, subscription.gone_at) == (1, None)  # may recover


def test_fan_out_pushes_only_to_people_with_a_phone_subscribed(db, make_user, push_dispatcher,
                                                               webpush, sms_gateway):
    subscribed, unsubscribed = make_user(), make_user()
    phone = Browser(webpush, "fan")
    subscribe(db, subscribed, phone)
    with transaction():
        services.enqueue_many("drill:9", [
            services.Target(user_id=u.id, body="演练", phone=u.phone, email=u.email,
                            link="/r/1")
            for u in (subscribed, unsubscribed)], channel="webpush", urgent=True)
    rows = {r.recipient_id: r for r in outbox(db)}
    assert rows[subscribed.id].channel == "webpush" and rows[subscribed.id].link == "/r/1"
    assert rows[unsubscribed.id].channel == "sms"
    push_dispatcher.drain()
    assert phone.decrypt(webpush.requests[0])["url"] == "/r/1"
    assert [r["to"] for r in sms_gateway.sent.values()] == [unsubscribed.phone]


def test_push_is_rate_limited_per_worker(db, app, make_user, webpush):
    from volunteer_hub.notify.dispatcher import Dispatcher

    app.config["WEBPUSH_RATE"] = 20
    users = [make_user() for _ in range(6)]
    for n, user in enumerate(users):
        subscribe(db, user, Browser(webpush, f"rate{n}"))
    with transaction():
        for user in users:
            services.enqueue("evt", user, body="x", channels=("webpush",))
    worker = Dispatcher(app, batch=50, threads=4)
    worker.buckets["webpush"].tokens = 1  # 5 more at 20/s take at least 0.25 s
    started = time.monotonic()
    worker.drain()
    worker.close()
    assert time.monotonic() - started >= 0.24
    assert len(webpush.requests) == 6


# --- subscription API and pages ---------------------------------------------------------------

def test_public_key_matches_the_signing_key(client, webpush):
    key = client.get("/api/v1/notify/push/key").get_json()["public_key"]
    assert len(unb64url(key)) == 65 and unb64url(key)[0] == 4
    private = ec.derive_private_key(int.from_bytes(unb64url(VAPID_KEY), "big"), ec.SECP256R1())
    assert key == b64url(private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def test_subscription_api_is_per_user(db, client, make_user, auth_header, webpush):
    alice, bob = make_user(), make_user()
    alice_h, bob_h = auth_header(alice), auth_header(bob)
    url = "/api/v1/notify/push/subscriptions"
    phone = Browser(webpush, "alice")
    assert client.post(url, json=phone.json()).status_code == 401
    created = client.post(url, json=phone.json(), headers=alice_h)
    assert created.status_code == 201
    again = client.post(url, json=phone.json(), headers=alice_h)
    assert again.status_code == 200 and again.get_json()["id"] == created.get_json()["id"]
    sub_id = created.get_json()["id"]

    bad_key = {**phone.json(), "keys": {"p256dh": "A" * 87, "auth": b64url(os.urandom(16))}}
    assert client.post(url, json=bad_key, headers=alice_h).status_code == 422
    short_auth = {**phone.json(), "keys": {"p256dh": phone.p256dh, "auth": b64url(b"x" * 12)}}
    assert client.post(url, json=short_auth, headers=alice_h).status_code == 422
    elsewhere = {**phone.json(), "endpoint": "https://intranet.example/admin"}
    response = client.post(url, json=elsewhere, headers=alice_h)
    assert response.status_code == 422 and response.get_json()["error"] == "VALIDATION_ERROR"

    assert client.get(url, headers=bob_h).get_json() == []
    [listed] = client.get(url, headers=alice_h).get_json()
    assert listed["id"] == sub_id and listed["live"] is True
    assert client.delete(f"{url}/{sub_id}", headers=bob_h).status_code == 404
    assert client.delete(url, json={"endpoint": phone.endpoint}, headers=bob_h
                         ).status_code == 404
    assert client.delete(f"{url}/{sub_id}").status_code == 401
    assert db.session.get(PushSubscription, sub_id) is not None
    assert client.delete(f"{url}/{sub_id}", headers=alice_h).status_code == 204
    assert client.get(url, headers=alice_h).get_json() == []

    # The same phone, now logged in as Bob, moves to Bob.
    client.post(url, json=phone.json(), headers=alice_h)
    assert client.post(url, json=phone.json(), headers=bob_h).status_code == 200
    assert client.get(url, headers=alice_h).get_json() == []
    assert client.delete(url, json={"endpoint": phone.endpoint}, headers=bob_h
                         ).status_code == 204


def test_web_session_subscribes_with_the_csrf_token(db, client, make_user, webpush):
    user = make_user()
    phone = Browser(webpush, "session")
    url = "/account/notifications/push"
    assert client.post(url, json=phone.json()).status_code == 400  # no CSRF token
    token = csrf_token(client, "/login")
    assert client.post(url, json=phone.json(), headers={"X-CSRFToken": token}
                       ).status_code == 401
    login(client, user)
    page = client.get("/account/notifications")
    assert page.status_code == 200
    html = text(page)
    assert "js/push.js" in html and services.vapid_public_key() in html
    token = csrf_token(client, "/account/notifications")
    headers = {"X-CSRFToken": token, "User-Agent":
               "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/131.0 Mobile Safari/537.36"}
    assert client.post(url, json=phone.json()).status_code == 400
    response = client.post(url, json=phone.json(), headers=headers)
    assert response.status_code == 201
    bad = client.post(url, json={"endpoint": phone.endpoint, "keys": {}}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"] == "VALIDATION_ERROR"
    assert "Android · Chrome" in text(client.get("/account/notifications"))
    assert client.delete(url, json={"endpoint": phone.endpoint}, headers=headers
                         ).status_code == 204
    assert db.session.execute(select(PushSubscription)).first() is None


def test_settings_page_saves_channels_and_quiet_hours(db, client, make_user):
    user = make_user()
    login(client, user)
    token = csrf_token(client, "/account/notifications")
    response = client.post("/account/notifications", data={
        "csrf_token": token, "webpush": "y", "email": "y", "quiet_start": "22:00",
        "quiet_end": "07:30"})
    assert response.status_code == 302
    pref = services.get_preference(user.id)
    assert (pref.webpush, pref.sms, pref.email) == (True, False, True)
    assert (pref.quiet_start, pref.quiet_end) == (22 * 60, 7 * 60 + 30)
    bad = client.post("/account/notifications", data={
        "csrf_token": token, "quiet_start": "22:00", "quiet_end": ""})
    assert bad.status_code == 422
    assert client.post("/account/notifications", data={
        "csrf_token": token, "quiet_start": "25:00", "quiet_end": "07:00"}).status_code == 422


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_service_worker_and_manifest_make_the_app_installable(client):
    worker = client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["Service-Worker-Allowed"] == "/"
    assert worker.mimetype == "text/javascript"
    assert "notificationclick" in text(worker) and "showNotification" in text(worker)
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    data = json.loads(manifest.get_data())
    assert data["name"] == "志愿服务站" and data["display"] == "standalone"
    assert data["start_url"] == "/"
    for icon in data["icons"]:
        width, height = png_size(STATIC / icon["src"].removeprefix("/static/"))
        assert f"{width}x{height}" == icon["sizes"]
        assert client.get(icon["src"]).status_code == 200
    assert {"192x192", "512x512"} <= {icon["sizes"] for icon in data["icons"]}
    page = text(client.get("/login"))
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_an_ack_only_confirms_push_messages(db, client, make_user, webpush):
    from volunteer_hub.notify.channels import push_ack_signature

    user = make_user()
    with transaction():
        [row] = services.enqueue("evt", user, body="x", channels=("inbox",))
    key = f"vh-{row.id}"
    signature = push_ack_signature(services.push_ack_secret(), key)  # valid, wrong channel
    assert client.post("/api/v1/notify/push/receipts",
                       json={"id": key, "sig": signature}).status_code == 404


# --- the service worker in a real browser (no push service: the DevTools protocol delivers) ---

from tests.browser_support import PHONE_VIEWPORT, screenshot, scroll_width  # noqa: E402


@pytest.mark.browser
def test_service_worker_shows_and_acknowledges_an_urgent_push(
        browser, live_server, db, make_user, webpush):
    """Chromium's own service worker runtime handles a push delivered through DevTools."""
    from tests.factories import PASSWORD
    from volunteer_hub.notify.channels import Outgoing, WebPushChannel

    user = make_user(locale="en")
    with transaction():
        [row] = services.enqueue("flood:2", user, subject="Flood drill", body="Come to gate 3",
                                 channels=("inbox",))
    # A sent urgent push awaiting the phone's receipt, as the dispatcher leaves it.
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
        channel="webpush", status="sent", ack_deadline=now() + timedelta(minutes=2),
        delivered_at=None))
    db.session.commit()
    channel = WebPushChannel(VAPID_KEY, "mailto:x@y.z", ack_secret=services.push_ack_secret(),
                             ack_url=services.PUSH_RECEIPT_PATH)
    payload = channel.payload(Outgoing(
        id=row.id, channel="webpush", address=None, subject="Flood drill",
        body="Come to gate 3", locale="en", idempotency_key=f"vh-{row.id}", urgent=True,
        link="/account/notifications"))

    context = browser.new_context(base_url=live_server, locale="en-US",
                                  viewport=PHONE_VIEWPORT)
    context.grant_permissions(["notifications"], origin=live_server)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/login")
        page.fill("#login", user.phone)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.goto("/account/notifications")
        status = page.locator("[data-push-status]")
        status.filter(has_text="Notifications are off for this phone.").wait_for()
        assert page.locator("[data-push-on]").is_visible()
        assert not page.locator("[data-push-off]").is_visible()
        assert scroll_width(page) <= PHONE_VIEWPORT["width"]
        screenshot(page, "notify-settings")
        scope = page.evaluate("navigator.serviceWorker.ready.then(r => r.scope)")
        assert scope == live_server + "/"

        cdp = context.new_cdp_session(page)
        cdp.send("ServiceWorker.enable")
        registrations = []
        cdp.on("ServiceWorker.workerRegistrationUpdated",
               lambda event: registrations.extend(event["registrations"]))
        deadline = time.monotonic() + 10
        while not registrations and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        [registration] = [r for r in registrations if r["scopeURL"] == live_server + "/"]
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": live_server, "registrationId": registration["registrationId"],
            "data": payload.decode()})

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            db.session.rollback()  # a new snapshot: the live server commits in its own
            if db.session.get(OutboxMessage, row.id).status == "delivered":
                break
            time.sleep(0.1)
        assert db.session.get(OutboxMessage, row.id).status == "delivered"
        shown = page.evaluate("""navigator.serviceWorker.ready
            .then(r => r.getNotifications())
            .then(list => list.map(n => [n.title, n.body, n.tag, n.data.url]))""")
        assert shown == [["Flood drill", "Come to gate 3", f"vh-{row.id}",
                          "/account/notifications"]]
        assert errors == []
    finally:
        context.close()
