"""SMS batch mode: many messages per gateway request, each with its own key and result."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.channels import Outgoing, SmsGatewayChannel
from volunteer_hub.notify.dispatcher import Dispatcher
from volunteer_hub.notify.models import OutboxMessage


@pytest.fixture
def batches(app, notify_config):
    """Batch mode with the given size for one test."""
    def use(size: int) -> None:
        app.config["SMS_GATEWAY_BATCH"] = size
    yield use
    app.config.pop("SMS_GATEWAY_BATCH", None)


def people(make_user, count: int):
    return [make_user(email=False) for _ in range(count)]


def alert(users, *, event_key="flood") -> None:
    with transaction():
        services.enqueue_many(event_key, [services.Target(u.id, f"洪水演练 {u.id}", phone=u.phone)
                                          for u in users], channel="sms", urgent=True)


def by_status(db) -> dict[str, int]:
    db.session.expire_all()
    counts: dict[str, int] = {}
    for status in db.session.execute(select(OutboxMessage.status)).scalars():
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_a_mass_alert_goes_out_in_batches_each_person_once(app, db, batches, sms_gateway,
                                                           make_user):
    batches(25)
    users = people(make_user, 60)
    alert(users)
    worker = Dispatcher(app, batch=200, threads=4)
    try:
        assert worker.drain() == 60
    finally:
        worker.close()
    assert sms_gateway.posts == 3  # 25 + 25 + 10 instead of 60 requests
    assert sorted(m["to"] for m in sms_gateway.sent.values()) == sorted(u.phone for u in users)
    assert {m["text"] for m in sms_gateway.sent.values()} == {f"洪水演练 {u.id}" for u in users}
    assert by_status(db) == {"sent": 60}
    provider_ids = db.session.execute(select(OutboxMessage.provider_message_id)).scalars().all()
    assert len(set(provider_ids)) == 60  # each message has its own receipt id


def test_a_message_left_out_of_the_results_is_retried_alone(app, db, batches, sms_gateway,
                                                            make_user):
    batches(10)
    users = people(make_user, 4)
    alert(users)
    first = db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars().first()
    sms_gateway.leave_out.add(f"vh-{first.id}")
    worker = Dispatcher(app, batch=200, threads=2)
    try:
        worker.drain()
    finally:
        worker.close()
    db.session.expire_all()
    retried = db.session.get(OutboxMessage, first.id)
    assert retried.status == "pending" and "left the message out" in retried.last_error
    assert by_status(db) == {"sent": 3, "pending": 1}


def test_a_refused_batch_fails_each_message_as_a_single_request_would(app, notify_config,
                                                                      sms_gateway):
    sms_gateway.fail_next, sms_gateway.fail_status = 1, 400
    channel = SmsGatewayChannel(sms_gateway.url, sms_gateway.key, batch_size=10)
    messages = [Outgoing(id=n, channel="sms", address=address, subject="", body="x",
                         locale="zh_Hans", idempotency_key=f"vh-{n}")
                for n, address in ((1, "+8613700000001"), (2, None), (3, "+8613700000003"))]
    try:
        refused, no_phone, also_refused = channel.send_many(messages)
        assert refused.permanent and "gateway 400" in refused.error
        assert also_refused == refused
        assert no_phone.permanent and no_phone.error == "no phone number"
        assert [m["id"] for m in sms_gateway.requests] == ["vh-1", "vh-3"]  # one request
        assert sms_gateway.posts == 1
        sent = channel.send_many(messages[:1])  # the same key again: the first answer, no send
        assert sent[0].ok and len(sms_gateway.sent) == 1
    finally:
        channel.close()


def test_the_rate_limit_counts_messages_not_requests(app, db, batches, sms_gateway,
                                                     make_user):
    batches(20)
    app.config["SMS_RATE"] = 40  # notify_config restores it
    users = people(make_user, 60)
    alert(users)
    worker = Dispatcher(app, batch=200, threads=4)
    try:
        started = time.monotonic()
        worker.drain()
        elapsed = time.monotonic() - started
    finally:
        worker.close()
    # 40 tokens at once, then 20 more at 40 a second: at least half a second for 60.
    assert elapsed >= 0.45 and len(sms_gateway.sent) == 60
