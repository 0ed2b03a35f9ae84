"""A call-out configured for Alibaba Cloud or Tencent Cloud (each pointed at its local server):
every alert goes as the approved call-out template, its short code opens the person's
one-tap page, the answer counts; a reply "1" through the provider's callback answers too;
the stand-down goes as its own template; reports mark the messages delivered."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.sms.conftest import (
    ALIYUN_CODES, CALLBACK_SECRET, SITE, TENCENT_IDS, code_in,
)
from volunteer_hub.emergency.models import Responder
from volunteer_hub.notify.models import OutboxMessage

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BOTH = pytest.mark.parametrize("provider", ["aliyun", "tencent"], indirect=True)


def texts_to(provider, phone: str) -> list[dict]:
    wanted = {phone, "+86" + phone}
    return [sent for sent in provider.sent if sent["phone"] in wanted]


def reply(client, provider, phone: str, text: str) -> None:
    if provider.name == "aliyun":
        path, body = f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/reply", [{
            "phone_number": phone, "send_time": "2026-12-05 18:01:02", "content": text,
            "sign_name": provider.sign_name, "sequence_id": 77}]
    else:
        path, body = f"/sms/callbacks/tencent/{CALLBACK_SECRET}/reply", {
            "mobile": phone, "nationcode": "86", "text": text, "time": 1796464862,
            "sign": provider.sign_name, "extend": ""}
    assert client.post(path, json=body).status_code == 200


@BOTH
def test_a_call_out_reaches_everyone_as_template_sms_with_a_working_one_tap_link(
        app, client, db, world, activate_drill, provider, dispatcher):
    templates = {"aliyun": ALIYUN_CODES, "tencent": TENCENT_IDS}[provider.name]
    activation = activate_drill()
    called = {r.volunteer_id: r for r in db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars()}
    assert dispatcher.drain() > 0
    assert provider.refused == []
    phones = {}
    for volunteer_id, responder in called.items():
        phone = responder.volunteer.user.phone
        [alert] = texts_to(provider, phone)
        assert alert["template"] == templates["callout"]
        assert alert["text"].startswith(f"【{provider.sign_name}】")
        phones[volunteer_id] = (phone, code_in(alert["text"]))
    assert len(phones) == len(called) == 6

    # zhou follows the link of his SMS: the one-tap page, no login, and answers
    zhou = world.v("zhou")
    phone_browser = app.test_client()
    opened = phone_browser.get(f"/s/{phones[zhou.id][1]}")
    assert opened.status_code == 303
    target = urlsplit(opened.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == SITE
    assert target.path.startswith("/emergency/respond/")
    page = phone_browser.get(target.path)
    assert page.status_code == 200
    tapped = phone_browser.post(target.path, data={
        "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1),
        "answer": "coming", "eta_custom": "15"})
    assert tapped.status_code == 302
    # a code changed by one letter opens nothing
    forged = phones[zhou.id][1][:-1] + ("a" if not phones[zhou.id][1].endswith("a") else "b")
    assert phone_browser.get(f"/s/{forged}").status_code == 404

    # li answers by replying "1" through the provider's reply callback
    li = world.v("li")
    reply(client, provider, phones[li.id][0], "1")

    db.session.expire_all()
    answers = {r.volunteer_id: r.answer for r in db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars()}
    assert answers[zhou.id] == "coming" and answers[li.id] == "coming"
    assert [a for v, a in answers.items() if v not in (zhou.id, li.id)] == ["none"] * 4

    # what follows (assignment notices, the reply's confirmation) goes by template too
    dispatcher.drain()
    assert provider.refused == []
    li_texts = [s["template"] for s in texts_to(provider, phones[li.id][0])]
    assert templates["sms_reply"] in li_texts


@BOTH
def test_reports_for_a_call_out_mark_its_alerts_delivered(app, client, db, activate_drill,
                                                          provider, dispatcher):
    activation = activate_drill()
    dispatcher.drain()
    alerts = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == f"emergency:{activation.id}:alert:1",
        OutboxMessage.channel == "sms")).scalars().all()
    assert len(alerts) == 6 and {a.status for a in alerts} == {"sent"}
    if provider.name == "aliyun":
        items = [{"phone_number": s["phone"], "success": True, "err_code": "DELIVERED",
                  "biz_id": s["biz_id"], "out_id": s["out_id"]} for s in provider.sent]
        path = f"/sms/callbacks/aliyun/{CALLBACK_SECRET}/report"
    else:
        items = [{"mobile": s["phone"][3:], "nationcode": "86", "report_status": "SUCCESS",
                  "sid": s["serial"], "errmsg": "DELIVRD"} for s in provider.sent]
        path = f"/sms/callbacks/tencent/{CALLBACK_SECRET}/status"
    assert client.post(path, json=items).status_code == 200
    db.session.expire_all()
    assert {db.session.get(OutboxMessage, a.id).status for a in alerts} == {"delivered"}
