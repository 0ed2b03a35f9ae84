"""Through the dispatcher: a task notice goes to WeChat as a template message; WeChat's
signed TEMPLATESENDJOBFINISH push is its receipt (delivered, or failed and the next channel
is tried). The server configuration URL answers WeChat's check only when signed."""
from __future__ import annotations

import hashlib
import time

import pytest
from sqlalchemy import select

from tests.notify.conftest import notify_config, sms_gateway, smtp_server  # noqa: F401
from tests.wechat.conftest import EVENT_TOKEN
from volunteer_hub.db import transaction
from volunteer_hub.notify import services
from volunteer_hub.notify.dispatcher import Dispatcher
from volunteer_hub.notify.models import OutboxMessage
from volunteer_hub.wechat import services as wechat

OPENID = "oDeliveredOpenid0000000000001"


def signed(token: str = EVENT_TOKEN, **extra) -> dict:
    timestamp, nonce = str(int(time.time())), "1234567890"
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return {"signature": signature, "timestamp": timestamp, "nonce": nonce, **extra}


def job_finished(msgid: str, status: str) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
            f"<FromUserName><![CDATA[{OPENID}]]></FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID>"
            f"<Status><![CDATA[{status}]]></Status></xml>")


def rows(db):
    db.session.expire_all()
    return list(db.session.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars())


@pytest.fixture
def sent_notice(app, db, tree, make_volunteer, notify_config, wechat_config,  # noqa: F811
                fake_wechat):
    """A bound volunteer's task notice, sent to WeChat by the dispatcher."""
    volunteer = make_volunteer(tree["a"])
    with transaction():
        wechat.bind(volunteer.user, OPENID)
    with transaction():
        services.enqueue("match:need:5:volunteer:8", volunteer.user, subject="明天上午陪同就医",
                         body="明天上午 9:00 陪同就医，详情：http://localhost/tasks/8",
                         channels=("wechat",), link="http://localhost/tasks/8")
    worker = Dispatcher(app, batch=10, threads=2)
    worker.drain()
    worker.close()
    [row] = rows(db)
    return row


def test_a_notice_reaches_wechat_with_its_link(sent_notice, fake_wechat):
    [request] = fake_wechat.sends
    assert request["touser"] == OPENID
    assert request["template_id"] == "TPL-TASK"
    assert request["url"] == "http://localhost/tasks/8"
    assert request["data"]["title"] == {"value": "明天上午陪同就医"}
    assert sent_notice.channel == "wechat" and sent_notice.status == "sent"
    assert sent_notice.provider_message_id == str(fake_wechat.sent[(OPENID, request[
        "client_msg_id"])])
    assert sent_notice.address != OPENID  # the outbox keeps the ciphertext only


def test_wechats_delivery_push_marks_it_delivered(client, db, sent_notice):
    answer = client.post("/wechat/events", query_string=signed(openid=OPENID),
                         data=job_finished(sent_notice.provider_message_id, "success"),
                         content_type="text/xml")

    assert answer.status_code == 200 and answer.get_data(as_text=True) == "success"
    [row] = rows(db)
    assert row.status == "delivered" and row.delivered_at is not None


def test_a_blocked_delivery_falls_back_to_sms(client, db, sent_notice):
    answer = client.post("/wechat/events", query_string=signed(),
                         data=job_finished(sent_notice.provider_message_id, "failed:user block"),
                         content_type="text/xml")

    assert answer.status_code == 200
    wechat_row, fallback = rows(db)
    assert wechat_row.status == "failed" and "user block" in wechat_row.last_error
    assert (fallback.channel, fallback.fallback_of_id) == ("sms", wechat_row.id)


def test_an_unsigned_push_changes_nothing(client, db, sent_notice):
    forged = dict(signed(), signature="0" * 40)
    answer = client.post("/wechat/events", query_string=forged,
                         data=job_finished(sent_notice.provider_message_id, "success"),
                         content_type="text/xml")

    assert answer.status_code == 403
    assert rows(db)[0].status == "sent"


def test_a_push_for_another_message_is_acknowledged_and_ignored(client, db, sent_notice):
    answer = client.post("/wechat/events", query_string=signed(),
                         data=job_finished("999999", "success"), content_type="text/xml")

    assert answer.status_code == 200
    assert rows(db)[0].status == "sent"


def test_other_events_and_broken_xml(client, db, wechat_config):
    subscribe = ("<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]>"
                 "</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[event]]></MsgType>"
                 "<Event><![CDATA[subscribe]]></Event></xml>")
    assert client.post("/wechat/events", query_string=signed(), data=subscribe,
                       content_type="text/xml").status_code == 200
    assert client.post("/wechat/events", query_string=signed(), data="<xml><unclosed>",
                       content_type="text/xml").status_code == 400


def test_the_server_url_check_echoes_only_when_signed(client, wechat_config):
    good = client.get("/wechat/events", query_string=signed(echostr="5912345678"))
    assert good.status_code == 200 and good.get_data(as_text=True) == "5912345678"

    bad = client.get("/wechat/events", query_string=signed(token="wrong", echostr="1"))
    assert bad.status_code == 403
    assert client.get("/wechat/events?echostr=1").status_code == 403


def test_without_an_event_token_nothing_is_accepted(client, wechat_config, monkeypatch):
    monkeypatch.setitem(client.application.config, "WECHAT_TOKEN", None)
    assert client.get("/wechat/events", query_string=signed(echostr="1")).status_code == 403


AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # an EncodingAESKey: 43 characters


def safe_mode(xml: str, app_id: str, token: str = EVENT_TOKEN) -> tuple[dict, str]:
    """A push in safe mode as WeChat's documentation describes it: AES-256-CBC with the key
    base64(EncodingAESKey + "="), IV its first 16 bytes, over random(16) + length(4, network
    order) + XML + app id, PKCS#7 to 32 bytes; msg_signature = sha1(sorted token, timestamp,
    nonce, Encrypt)."""
    import base64
    import os
    import struct

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(AES_KEY + "=")
    plain = os.urandom(16) + struct.pack(">I", len(xml.encode())) + xml.encode() + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    encrypted = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
    query = signed(token, encrypt_type="aes")
    query["msg_signature"] = hashlib.sha1("".join(sorted(
        [token, query["timestamp"], query["nonce"], encrypted])).encode()).hexdigest()
    body = (f"<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
    return query, body


def test_a_push_in_safe_mode_is_decrypted(client, db, sent_notice, wechat_config,
                                          monkeypatch):
    monkeypatch.setitem(client.application.config, "WECHAT_ENCODING_AES_KEY", AES_KEY)
    query, body = safe_mode(job_finished(sent_notice.provider_message_id, "success"),
                            wechat_config["WECHAT_APP_ID"])

    answer = client.post("/wechat/events", query_string=query, data=body,
                         content_type="text/xml")

    assert answer.status_code == 200
    assert rows(db)[0].status == "delivered"


def test_a_safe_mode_push_for_another_app_or_badly_signed_is_refused(client, db, sent_notice,
                                                                      wechat_config,
                                                                      monkeypatch):
    monkeypatch.setitem(client.application.config, "WECHAT_ENCODING_AES_KEY", AES_KEY)
    event = job_finished(sent_notice.provider_message_id, "success")
    query, body = safe_mode(event, "wxSomeOtherApp00000")
    assert client.post("/wechat/events", query_string=query, data=body,
                       content_type="text/xml").status_code == 403
    query, body = safe_mode(event, wechat_config["WECHAT_APP_ID"])
    query["msg_signature"] = "0" * 40
    assert client.post("/wechat/events", query_string=query, data=body,
                       content_type="text/xml").status_code == 403
    assert rows(db)[0].status == "sent"


def test_no_delivery_push_in_time_sends_the_next_channel(app, db, sent_notice, sms_gateway):
    from datetime import timedelta

    from volunteer_hub.notify.models import now

    deadline = sent_notice.ack_deadline
    assert deadline is not None and deadline - sent_notice.sent_at == timedelta(
        seconds=int(app.config.get("WECHAT_RECEIPT_TIMEOUT_SECONDS", 300)))
    sent_notice.ack_deadline = now() - timedelta(seconds=1)  # WeChat stayed silent
    db.session.commit()

    worker = Dispatcher(app, batch=10, threads=2)
    worker.drain()
    worker.close()

    wechat_row, fallback = rows(db)
    assert wechat_row.last_error == "no delivery receipt in time"
    assert (fallback.channel, fallback.status, fallback.fallback_of_id) == (
        "sms", "sent", wechat_row.id)
    assert len(sms_gateway.sent) == 1


def test_a_push_with_a_malformed_msgid_is_refused_not_an_error(client, db, sent_notice):
    answer = client.post("/wechat/events", query_string=signed(openid=OPENID),
                         data=job_finished("not-a-number", "success"), content_type="text/xml")

    assert answer.status_code == 400
    assert [row.status for row in rows(db)] == ["sent"]


@pytest.mark.parametrize("status, expected", [("success", "delivered"),
                                              ("failed:user block", "failed")])
def test_a_push_arriving_before_the_send_is_recorded_still_counts(
        app, client, db, tree, make_volunteer, notify_config, wechat_config,  # noqa: F811
        fake_wechat, monkeypatch, status, expected):
    """WeChat pushes the outcome about a second after the send; a call-out's batch records
    its sends later. The push names the person (FromUserName): their one message in flight
    is the one it is about, not a stranger's to drop (which left a delivered message to time
    out into an SMS)."""
    volunteer = make_volunteer(tree["a"])
    with transaction():
        wechat.bind(volunteer.user, OPENID)
    with transaction():
        services.enqueue("match:need:5:volunteer:8", volunteer.user, subject="明天上午陪同就医",
                         body="详情：http://localhost/tasks/8", channels=("wechat",),
                         link="http://localhost/tasks/8")
    record = Dispatcher.record
    pushed = []

    def push_before_recording(self, token, results):
        for message, result in results:
            if message.channel != "wechat":
                continue  # the fallback SMS, sent in the same drain
            pushed.append(client.post("/wechat/events", query_string=signed(),
                                      data=job_finished(result.provider_message_id, status),
                                      content_type="text/xml").status_code)
        return record(self, token, results)

    monkeypatch.setattr(Dispatcher, "record", push_before_recording)
    worker = Dispatcher(app, batch=10, threads=2)
    worker.drain()
    worker.close()

    assert pushed == [200]
    row = rows(db)[0]
    assert row.status == expected
    assert row.provider_message_id == str(next(iter(fake_wechat.sent.values())))
    assert [r.channel for r in rows(db)] == (["wechat"] if expected == "delivered"
                                             else ["wechat", "sms"])
