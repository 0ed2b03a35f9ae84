"""Outbox: enqueue in the caller's transaction, dedupe, preferences, quiet hours, delivery."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from volunteer_hub.db import transaction
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.notify import services
from volunteer_hub.notify.models import NotificationPreference, OutboxMessage, now


def messages(db, **filters):
    return list(db.session.execute(
        select(OutboxMessage).filter_by(**filters).order_by(OutboxMessage.id)).scalars())


def test_enqueue_then_worker_delivers_on_every_channel(db, dispatcher, make_user, smtp_server,
                                                       sms_gateway):
    user = make_user()
    with transaction():
        queued = services.enqueue("drill:1", user, subject="Drill", body="集合 at 9",
                                  channels=("sms", "email", "inbox"))
    assert {m.channel: m.status for m in queued} == {
        "sms": "pending", "email": "pending", "inbox": "delivered"}

    assert dispatcher.drain() == 2
    db.session.expire_all()
    by_channel = {m.channel: m for m in messages(db)}
    assert by_channel["sms"].status == "sent" and by_channel["sms"].ack_deadline is not None
    assert by_channel["sms"].provider_message_id == "gw-1"
    assert by_channel["email"].status == "sent"
    assert sms_gateway.sent[f"vh-{by_channel['sms'].id}"] == {
        "id": f"vh-{by_channel['sms'].id}", "to": user.phone, "text": "集合 at 9"}
    [mail] = smtp_server.messages.values()
    assert mail["To"] == user.email and mail["Subject"] == "Drill"
    assert mail["Message-ID"] == f"<vh-{by_channel['email'].id}@volunteer-hub.test>"
    assert mail.get_payload(decode=True).decode().strip() == "集合 at 9"
    assert dispatcher.drain() == 0  # nothing is sent twice


def test_rollback_sends_nothing(db, dispatcher, make_user, sms_gateway):
    user = make_user()
    with pytest.raises(RuntimeError):
        with transaction():
            services.enqueue("evt", user, body="x", channels=("sms", "inbox"))
            raise RuntimeError("the event failed")
    assert messages(db) == []
    assert dispatcher.drain() == 0
    assert sms_gateway.requests == []


def test_same_event_same_person_same_channel_is_queued_once(db, dispatcher, make_user,
                                                            sms_gateway):
    user = make_user()
    for _ in range(3):
        with transaction():
            services.enqueue("evt:7", user, body="hello", channels=("sms",))
    with transaction():
        services.enqueue_many("evt:7", [services.Target(user.id, "hello", phone=user.phone)])
    with transaction():
        services.enqueue("evt:8", user, body="other", channels=("sms",))
    assert [(m.event_key, m.channel) for m in messages(db)] == [("evt:7", "sms"),
                                                                ("evt:8", "sms")]
    dispatcher.drain()
    assert len(sms_gateway.requests) == 2


def test_preferences_switch_channels_off_and_fall_to_the_next(db, make_user):
    user = make_user()
    no_email = make_user(email=False)
    with transaction():
        services.update_preferences(user, {"sms": False})
    with transaction():
        first = services.enqueue("evt", user, body="x", channels=("sms",))
        second = services.enqueue("evt", no_email, body="x", channels=("email",))
    assert [m.channel for m in first] == ["email"]
    assert [(m.channel, m.status) for m in second] == [("inbox", "delivered")]


def test_sms_without_a_configured_gateway_goes_to_email(app, db, make_user):
    user = make_user()
    with transaction():
        queued = services.enqueue("evt", user, body="x", channels=("sms",))
    assert [m.channel for m in queued] == ["email"]


def test_quiet_hours_defer_unless_urgent(db, dispatcher, make_user, sms_gateway):
    user = make_user()
    local_minute = (now() + timedelta(hours=8)).hour * 60  # Asia/Shanghai has no DST
    with transaction():
        services.update_preferences(user, {"quiet_start": local_minute,
                                           "quiet_end": (local_minute + 120) % 1440})
    with transaction():
        [calm] = services.enqueue("newsletter", user, body="x", channels=("sms",))
        [alarm] = services.enqueue("flood", user, body="y", channels=("sms",), urgent=True)
    assert calm.next_attempt_at > now() + timedelta(minutes=50)
    assert dispatcher.drain() == 1
    assert [r["id"] for r in sms_gateway.requests] == [f"vh-{alarm.id}"]


def test_quiet_window_wrapping_midnight():
    pref = NotificationPreference(quiet_start=22 * 60, quiet_end=7 * 60, timezone="Asia/Shanghai")
    day = now().replace(hour=0, minute=0, second=0, microsecond=0)
    # 23:30 Shanghai = 15:30 UTC: quiet until 07:00 Shanghai = 23:00 UTC
    assert services.quiet_until(pref, day + timedelta(hours=15, minutes=30)) == \
        day + timedelta(hours=23)
    assert services.quiet_until(pref, day + timedelta(hours=4)) is None  # 12:00 Shanghai


def test_invalid_input_is_refused(db, make_user):
    user = make_user()
    with pytest.raises(ValidationFailed):
        services.enqueue("evt", user, body="x", channels=("pigeon",))
    with pytest.raises(ValidationFailed):
        services.enqueue("", user, body="x")
    with pytest.raises(ValidationFailed):
        services.update_preferences(user, {"quiet_start": 60})
