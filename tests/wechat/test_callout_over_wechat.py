"""The demo's flood plan called out as a drill with WeChat configured (pointed at the local
WeChat): every bound volunteer gets the alert as the call-out template message whose link is
their one-tap page, which answers without login; the unbound get SMS as before. WeChat's
delivery pushes are the receipts the after-action report counts per channel."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy import select

from tests.notify.conftest import notify_config, sms_gateway, smtp_server  # noqa: F401
from tests.wechat.test_events_and_delivery import job_finished, signed
from volunteer_hub.accounts.models import User
from volunteer_hub.db import transaction
from volunteer_hub.demo import build_demo
from volunteer_hub.emergency import activation as activations
from volunteer_hub.emergency import report
from volunteer_hub.emergency.models import Activation, EmergencyPlan, Responder
from volunteer_hub.notify.dispatcher import Dispatcher
from volunteer_hub.notify.models import OutboxMessage
from volunteer_hub.wechat import services as wechat

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def activations_of(db, plan) -> list[int]:
    return db.session.execute(select(Activation.id).where(
        Activation.plan_id == plan.id).order_by(Activation.id)).scalars().all()


def openid_of(user_id: int) -> str:
    return f"oDemoVolunteer{user_id:014d}"


def test_a_drill_reaches_every_bound_volunteer_on_wechat(
        app, client, db, wechat_config, notify_config, fake_wechat, sms_gateway):  # noqa: F811
    logins = build_demo(volunteers=60, seed=13)
    plan = db.session.execute(select(EmergencyPlan).where(
        EmergencyPlan.archived_at.is_(None))).scalars().first()
    coordinator = db.session.execute(select(User).where(
        User.phone == logins["coordinator"])).scalar_one()
    # The demo's earlier drill of this plan called the people this one will call.
    earlier = db.session.execute(select(Responder.user_id).where(
        Responder.activation_id == activations_of(db, plan)[0])).scalars().all()
    unbound = {earlier[0]}
    with transaction():
        for user_id in earlier[1:]:
            wechat.bind(db.session.get(User, user_id), openid_of(user_id))
    fake_wechat.clear()
    with transaction():
        drill = activations.activate(plan, level=3, is_drill=True, address="劲松街道应急站",
                                     note="演练：内涝转移", by=coordinator)
    called = db.session.execute(select(Responder).where(
        Responder.activation_id == drill.id)).scalars().all()
    bound = {r.user_id: r for r in called if r.user_id in earlier[1:]}
    assert len(bound) >= 3 and unbound <= {r.user_id for r in called}

    worker = Dispatcher(app, batch=500, threads=4)
    worker.drain()
    worker.close()

    callouts = [s for s in fake_wechat.sends if s["template_id"] == "TPL-CALLOUT"]
    assert sorted(s["touser"] for s in callouts) == sorted(map(openid_of, bound))
    assert all(s["data"]["thing1"]["value"] for s in callouts)
    alerts = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == f"emergency:{drill.id}:alert:1")).scalars().all()
    on_wechat = [a for a in alerts if a.channel == "wechat"]
    assert {a.recipient_id for a in on_wechat} == set(bound)
    assert {a.status for a in on_wechat} == {"sent"}
    assert {a.recipient_id for a in alerts if a.channel == "sms"} >= unbound

    # One volunteer taps the message: the one-tap page, no login, and answers.
    tapped = callouts[0]
    target = urlsplit(tapped["url"])
    assert target.path.startswith("/emergency/respond/")
    phone = app.test_client()
    page = phone.get(target.path)
    assert page.status_code == 200
    answered = phone.post(target.path, data={
        "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1),
        "answer": "coming", "eta_custom": "15"})
    assert answered.status_code == 302
    db.session.expire_all()
    person = next(r for r in called if openid_of(r.user_id) == tapped["touser"])
    assert db.session.get(Responder, person.id).answer == "coming"

    # WeChat pushes each message's outcome: the report counts them as delivered on WeChat.
    for message in on_wechat:
        pushed = client.post("/wechat/events", query_string=signed(),
                             data=job_finished(message.provider_message_id, "success"),
                             content_type="text/xml")
        assert pushed.status_code == 200
    db.session.expire_all()
    by_channel = {row.channel: row for row in report.after_action(
        db.session.get(Activation, drill.id)).messages}
    assert by_channel["wechat"].delivered == len(bound)
    assert by_channel["wechat"].unconfirmed == 0
