"""The demo district, configured for Alibaba Cloud or Tencent Cloud (pointed at the local
server): its coordinator calls the flood plan out, every alert goes as the approved call-out
template, and the short code of a captured alert opens that person's one-tap page."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from tests.sms.conftest import ALIYUN_CODES, TENCENT_IDS, code_in
from volunteer_hub.accounts.models import User
from volunteer_hub.db import transaction
from volunteer_hub.demo import build_demo
from volunteer_hub.emergency import activation as activations
from volunteer_hub.emergency.models import EmergencyPlan, Responder
from volunteer_hub.notify.models import OutboxMessage

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.mark.parametrize("provider", ["aliyun", "tencent"], indirect=True)
def test_the_demo_call_out_goes_as_template_sms_with_working_links(app, db, provider,
                                                                   dispatcher):
    logins = build_demo(volunteers=60, seed=7)
    dispatcher.drain()  # the demo's past drill, already stood down
    provider.clear()
    coordinator = db.session.execute(select(User).where(
        User.phone == logins["coordinator"])).scalar_one()
    plan = db.session.execute(select(EmergencyPlan)).scalars().first()
    with transaction():
        activation = activations.activate(plan, level=3, is_drill=True,
                                          address="劲松街道应急站", note="演练",
                                          by=coordinator)
    assert dispatcher.drain() > 0
    assert provider.refused == []
    alerts = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.event_key == f"emergency:{activation.id}:alert:1",
        OutboxMessage.channel == "sms")).scalars().all()
    responders = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars().all()
    assert alerts and len(alerts) == len(responders)  # every demo volunteer has a phone
    assert {a.status for a in alerts} == {"sent"}
    template = {"aliyun": ALIYUN_CODES, "tencent": TENCENT_IDS}[provider.name]["callout"]
    captured = [s for s in provider.sent if s["template"] == template]
    assert len(captured) == len(alerts)
    assert all("朝阳区防汛应急预案" in s["text"] for s in captured)

    phone_browser = app.test_client()
    opened = phone_browser.get(f"/s/{code_in(captured[0]['text'])}")
    assert opened.status_code == 303
    page_path = urlsplit(opened.headers["Location"]).path
    page = phone_browser.get(page_path)
    assert page.status_code == 200 and "演练" in page.get_data(as_text=True)
    tapped = phone_browser.post(page_path, data={
        "csrf_token": CSRF.search(page.get_data(as_text=True)).group(1),
        "answer": "cannot"})
    assert tapped.status_code == 302
    db.session.expire_all()
    answers = [r.answer for r in db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars()]
    assert answers.count("cannot") == 1
