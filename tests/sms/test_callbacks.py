"""Delivery reports and replies from each provider's callback, authenticated by the secret in
the callback URL, into the outbox's receipts and the reply codes."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.sms.conftest import CALLBACK_SECRET
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.models import InboundSms, OutboxMessage

BOTH = pytest.mark.parametrize("provider", ["aliyun", "tencent"], indirect=True)


def sent_sms(db, dispatcher, make_user, count=2, event_key="notice:receipts"):
    users = [make_user(email=True) for _ in range(count)]
    with transaction():
        for user in users:
            services.enqueue(event_key, user, body="演练通知", subject="演练",
                             channels=("sms",), urgent=True)
    assert dispatcher.drain() == count
    db.session.expire_all()
    rows = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == event_key).order_by(OutboxMessage.id)).scalars().all()
    assert [row.status for row in rows] == ["sent"] * count, [r.last_error for r in rows]
    return users, rows


def report(client, provider, rows, outcomes, secret=CALLBACK_SECRET):
    """The provider's status report for `rows`, each delivered (True) or failed (False)."""
    if provider.name == "aliyun":
        by_out_id = {s["out_id"]: s for s in provider.sent}
        items = [{"phone_number": by_out_id[f"vh-{row.id}"]["phone"],
                  "send_time": "2026-12-05 18:00:00", "report_time": "2026-12-05 18:00:03",
                  "success": ok, "err_code": "DELIVERED" if ok else "MK:0001",
                  "err_msg": "用户接收成功" if ok else "空号", "sms_size": "1",
                  "biz_id": by_out_id[f"vh-{row.id}"]["biz_id"],
                  "out_id": f"vh-{row.id}"} for row, ok in zip(rows, outcomes)]
        return client.post(f"/sms/callbacks/aliyun/{secret}/report", json=items)
    items = [{"user_receive_time": "2026-12-05 18:00:03", "nationcode": "86",
              "mobile": row.address, "report_status": "SUCCESS" if ok else "FAIL",
              "errmsg": "DELIVRD" if ok else "MK:0001", "description": "用户短信送达成功",
              "sid": row.provider_message_id} for row, ok in zip(rows, outcomes)]
    return client.post(f"/sms/callbacks/tencent/{secret}/status", json=items)


@BOTH
def test_a_report_marks_the_message_delivered_or_failed_and_a_failure_falls_back(
        client, db, provider, dispatcher, make_user, smtp_server):
    users, rows = sent_sms(db, dispatcher, make_user)
    answer = report(client, provider, rows, [True, False])
    assert answer.status_code == 200
    assert answer.get_json() == ({"code": 0, "msg": "成功"} if provider.name == "aliyun"
                                 else {"result": 0, "errmsg": "OK"})
    db.session.expire_all()
    delivered, failed = (db.session.get(OutboxMessage, row.id) for row in rows)
    assert delivered.status == "delivered" and delivered.delivered_at is not None
    assert failed.status == "failed" and "0001" in failed.last_error
    fallback = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.fallback_of_id == failed.id)).scalar_one()
    assert fallback.channel == "email" and fallback.recipient_id == users[1].id
    # the same report again changes nothing (providers push again when unsure)
    assert report(client, provider, rows, [True, False]).status_code == 200
    assert db.session.execute(select(OutboxMessage).where(
        OutboxMessage.fallback_of_id == failed.id)).scalars().all() == [fallback]


@BOTH
def test_a_wrong_or_missing_secret_changes_nothing(client, db, provider, dispatcher,
                                                   make_user):
    _users, rows = sent_sms(db, dispatcher, make_user, count=1)
    assert report(client, provider, rows, [True], secret="guess").status_code == 401
    path = ("/sms/callbacks/aliyun/x/reply" if provider.name == "aliyun"
            else "/sms/callbacks/tencent/x/reply")
    assert client.post(path, json={"mobile": "1", "text": "1"}).status_code == 401
    db.session.expire_all()
    assert db.session.get(OutboxMessage, rows[0].id).status == "sent"


@BOTH
def test_a_report_for_a_message_we_never_sent_is_acknowledged_and_skipped(client, db,
                                                                          provider):
    if provider.name == "aliyun":
        items = [{"phone_number": "13700000000", "success": True, "biz_id": "9^0",
                  "out_id": "vh-99999999"}]
        path = f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/report"
    else:
        items = [{"mobile": "13700000000", "report_status": "SUCCESS", "sid": "nope"}]
        path = f"/sms/callbacks/tencent/{CALLBACK_SECRET}/status"
    assert client.post(path, json=items).status_code == 200
    assert client.post(path, data="not json", content_type="application/json"
                       ).status_code == 400


@BOTH
def test_an_inbound_reply_reaches_the_reply_handlers_once(client, db, provider, make_user):
    seen = []
    services.register_inbound_handler("test-sms", lambda inbound: seen.append(
        (inbound.user_id, inbound.text)) or "")
    try:
        user = make_user()
        if provider.name == "aliyun":
            body = [{"phone_number": user.phone, "send_time": "2026-12-05 18:01:02",
                     "content": "1 20", "sign_name": "志愿汇", "dest_code": "",
                     "sequence_id": 1234567890}]
            path = f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/reply"
        else:
            body = {"extend": "", "mobile": user.phone, "nationcode": "86",
                    "sign": "志愿汇", "text": "1 20", "time": 1796464862}
            path = f"/sms/callbacks/tencent/{CALLBACK_SECRET}/reply"
        for _twice in range(2):  # a provider that pushes again is not a second reply
            answer = client.post(path, json=body)
            assert answer.status_code == 200, answer.get_data(as_text=True)
    finally:
        services.unregister_inbound_handler("test-sms")
    assert seen == [(user.id, "1 20")]
    [inbound] = db.session.execute(select(InboundSms)).scalars().all()
    assert user.phone not in (inbound.provider_message_id or "")


@pytest.mark.parametrize("provider", ["aliyun"], indirect=True)
def test_aliyun_reports_of_a_batch_find_each_message_by_bizid_and_number(
        app, client, db, provider, dispatcher, make_user, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BATCH", 100)
    from volunteer_hub.notify.dispatcher import Dispatcher

    batching = Dispatcher(app, batch=50, threads=2)
    try:
        _users, rows = sent_sms(db, batching, make_user, count=3, event_key="notice:batch")
    finally:
        batching.close()
    assert {s["action"] for s in provider.sent} == {"SendBatchSms"}
    [out_id] = {s["out_id"] for s in provider.sent}  # one per request, no message's key
    by_phone = {s["phone"]: s for s in provider.sent}
    items = [{"phone_number": row.address, "success": ok, "err_code": "DELIVERED",
              "biz_id": by_phone[row.address]["biz_id"], "out_id": out_id}
             for row, ok in zip(rows, [True, True, False])]
    assert client.post(f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/report",
                       json=items).status_code == 200
    db.session.expire_all()
    assert [db.session.get(OutboxMessage, row.id).status for row in rows] == [
        "delivered", "delivered", "failed"]


@pytest.mark.parametrize("provider", ["aliyun"], indirect=True)
def test_a_short_link_of_a_message_without_a_link_opens_the_inbox(app, db, provider,
                                                                  make_user):
    from volunteer_hub.sms.links import link_secret, short_code

    user = make_user()
    with transaction():
        [message] = services.enqueue("notice:plain", user, body="请查看通知",
                                     channels=("sms",), urgent=True)
    opened = app.test_client().get(f"/s/{short_code(message.id, link_secret(app))}")
    assert opened.status_code == 303 and opened.headers["Location"].endswith("/me/inbox")


@pytest.mark.parametrize("provider", ["aliyun"], indirect=True)
def test_a_short_link_leads_only_to_our_own_site(app, db, provider, make_user):
    from tests.sms.conftest import SITE
    from volunteer_hub.sms.links import link_secret, short_code

    user = make_user()
    with transaction():
        [quoting] = services.enqueue(
            "notice:quote", user, channels=("sms",), urgent=True,
            body=f"备注见 https://elsewhere.example/x ，请应答：{SITE}/emergency/respond/abc")
        [foreign] = services.enqueue("notice:foreign", user, channels=("sms",), urgent=True,
                                     body="详见 https://elsewhere.example/x")
    phone = app.test_client()
    opened = phone.get(f"/s/{short_code(quoting.id, link_secret(app))}")
    assert opened.headers["Location"] == f"{SITE}/emergency/respond/abc"
    opened = phone.get(f"/s/{short_code(foreign.id, link_secret(app))}")
    assert opened.headers["Location"].endswith("/me/inbox")


def test_an_aliyun_report_of_another_system_on_the_account_touches_none_of_ours(
        client, db, provider, dispatcher, make_user):
    """Systems sharing an Alibaba Cloud account set their own OutId (often an order number):
    its report must neither mark our message of that number nor fail the whole push."""
    _users, rows = sent_sms(db, dispatcher, make_user, count=1)
    ours = rows[0]
    items = [{"phone_number": "13700000000", "success": False, "err_code": "MK:0001",
              "biz_id": "777^0", "out_id": str(ours.id)},
             {"phone_number": "13700000001", "success": True, "biz_id": "778^0",
              "out_id": "2026120512345678901234567"},
             {"phone_number": "13700000002", "success": True, "biz_id": "779^0",
              "out_id": "vh-99999999999999999999999"}]
    answer = client.post(f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/report", json=items)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OutboxMessage, ours.id).status == "sent"


@BOTH
def test_a_reply_with_an_impossible_time_is_kept_with_the_time_it_arrived(client, db,
                                                                        provider):
    if provider.name == "aliyun":
        body = [{"phone_number": "13700000003", "send_time": "0001-01-01 00:00:00",
                 "content": "2", "sequence_id": 1}]
        path = f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/reply"
    else:
        body = {"mobile": "13700000003", "nationcode": "86", "text": "2",
                "time": 10 ** 12}
        path = f"/sms/callbacks/tencent/{CALLBACK_SECRET}/reply"
    answer = client.post(path, json=body)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [inbound] = db.session.execute(select(InboundSms)).scalars().all()
    assert inbound.received_at.year >= 2026


def test_a_callback_secret_with_a_slash_stops_the_start(tmp_path):
    """The secret is one path segment: with a slash no callback could ever match, and every
    delivery report would be refused without a word."""
    import pytest

    from volunteer_hub import create_app

    with pytest.raises(ValueError, match="SMS_CALLBACK_SECRET"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
                    "SMS_CALLBACK_SECRET": "abc/def"})
