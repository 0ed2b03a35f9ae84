"""Fallback order by receipts: a person's channels are tried in the order their organization
set; a message whose receipt does not come within its channel's timeout goes on to the next
channel of that order (WeChat, SMS, Web Push alike); a receipt stops it. Time is moved by
moving the notify clock."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import factories
from volunteer_hub.notify import channels as sending, models, registry, services
from volunteer_hub.notify import dispatcher as dispatcher_module
from volunteer_hub.notify.dispatcher import Dispatcher, build_channels
from volunteer_hub.notify.models import OutboxMessage
from volunteer_hub.wechat.models import WeChatBinding

ORDER_URL = "/api/v1/notify/orgs/{}/channel-order"


class LocalWeChat(sending.Channel):
    """Stands in for the WeChat sender: accepts every message and awaits its receipt (the
    WeChat client itself is tested against a local server in tests/wechat)."""

    name = "wechat"

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return sending.Result(ok=True, provider_message_id=f"wx-{message.id}",
                              awaits_receipt=True)


@pytest.fixture
def wechat_config(app, notify_config):
    values = {"WECHAT_APP_ID": "wx-order-test", "WECHAT_APP_SECRET": "secret",
              "WECHAT_RECEIPT_TIMEOUT_SECONDS": 300, "NOTIFY_ACK_TIMEOUT_SECONDS": 600}
    missing = object()
    saved = {key: app.config.get(key, missing) for key in values}
    app.config.update(values)
    yield values
    for key, value in saved.items():  # a setting absent before is absent again
        if value is missing:
            app.config.pop(key, None)
        else:
            app.config[key] = value


@pytest.fixture
def wechat(app, wechat_config):
    channel = LocalWeChat()
    config = services.settings(app)
    worker = Dispatcher(app, batch=50, threads=2,
                        channels={**build_channels(config, app), "wechat": channel})
    yield worker, channel
    worker.close()


@pytest.fixture
def person(db, tree):
    """A volunteer of community A (under the street) with a phone, an e-mail and WeChat."""
    volunteer = factories.make_volunteer(tree["a"])
    user = volunteer.user
    user.email = f"v{user.id}@example.org"
    binding = WeChatBinding(user_id=user.id)
    binding.openid = f"openid-{user.id}"
    db.session.add(binding)
    db.session.commit()
    return user


def _messages(user_id):
    return list(services.db.session.execute(
        select(OutboxMessage).where(OutboxMessage.recipient_id == user_id)
        .order_by(OutboxMessage.id)).scalars())


def _later(monkeypatch, seconds):
    """Move the clock of the outbox and of the dispatcher `seconds` ahead of the real one."""
    moment = models.now() + timedelta(seconds=seconds)
    for module in (services, dispatcher_module):
        monkeypatch.setattr(module, "now", lambda: moment)


def _set_order(client, auth_header, user, org, channels):
    response = client.put(ORDER_URL.format(org.id), json={"channels": channels},
                          headers=auth_header(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_unconfirmed_wechat_goes_on_in_the_org_order_after_its_timeout(
        db, client, auth_header, make_staff, tree, person, wechat, smtp_server, monkeypatch):
    worker, channel = wechat
    admin = make_staff(tree["street"], "admin")
    _set_order(client, auth_header, admin, tree["street"], ["wechat", "email", "sms"])
    services.enqueue("drill:order", person, body="集合", channels=("wechat",), urgent=True)
    db.session.commit()
    worker.drain()
    [first] = _messages(person.id)
    assert (first.channel, first.status) == ("wechat", "sent")
    assert channel.sent[0].address == db.session.get(WeChatBinding, 1).openid_encrypted
    assert first.ack_deadline - first.sent_at == timedelta(seconds=300)

    _later(monkeypatch, 299)
    assert services.expire_unacknowledged() == 0
    _later(monkeypatch, 301)
    assert services.expire_unacknowledged() == 1
    db.session.commit()
    first, second = _messages(person.id)
    # The street's order: e-mail comes after WeChat (WeChat's own fallback would be SMS).
    assert (second.channel, second.fallback_of_id, second.address) == (
        "email", first.id, person.email)
    worker.drain()
    assert smtp_server.messages and _messages(person.id)[1].status in ("sent", "delivered")
    assert len(_messages(person.id)) == 2  # e-mail needs no receipt: nothing further


def test_a_receipt_in_time_stops_the_fallback_and_a_failed_one_goes_on_at_once(
        db, make_user, person, wechat, monkeypatch):
    worker, _channel = wechat
    other = make_user()
    services.enqueue("drill:receipt", person, body="集合", channels=("wechat",), urgent=True)
    services.enqueue("drill:receipt", other, body="集合", channels=("sms",), urgent=True)
    db.session.commit()
    worker.drain()
    wechat_row = _messages(person.id)[0]
    sms_row = _messages(other.id)[0]
    assert sms_row.ack_deadline - sms_row.sent_at == timedelta(seconds=600)
    services.apply_receipt(status="delivered", provider_message_id=f"wx-{wechat_row.id}",
                           channel="wechat")
    db.session.commit()
    _later(monkeypatch, 601)
    assert services.expire_unacknowledged() == 1  # only the SMS: no receipt came for it
    db.session.commit()
    assert [m.channel for m in _messages(person.id)] == ["wechat"]
    assert [m.channel for m in _messages(other.id)] == ["sms", "email"]

    monkeypatch.undo()
    services.enqueue("drill:failed", person, body="集合", channels=("wechat",), urgent=True)
    db.session.commit()
    worker.drain()
    failed = _messages(person.id)[-1]
    services.apply_receipt(status="failed", provider_message_id=f"wx-{failed.id}",
                           channel="wechat", error="43004 user unsubscribed")
    db.session.commit()
    last = _messages(person.id)[-1]
    # No order set: WeChat's declared fallback.
    assert (last.channel, last.fallback_of_id, last.event_key) == ("sms", failed.id,
                                                                    "drill:failed")


def test_the_deepest_order_holds_and_clearing_it_restores_the_parent(
        db, client, auth_header, make_staff, tree, person, wechat_config):
    street_admin = make_staff(tree["street"], "admin")
    community_admin = make_staff(tree["a"], "admin")
    _set_order(client, auth_header, street_admin, tree["street"], ["wechat", "email", "sms"])
    shown = _set_order(client, auth_header, community_admin, tree["a"], ["sms", "wechat"])
    assert shown["channels"] == ["sms", "wechat", "inbox"] and shown["set_by_org_id"] == tree["a"].id
    message = services.enqueue("order:deep", person, body="x", channels=("sms",))[0]
    db.session.commit()
    assert services.fallback(message, "test").channel == "wechat"
    db.session.commit()

    response = client.delete(ORDER_URL.format(tree["a"].id),
                             headers=auth_header(community_admin))
    assert response.status_code == 200
    assert response.get_json()["set_by_org_id"] == tree["street"].id
    message = services.enqueue("order:parent", person, body="x", channels=("sms",))[0]
    db.session.commit()
    assert services.fallback(message, "test").channel == "inbox"  # after sms in the street's

    grid_view = client.get(ORDER_URL.format(tree["grid_a"].id),
                           headers=auth_header(street_admin)).get_json()
    assert grid_view["channels"] == ["wechat", "email", "sms", "inbox"]
    assert {c["name"] for c in grid_view["available"]} >= {"wechat", "sms", "email", "inbox"}


def test_only_admins_of_the_org_set_its_order_and_unknown_channels_are_refused(
        db, client, auth_header, make_staff, tree):
    other_admin = make_staff(tree["b"], "admin")
    organizer = make_staff(tree["a"], "organizer")
    for user in (other_admin, organizer):
        response = client.put(ORDER_URL.format(tree["a"].id), json={"channels": ["sms"]},
                              headers=auth_header(user))
        assert response.status_code in (403, 404)
    admin = make_staff(tree["a"], "admin")
    response = client.put(ORDER_URL.format(tree["a"].id), json={"channels": ["fax", "sms"]},
                          headers={**auth_header(admin), "Accept-Language": "zh"})
    assert response.status_code == 422
    assert "channels" in str(response.get_json())
    response = client.put(ORDER_URL.format(tree["a"].id), json={"channels": []},
                          headers=auth_header(admin))
    assert response.status_code == 422
    assert client.get(ORDER_URL.format(tree["a"].id)).status_code == 401


def test_an_admin_sets_the_order_on_a_page_in_chinese_without_typing_ids(
        db, client, make_staff, tree):
    from tests.web.helpers import csrf_token, login

    admin = make_staff(tree["street"], "admin")
    login(client, admin)
    listing = client.get("/org/channel-order", headers={"Accept-Language": "zh-CN"})
    html = listing.get_data(as_text=True)
    assert listing.status_code == 200 and "渠道顺序" in html
    assert f'/org/{tree["a"].id}/channel-order' in html  # a link per organization
    url = f'/org/{tree["a"].id}/channel-order'
    page = client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "默认顺序" in page and "微信" in page and 'name="place_1"' in page
    token = csrf_token(client, url)
    response = client.post(url, data={"csrf_token": token, "place_1": "wechat",
                                      "place_2": "sms", "place_3": "", "place_4": "email"},
                           headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 302
    page = client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert [m for m in ("wechat", "sms", "email", "inbox")
            if f'<li data-channel="{m}">' in page] == ["wechat", "sms", "email", "inbox"]
    assert "由本组织设置" in page
    grid = client.get(f'/org/{tree["grid_a"].id}/channel-order',
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "甲社区" in grid  # set by the community above
    response = client.post(url, data={"csrf_token": token, "inherit": "y"})
    assert response.status_code == 302
    assert "默认顺序" in client.get(url, headers={"Accept-Language": "zh-CN"}).get_data(
        as_text=True)
    bad = client.post(url, data={"csrf_token": token, "place_1": "fax"},
                      headers={"Accept-Language": "zh-CN"})
    assert bad.status_code == 422


def test_the_channel_order_page_is_only_for_the_orgs_admins(db, client, make_staff, tree):
    from tests.web.helpers import login

    login(client, make_staff(tree["b"], "admin"))
    assert client.get(f'/org/{tree["a"].id}/channel-order').status_code == 404


@pytest.mark.parametrize("receipt, then", [("delivered", ["wechat"]),
                                            ("failed", ["wechat", "sms"])])
def test_a_receipt_that_comes_while_the_dispatcher_sends_counts_the_message_sent_once(
        db, person, wechat, monkeypatch, receipt, then):
    # WeChat pushes its receipt about a second after the send, sometimes before the
    # dispatcher records the send: the message still counts as sent (the after-action
    # report's Sent column and send times read sent_at) and falls back at most once.
    worker, _channel = wechat
    services.enqueue("drill:early", person, body="集合", channels=("wechat",), urgent=True)
    db.session.commit()
    token, claimed = worker.claim()
    [in_flight] = claimed
    services.apply_receipt(status=receipt, provider_message_id=f"wx-{in_flight.id}",
                           key=str(in_flight.id), channel="wechat")
    db.session.commit()
    worker.record(token, worker.send(claimed))
    db.session.expire_all()
    first = _messages(person.id)[0]
    assert first.status == receipt and first.sent_at is not None
    _later(monkeypatch, 3600)
    assert services.expire_unacknowledged() == 0
    db.session.commit()
    assert [m.channel for m in _messages(person.id)] == then


@pytest.mark.parametrize("role, shown", [("admin", True), ("organizer", False)])
def test_the_menu_shows_the_channel_order_to_who_may_set_it(db, client, make_staff, tree,
                                                            role, shown):
    from tests.web.helpers import login

    login(client, make_staff(tree["a"], role))
    page = client.get("/org/volunteers", headers={"Accept-Language": "zh-CN"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ('href="/org/channel-order"' in html) is shown
    assert ("渠道顺序" in html) is shown


def test_a_broadcast_requests_every_channel_set_up_and_no_other(app, notify_config,
                                                               wechat_config, monkeypatch):
    # SMS (the local gateway), e-mail, the inbox and WeChat are set up; Web Push without a
    # VAPID key is not (it would only fall back to SMS, requested anyway)
    monkeypatch.setitem(app.config, "VAPID_PRIVATE_KEY", None)
    assert set(registry.broadcast_channels(services.settings())) == {
        "sms", "email", "inbox", "wechat"}
    app.config["WECHAT_APP_ID"] = ""
    assert set(registry.broadcast_channels(services.settings())) == {"sms", "email", "inbox"}


def test_a_person_switches_wechat_messages_off(db, client, make_user, person, wechat_config):
    from tests.web.helpers import csrf_token, login

    login(client, person)
    page = client.get("/account/notifications", headers={"Accept-Language": "zh-CN"})
    assert 'name="wechat"' in page.get_data(as_text=True)
    token = csrf_token(client, "/account/notifications")
    response = client.post("/account/notifications", data={
        "csrf_token": token, "sms": "y", "email": "y"})
    assert response.status_code == 302
    assert services.get_preference(person.id).wechat is False
    [message] = services.enqueue("pref:off", person, body="x", channels=("wechat",))
    assert message.channel == "sms"  # WeChat's declared fallback
