"""Dispatcher: retries and backoff, dead letters, fallback, receipts, leases, rate limits."""
from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select, update

from tests.notify.conftest import GATEWAY_SECRET
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.channels import TokenBucket
from volunteer_hub.notify.dispatcher import Dispatcher
from volunteer_hub.notify.models import OutboxMessage, now

SECRET = {"X-Gateway-Secret": GATEWAY_SECRET}


def rows(db):
    db.session.expire_all()
    return list(db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


def make_due(db, message_id):
    db.session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id)
                       .values(next_attempt_at=now() - timedelta(seconds=1)))
    db.session.commit()


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    assert [services.backoff(n).total_seconds() for n in range(1, 10)] == [
        30, 60, 120, 240, 480, 960, 1920, 3600, 3600]


def test_transient_failures_back_off_then_dead_then_admin_retry(
        db, tree, make_staff, make_volunteer, client, auth_header, dispatcher, sms_gateway,
        smtp_server):
    volunteer = make_volunteer(tree["a"], email="v1@example.org")
    admin = make_staff(tree["street"], "admin")
    with transaction():
        [sms] = services.enqueue("evt", volunteer.user, body="hi", channels=("sms",))
    sms_gateway.fail_next, sms_gateway.fail_status = 6, 503
    delays = []
    for attempt in range(1, 7):
        before = now()
        dispatcher.drain()
        [row, *rest] = rows(db)
        assert row.attempts == attempt and "gateway 503" in row.last_error
        if attempt < 6:
            assert row.status == "pending" and rest == []
            delays.append(round((row.next_attempt_at - before).total_seconds()))
            make_due(db, row.id)
    assert delays == [30, 60, 120, 240, 480]
    assert row.status == "dead"
    [email] = rest  # a dead SMS falls back to e-mail
    assert (email.channel, email.fallback_of_id, email.status) == ("email", row.id, "sent")
    assert len(smtp_server.messages) == 1

    headers = auth_header(admin)
    listed = client.get("/api/v1/notify/messages", headers=headers).get_json()
    assert [m["id"] for m in listed["items"]] == [sms.id]
    response = client.post(f"/api/v1/notify/messages/{sms.id}/retry", headers=headers)
    assert response.status_code == 200 and response.get_json()["status"] == "pending"
    again = client.post(f"/api/v1/notify/messages/{sms.id}/retry", headers=headers)
    assert again.status_code == 409 and again.get_json()["error"] == "NOTIFY_NOT_RETRYABLE"
    dispatcher.drain()
    assert rows(db)[0].status == "sent"
    assert len(sms_gateway.sent) == 1


def test_admin_outbox_is_scoped(db, tree, make_staff, make_volunteer, client, auth_header):
    volunteer = make_volunteer(tree["b"])
    with transaction():
        [message] = services.enqueue("evt", volunteer.user, body="x", channels=("inbox",))
    outsider = make_staff(tree["a"], "admin")
    organizer = make_staff(tree["street"], "organizer")
    insider = make_staff(tree["b"], "admin")
    query = "/api/v1/notify/messages?status=delivered"
    assert client.get(query, headers=auth_header(outsider)).get_json()["items"] == []
    assert client.get(query, headers=auth_header(organizer)).status_code == 403
    assert client.get("/api/v1/notify/messages").status_code == 401
    items = client.get(query, headers=auth_header(insider)).get_json()["items"]
    assert [m["id"] for m in items] == [message.id]
    assert client.post(f"/api/v1/notify/messages/{message.id}/retry",
                       headers=auth_header(outsider)).status_code == 404


def test_permanent_sms_failure_falls_back_to_email(db, dispatcher, make_user, sms_gateway,
                                                   smtp_server):
    user = make_user()
    with transaction():
        services.enqueue("flood:1", user, subject="Flood", body="come", channels=("sms",),
                         urgent=True)
    sms_gateway.fail_next, sms_gateway.fail_status = 1, 400
    assert dispatcher.drain() == 2  # the SMS, then the e-mail it fell back to
    sms, email = rows(db)
    assert (sms.status, sms.attempts) == ("failed", 1) and "gateway 400" in sms.last_error
    assert (email.channel, email.status, email.fallback_of_id) == ("email", "sent", sms.id)
    assert [m["Subject"] for m in smtp_server.messages.values()] == ["Flood"]


def test_refused_email_falls_back_to_inbox(db, dispatcher, make_user, smtp_server):
    user = make_user(phone=True)
    with transaction():
        services.enqueue("evt", user, body="x", channels=("email",))
    smtp_server.refuse_next = 1
    dispatcher.drain()
    email, inbox = rows(db)
    assert email.status == "failed" and "550" in email.last_error
    assert (inbox.channel, inbox.status) == ("inbox", "delivered")


def test_receipts_update_status_and_a_failed_receipt_falls_back(db, client, dispatcher,
                                                                make_user, sms_gateway):
    first, second = make_user(), make_user()
    with transaction():
        [a] = services.enqueue("evt", first, body="x", channels=("sms",))
        [b] = services.enqueue("evt", second, body="x", channels=("sms",))
    dispatcher.drain()
    url = "/api/v1/notify/sms/receipts"
    provider_a = sms_gateway.ids[f"vh-{a.id}"]
    assert client.post(url, json={"message_id": provider_a, "status": "delivered"}
                       ).status_code == 401
    assert client.post(url, json={"message_id": provider_a, "status": "delivered"},
                       headers={"X-Gateway-Secret": "wrong"}).status_code == 401
    response = client.post(url, json={"message_id": provider_a, "status": "delivered"},
                           headers=SECRET)
    assert response.get_json() == {"id": a.id, "status": "delivered"}
    response = client.post(url, json={"id": f"vh-{b.id}", "status": "failed",
                                      "error": "number unreachable"}, headers=SECRET)
    assert response.get_json() == {"id": b.id, "status": "failed"}
    assert client.post(url, json={"message_id": "nope", "status": "delivered"},
                       headers=SECRET).status_code == 404
    assert client.post(url, json={"message_id": provider_a, "status": "read"},
                       headers=SECRET).status_code == 422
    by_id = {m.id: m for m in rows(db)}
    assert by_id[a.id].delivered_at is not None and by_id[a.id].ack_deadline is None
    assert by_id[b.id].last_error == "number unreachable"
    [fallback] = [m for m in by_id.values() if m.fallback_of_id == b.id]
    assert fallback.channel == "email"


def test_no_receipt_in_time_falls_back(db, dispatcher, make_user):
    user = make_user()
    with transaction():
        [sms] = services.enqueue("evt", user, body="x", channels=("sms",))
    dispatcher.drain()
    db.session.execute(update(OutboxMessage).values(ack_deadline=now() - timedelta(seconds=1)))
    db.session.commit()
    assert dispatcher.check_acknowledgements(every=0) == 1
    assert dispatcher.check_acknowledgements(every=0) == 0
    sms_row, email = rows(db)
    assert sms_row.status == "sent" and sms_row.last_error == "no delivery receipt in time"
    assert (email.channel, email.fallback_of_id) == ("email", sms.id)


def test_a_dead_workers_claim_is_taken_over_and_sent_once(app, db, dispatcher, make_user,
                                                          sms_gateway):
    user = make_user()
    with transaction():
        [sms] = services.enqueue("evt", user, body="x", channels=("sms",))
    crashed = Dispatcher(app, batch=10, threads=1)
    token, claimed = crashed.claim()
    results = crashed.send(claimed)  # sent, then the worker "dies" before recording
    assert dispatcher.drain() == 0  # the lease still holds
    make_due(db, sms.id)  # the lease runs out
    assert dispatcher.drain() == 1
    crashed.record(token, results)  # a late record from the old claim changes nothing
    crashed.close()
    [row] = rows(db)
    assert (row.status, row.attempts) == ("sent", 2)
    assert row.claimed_by != token
    assert len(sms_gateway.requests) == 2 and len(sms_gateway.sent) == 1  # deduped by id


def test_inbound_replies_are_stored_and_offered_to_handlers(db, client, make_user, dispatcher,
                                                            sms_gateway):
    user = make_user()
    seen = []

    def handler(inbound):
        seen.append(inbound.text)
        return "收到 / Received" if inbound.text.startswith("1") else None

    services.register_inbound_handler("test", handler)
    try:
        url = "/api/v1/notify/sms/inbound"
        body = {"message_id": "in-1", "from": "+86" + user.phone, "text": "1 30"}
        assert client.post(url, json=body).status_code == 401
        first = client.post(url, json=body, headers=SECRET).get_json()
        assert first["handled_by"] == "test" and first["reply"] == "收到 / Received"
        assert client.post(url, json=body, headers=SECRET).get_json()["id"] == first["id"]
        other = client.post(url, json={"from": "13900000000", "text": "hello"},
                            headers=SECRET).get_json()
        assert other["handled_by"] is None
    finally:
        services.unregister_inbound_handler("test")
    assert seen == ["1 30", "hello"]
    from volunteer_hub.notify.models import InboundSms

    stored = list(db.session.execute(select(InboundSms).order_by(InboundSms.id)).scalars())
    assert [(s.user_id, s.text) for s in stored] == [(user.id, "1 30"), (None, "hello")]
    dispatcher.drain()
    assert [r["text"] for r in sms_gateway.requests] == ["收到 / Received"]


def test_token_bucket_limits_the_rate():
    bucket = TokenBucket(rate=100, capacity=1)
    started = time.monotonic()
    for _ in range(21):
        bucket.take()
    assert time.monotonic() - started >= 0.19


def test_sms_rate_limit_applies_per_worker(app, db, notify_config, make_user, sms_gateway):
    app.config["SMS_RATE"] = 40
    users = [make_user() for _ in range(15)]
    with transaction():
        for user in users:
            services.enqueue("evt", user, body="x", channels=("sms",))
    worker = Dispatcher(app, batch=50, threads=4)
    worker.buckets["sms"].tokens = 1  # start empty-ish: 14 more at 40/s take >= 0.35 s
    started = time.monotonic()
    worker.drain()
    worker.close()
    assert time.monotonic() - started >= 0.3
    assert len(sms_gateway.sent) == 15


def test_inbox_and_preferences_api(db, client, make_user, auth_header):
    user, other = make_user(), make_user()
    with transaction():
        [mine] = services.enqueue("evt:1", user, subject="S", body="B")
        services.enqueue("evt:2", user, body="C")
        [theirs] = services.enqueue("evt:1", other, body="B")
    headers = auth_header(user)
    inbox = client.get("/api/v1/notify/inbox", headers=headers).get_json()
    assert [m["event_key"] for m in inbox["items"]] == ["evt:2", "evt:1"]
    assert client.post(f"/api/v1/notify/inbox/{mine.id}/read", headers=headers
                       ).get_json()["read_at"] is not None
    assert client.post(f"/api/v1/notify/inbox/{theirs.id}/read", headers=headers
                       ).status_code == 404
    unread = client.get("/api/v1/notify/inbox?unread=true", headers=headers).get_json()
    assert [m["event_key"] for m in unread["items"]] == ["evt:2"]

    assert client.get("/api/v1/notify/preferences", headers=headers).get_json()["sms"] is True
    response = client.put("/api/v1/notify/preferences", headers=headers,
                          json={"sms": False, "quiet_start": 1320, "quiet_end": 420})
    assert response.status_code == 200
    assert response.get_json()["quiet_start"] == 1320
    bad = client.put("/api/v1/notify/preferences", headers=headers, json={"quiet_end": 2000})
    assert bad.status_code == 422
    assert client.put("/api/v1/notify/preferences", headers=headers,
                      json={"timezone": "Mars/Olympus"}).status_code == 422
