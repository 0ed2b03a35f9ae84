"""A whole drill through real parts: the API, the real dispatcher, a real SMTP server
(aiosmtpd) and the local HTTP SMS gateway, answers through links and SMS replies, automatic
assignment, roll call, stand-down and the after-action report, whose numbers must match
what the servers saw and what the people did.

Cast (tests/emergency/conftest.py): wang and zhou read English, the others Chinese; far lives
30 km away, outside the plan's 10 km radius.
- wang answers through the link in his e-mail: coming in 10 minutes; arrives by QR.
- li replies "1 20" by SMS; the coordinator marks him arrived.
- sun replies "１，５分钟" (full-width, Chinese comma); never arrives: a no-show.
- zhao replies "hello" (gets the help text), then "2": cannot come.
- zhou taps the link in his SMS (the one-tap page, no login): coming in 15; arrives by QR.
- qian never answers, and her "1 10" after the stand-down changes nothing.
"""
from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import select

from tests.emergency.conftest import INCIDENT
from tests.notify.conftest import (  # noqa: F401 - fixtures
    GATEWAY_SECRET, dispatcher, notify_config, sms_gateway, smtp_server,
)
from volunteer_hub.emergency.models import Responder
from volunteer_hub.emergency.report import sms_segments

SECRET = {"X-Gateway-Secret": GATEWAY_SECRET}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LINK = re.compile(r"https?://[^\s]+/emergency/respond/([A-Za-z0-9._-]+)")
pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")


def idempotent(headers: dict) -> dict:
    return {**headers, "Idempotency-Key": uuid.uuid4().hex}


def sms_to(gateway, phone: str) -> list[str]:
    return [payload["text"] for payload in gateway.sent.values() if payload["to"] == phone]


def mail_to(smtp, address: str) -> list[str]:
    bodies = []
    for message in smtp.messages.values():
        if message["To"] == address:
            part = message.get_body(("plain",)) if hasattr(message, "get_body") else message
            payload = (part or message).get_payload(decode=True)
            bodies.append(payload.decode((part or message).get_content_charset() or "utf-8"))
    return bodies


def token_in(text: str) -> str:
    match = LINK.search(text)
    assert match, text
    return match.group(1)


def reply_sms(client, phone: str, text: str) -> dict:
    response = client.post("/api/v1/notify/sms/inbound", headers=SECRET, json={
        "from": phone, "text": text, "message_id": uuid.uuid4().hex})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def receipt(client, key: str, status: str = "delivered") -> None:
    response = client.post("/api/v1/notify/sms/receipts", headers=SECRET,
                           json={"id": key, "status": status})
    assert response.status_code == 200, response.get_json()


def responders(db, activation_id: int) -> dict[int, Responder]:
    db.session.expire_all()
    return {r.volunteer_id: r for r in db.session.execute(
        select(Responder).where(Responder.activation_id == activation_id)).scalars()}


def test_drill_from_alarm_to_report(client, db, app, world, make_plan, auth_header, dispatcher,
                                    smtp_server, sms_gateway):
    v = world.v
    boss = auth_header(world.coordinator)
    plan = make_plan()

    # --- activation through the API: the whole fan-out in one transaction -------------------
    refused = client.post(f"/api/v1/emergency/plans/{plan.id}/activations",
                          headers=idempotent(auth_header(world.outsider)),
                          json={"level": 3, "is_drill": True, "lat": INCIDENT[0],
                                "lon": INCIDENT[1]})
    assert refused.status_code in (403, 404)  # a coordinator of another community
    response = client.post(f"/api/v1/emergency/plans/{plan.id}/activations",
                           headers=idempotent(boss), json={
                               "level": 3, "is_drill": True, "lat": INCIDENT[0],
                               "lon": INCIDENT[1], "address": "测试路10号",
                               "note": "演练：内涝转移"})
    assert response.status_code == 201, response.get_json()
    activation_id = response.get_json()["id"]
    called = responders(db, activation_id)
    cast = ("wang", "li", "zhao", "qian", "sun", "zhou")
    assert set(called) == {v(name).id for name in cast}  # far is 30 km away

    assert dispatcher.drain() > 0
    for name in cast:
        volunteer = v(name)
        [sms] = sms_to(sms_gateway, volunteer.phone)
        [mail] = mail_to(smtp_server, volunteer.user.email)
        drill_mark = "DRILL" if name in ("wang", "zhou") else "【演练】"
        assert sms.startswith(drill_mark) and drill_mark in mail, (name, sms)
        assert token_in(sms) == token_in(mail)
    assert sms_to(sms_gateway, v("far").phone) == []

    board = client.get(f"/api/v1/emergency/activations/{activation_id}/board",
                       headers=boss).get_json()
    assert board["activation"]["is_drill"] is True
    assert board["counts"]["notified"] == 6
    assert board["counts"]["delivered"] == 6  # every e-mail was accepted by the SMTP server
    assert board["channels"]["sms"]["sent"] == 6  # sent, no receipt yet

    # receipts from the gateway for two SMS
    sms_rows = {p["to"]: key for key, p in sms_gateway.sent.items()}
    for name in ("li", "sun"):
        receipt(client, sms_rows[v(name).phone])

    # --- answers: links over HTTP and SMS replies through the gateway webhook ---------------
    wang_token = token_in(mail_to(smtp_server, v("wang").user.email)[0])
    answered = client.post(f"/api/v1/emergency/respond/{wang_token}",
                           headers={"Idempotency-Key": uuid.uuid4().hex},
                           json={"answer": "coming", "eta_minutes": 10})
    assert answered.status_code == 200, answered.get_json()
    zhou_token = token_in(sms_to(sms_gateway, v("zhou").phone)[0])
    phone = app.test_client()  # zhou's phone: no login, the one-tap page and its form
    page = phone.get(f"/emergency/respond/{zhou_token}")
    assert page.status_code == 200 and "DRILL" in page.get_data(as_text=True)
    csrf = CSRF.search(page.get_data(as_text=True)).group(1)
    tapped = phone.post(f"/emergency/respond/{zhou_token}", data={
        "csrf_token": csrf, "answer": "coming", "eta_custom": "15"})
    assert tapped.status_code == 302

    reply_sms(client, v("li").phone, "1 20")
    reply_sms(client, v("sun").phone, "１，５分钟")
    help_reply = reply_sms(client, v("zhao").phone, "hello")
    assert help_reply["handled_by"] == "emergency"
    reply_sms(client, v("zhao").phone, "2")
    forged = wang_token[:-3] + ("aaa" if not wang_token.endswith("aaa") else "bbb")
    assert client.post(f"/api/v1/emergency/respond/{forged}",
                       json={"answer": "cannot"}).status_code == 403

    now = responders(db, activation_id)
    assert {name: now[v(name).id].answer for name in cast} == {
        "wang": "coming", "li": "coming", "zhao": "cannot", "qian": "none", "sun": "coming",
        "zhou": "coming"}
    assert (now[v("li").id].eta_minutes, now[v("sun").id].eta_minutes) == (20, 5)

    # --- assignment happened on the answers; everyone seated is told by SMS ----------------
    seated = {name for name in cast if now[v(name).id].role_id is not None}
    assert seated == {"wang", "li", "sun", "zhou"}
    dispatcher.drain()
    assert len(sms_to(sms_gateway, v("zhao").phone)) == 3  # alert, help text, confirmation
    for name in seated:
        texts = sms_to(sms_gateway, v(name).phone)
        assert any("街道应急站" in t or "二号集合点" in t for t in texts), (name, texts)

    # --- roll call: QR for wang and zhou, marked by the coordinator for li -----------------
    token = client.get(f"/api/v1/emergency/activations/{activation_id}/arrival-token",
                       headers=boss).get_json()["token"]
    for name in ("wang", "zhou"):
        arrived = client.post(f"/api/v1/emergency/activations/{activation_id}/arrive",
                              headers=idempotent(auth_header(v(name).user)), json={"t": token})
        assert arrived.status_code == 200, arrived.get_json()
    li = now[v("li").id]
    assert client.post(f"/api/v1/emergency/activations/{activation_id}/responders/{li.id}"
                       "/arrival", headers=boss).status_code == 200
    for name in ("wang", "li"):
        rid = now[v(name).id].id
        base = f"/api/v1/emergency/activations/{activation_id}/responders/{rid}"
        assert client.post(base + "/check-out", headers=boss).status_code == 200
    for name in ("wang", "li", "zhou"):
        rid = now[v(name).id].id
        assert client.post(f"/api/v1/emergency/activations/{activation_id}/responders/{rid}"
                           "/safe", headers=boss).status_code == 200

    board = client.get(f"/api/v1/emergency/activations/{activation_id}/board",
                       headers=boss).get_json()
    assert board["counts"] == {"notified": 6, "delivered": 6, "coming": 4, "cannot": 1,
                               "no_answer": 1, "assigned": 4, "arrived": 3, "checked_out": 2,
                               "safe": 3}
    assert all(role["short"] == 0 for role in board["roles"])
    assert board["channels"]["sms"]["delivered"] == 2
    assert board["curve"][-1]["coming"] == 4 and board["curve"][-1]["cannot"] == 1

    # --- stand-down: a broadcast too; then links and SMS answers are refused ----------------
    stood = client.post(f"/api/v1/emergency/activations/{activation_id}/stand-down",
                        headers=idempotent(boss), json={"note": "演练结束"})
    assert stood.status_code == 200, stood.get_json()
    dispatcher.drain()
    for name in cast:
        assert any("已解除" in t or "stood down" in t for t in
                   sms_to(sms_gateway, v(name).phone)), name
    late = client.post(f"/api/v1/emergency/respond/{wang_token}",
                       json={"answer": "cannot"})
    assert late.status_code == 409
    reply_sms(client, v("qian").phone, "1 10")
    assert responders(db, activation_id)[v("qian").id].answer == "none"
    dispatcher.drain()

    # --- the report matches what happened ---------------------------------------------------
    result = client.get(f"/api/v1/emergency/activations/{activation_id}/report",
                        headers=boss).get_json()
    s = result["summary"]
    assert (s["notified"], s["coming"], s["cannot"], s["no_answer"], s["arrived"],
            s["no_shows"]) == (6, 4, 1, 1, 3, 1)
    assert [n["name"] for n in result["no_shows"]] == [v("sun").real_name]
    assert {k: g["count"] for k, g in result["ack"]["channel"].items()} == {"link": 2, "sms": 3}
    assert result["arrival"]["channel"]["link"]["count"] == 2
    assert result["arrival"]["channel"]["sms"]["count"] == 1
    assert sum(g["count"] for g in result["ack"]["team"].values()) == 5
    assert s["all_roles_filled_seconds"] is not None
    assert all(role["fill_seconds"] is not None for role in result["roles"])

    messages = {m["channel"]: m for m in result["messages"]}
    gateway_texts = [p["text"] for p in sms_gateway.sent.values()]
    assert messages["sms"]["sent"] == len(gateway_texts)  # alerts, seats, replies, stand-down
    assert messages["sms"]["delivered"] == 2
    assert messages["email"]["sent"] == len(smtp_server.messages)
    cost = app.config.get("EMERGENCY_SMS_COST_FEN") or 5
    assert messages["sms"]["cost_fen"] == sum(map(sms_segments, gateway_texts)) * cost
    assert s["cost_fen"] == messages["sms"]["cost_fen"]
    kinds = [entry["kind"] for entry in result["timeline"]]
    assert kinds[0] == "activated" and kinds[-1] in ("stood_down", "safe", "checked_out")
    assert kinds.count("answer") == 5 and kinds.count("arrived") == 3
    assert result["hours"].get("pending", 0) == 3  # the three who arrived, for verification
