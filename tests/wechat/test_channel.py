"""The WeChat channel against the local WeChat: the template message's JSON body exactly as
WeChat documents it, and what each answer means for the outbox row."""
from __future__ import annotations

import pytest

from volunteer_hub.notify.channels import Outgoing
from volunteer_hub.security import encrypt
from volunteer_hub.sms.links import link_secret, short_code
from volunteer_hub.wechat.channel import WeChatChannel

OPENID = "oWeChatUser000000000000042"
LINK = "https://hub.example.cn/a/17.3.99.1765000000.abcdef"


def outgoing(event_key: str, *, address: str | None = "encrypted", **overrides) -> Outgoing:
    values = dict(id=4711, channel="wechat",
                  address=encrypt(OPENID) if address == "encrypted" else address,
                  subject="朝阳区暴雨内涝紧急集结", body=f"请立即回复：{LINK}", locale="zh_Hans",
                  idempotency_key="vh-4711", urgent=True, link=LINK, event_key=event_key)
    values.update(overrides)
    return Outgoing(**values)


@pytest.fixture
def channel(app, wechat_config):
    channel = WeChatChannel.from_config(None, app)
    yield channel
    channel.close()


def test_a_callout_is_a_template_message_with_the_one_tap_link(app, channel, fake_wechat):
    result = channel.send(outgoing("emergency:17:alert:3"))

    assert fake_wechat.sends == [{
        "touser": OPENID,
        "template_id": "TPL-CALLOUT",
        "url": LINK,
        "client_msg_id": "vh-4711",
        "data": {"thing1": {"value": "朝阳区暴雨内涝紧急集结"},
                 "character_string2": {"value": short_code(4711, link_secret(app))}},
    }]
    assert result.ok and result.awaits_receipt
    assert result.provider_message_id == str(fake_wechat.sent[(OPENID, "vh-4711")])


def test_a_template_given_by_id_takes_the_kinds_parameters_as_fields(app, channel,
                                                                    fake_wechat):
    channel.send(outgoing("match:need:5:volunteer:8", subject="明天上午陪同就医",
                          urgent=False))

    sent = fake_wechat.sends[0]
    assert sent["template_id"] == "TPL-TASK"
    assert sent["data"] == {"title": {"value": "明天上午陪同就医"},
                            "code": {"value": short_code(4711, link_secret(app))}}


def test_a_value_longer_than_its_field_type_allows_is_shortened(channel, fake_wechat):
    channel.send(outgoing("emergency:17:alert:3", subject="一" * 30))

    assert fake_wechat.sends[0]["data"]["thing1"]["value"] == "一" * 19 + "…"


def test_the_same_row_sent_twice_rings_once(channel, fake_wechat):
    first = channel.send(outgoing("emergency:17:alert:3"))
    again = channel.send(outgoing("emergency:17:alert:3"))  # a worker crashed in between

    assert first.provider_message_id == again.provider_message_id
    assert len(fake_wechat.sent) == 1


def test_a_kind_without_template_falls_back_at_once(channel, fake_wechat):
    result = channel.send(outgoing("emergency:17:stand_down"))

    assert not result.ok and result.permanent
    assert "WECHAT_TEMPLATES" in result.error
    assert fake_wechat.sends == []


def test_no_binding_is_a_permanent_failure(channel, fake_wechat):
    for address in (None, "not-a-ciphertext"):
        result = channel.send(outgoing("emergency:17:alert:3", address=address))
        assert not result.ok and result.permanent
    assert fake_wechat.sends == []


@pytest.mark.parametrize("errcode, permanent", [
    (43004, True),   # the person does not follow the account
    (40003, True),   # invalid openid
    (40037, True),   # invalid template_id
    (-1, False),     # system busy
    (45009, False),  # daily quota reached
])
def test_errcodes(channel, fake_wechat, errcode, permanent):
    fake_wechat.queued_errors = [errcode]

    result = channel.send(outgoing("emergency:17:alert:3"))

    assert not result.ok
    assert result.permanent is permanent
    assert str(errcode) in result.error


def test_an_unreachable_wechat_is_unanswered(app, wechat_config, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9")
    channel = WeChatChannel.from_config(None, app)

    result = channel.send(outgoing("emergency:17:alert:3"))

    assert not result.ok and not result.permanent and result.unanswered


def test_no_channel_without_settings(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_APP_SECRET", None)
    assert WeChatChannel.from_config(None, app) is None


def test_an_unreachable_wechat_leaves_no_credential_in_the_error(app, wechat_config,
                                                                 fake_wechat, monkeypatch):
    """The error is kept on the outbox row and logged: the request's URL carries the app
    secret (token fetch) or the access token (send) and must not come along."""
    fetching = WeChatChannel.from_config(None, app)
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9")
    no_token = WeChatChannel.from_config(None, app).send(outgoing("emergency:17:alert:3"))
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", fake_wechat.url)
    fetching.send(outgoing("emergency:17:alert:3"))  # a token in the shared table
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9")
    no_send = WeChatChannel.from_config(None, app).send(outgoing("emergency:17:alert:3"))

    for result in (no_token, no_send):
        assert result.unanswered and "127.0.0.1" in result.error
        assert wechat_config["WECHAT_APP_SECRET"] not in result.error
        assert "access_token" not in result.error
        assert fake_wechat.tokens_issued[0] not in result.error
