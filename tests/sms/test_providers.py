"""The provider clients: signed as documented, one approved template with its named
parameters per message, batches, and what each kind of refusal means for the outbox."""
from __future__ import annotations

import collections
import json

import pytest

from tests.sms.conftest import ALIYUN_CODES, SITE, TENCENT_IDS, code_in
from volunteer_hub.notify.channels import Outgoing
from volunteer_hub.sms.links import link_secret, message_id_of
from volunteer_hub.sms.providers import aliyun_signature, tc3_signature
from volunteer_hub.sms.settings import build_channel

BOTH = pytest.mark.parametrize("provider", ["aliyun", "tencent"], indirect=True)


def test_aliyun_signature_matches_the_documentation_example():
    """Alibaba Cloud's SMS signature documentation, SendSms example (GET)."""
    params = {"AccessKeyId": "testId", "Action": "SendSms", "Format": "XML", "OutId": "123",
              "PhoneNumbers": "15300000001", "RegionId": "cn-hangzhou",
              "SignName": "阿里云短信测试专用", "SignatureMethod": "HMAC-SHA1",
              "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
              "SignatureVersion": "1.0", "TemplateCode": "SMS_71390007",
              "TemplateParam": '{"customer":"test"}', "Timestamp": "2017-07-12T02:42:19Z",
              "Version": "2017-05-25"}
    assert aliyun_signature(params, "testSecret", "GET") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_tc3_signature_matches_the_documentation_example():
    """Tencent Cloud API 3.0 signature documentation: CVM DescribeInstances example."""
    payload = (b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], '
               b'"Name": "instance-name"}]}')
    date, signature = tc3_signature(secret_key="Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
                                    service="cvm", host="cvm.tencentcloudapi.com",
                                    payload=payload, timestamp=1551113065)
    assert date == "2019-02-25"
    assert signature == "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


def outgoing(message_id: int, *, phone="13712345678", event_key="emergency:7:alert:1",
             subject="【演练】洪水预案（Ⅲ级（黄色））", body="正文 https://x/emergency/respond/t",
             locale="zh_Hans") -> Outgoing:
    return Outgoing(id=message_id, channel="sms", address=phone, subject=subject, body=body,
                    locale=locale, idempotency_key=f"vh-{message_id}", urgent=True,
                    event_key=event_key)


@pytest.fixture
def channel(app, provider):
    built = build_channel(None, app)
    yield built
    built.close()


@BOTH
def test_a_call_out_goes_as_its_approved_template_with_named_parameters(app, provider,
                                                                        channel):
    [result] = channel.send_many([outgoing(41)])
    assert result.ok and result.awaits_receipt and result.provider_message_id
    assert provider.refused == []
    [sent] = provider.sent
    assert sent["template"] == {"aliyun": ALIYUN_CODES, "tencent": TENCENT_IDS}[
        provider.name]["callout"]
    assert sent["phone"] in ("13712345678", "+8613712345678")
    # the title without the characters carriers refuse in a variable, the short code
    assert "演练洪水预案（Ⅲ级（黄色））" in sent["text"] and "【" not in sent["text"][6:]
    assert message_id_of(code_in(sent["text"]), link_secret(app)) == 41
    if provider.name == "aliyun":
        assert sent["params"] == {"title": "演练洪水预案（Ⅲ级（黄色））",
                                  "code": code_in(sent["text"])}
        assert sent["out_id"] == "vh-41"
    else:
        assert sent["params"] == ["演练洪水预案（Ⅲ级（黄色））", code_in(sent["text"])]
        assert sent["context"] == "vh-41" and result.provider_message_id == sent["serial"]


@BOTH
def test_each_kind_uses_its_own_template_and_a_long_title_is_shortened(provider, channel):
    messages = [outgoing(1, event_key="emergency:7:stand_down", subject="标题" * 30),
                outgoing(2, event_key="match:5:cancelled", subject="", body="您的任务已取消。请查看。"),
                outgoing(3, event_key="something-new", subject="新功能通知")]
    results = channel.send_many(messages)
    assert all(r.ok for r in results), [r.error for r in results]
    templates = {"aliyun": ALIYUN_CODES, "tencent": TENCENT_IDS}[provider.name]
    by_template = {s["template"]: s for s in provider.sent}
    stand_down = by_template[templates["stand_down"]]["text"]
    assert "标题标题" in stand_down and "…" in stand_down
    assert "您的任务已取消" in by_template[templates["task_notice"]]["text"]
    assert "新功能通知" in by_template[templates["notice"]]["text"]


@pytest.mark.parametrize("provider", ["aliyun"], indirect=True)
def test_aliyun_batch_is_one_sendbatchsms_with_a_parameter_set_per_number(app, provider,
                                                                         monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BATCH", 100)
    channel = build_channel(None, app)
    messages = [outgoing(100 + n, phone=f"1370000{n:04d}") for n in range(120)]
    results = channel.send_many(messages)
    assert all(r.ok for r in results)
    assert provider.requests == 2  # 100 + 20
    assert {s["action"] for s in provider.sent} == {"SendBatchSms"}
    codes = {s["phone"]: code_in(s["text"]) for s in provider.sent}
    assert len(set(codes.values())) == 120  # every person their own link
    assert message_id_of(codes["13700000007"], link_secret(app)) == 107
    # one BizId per request: each message is known by it and its number's keyed digest
    assert len({r.provider_message_id for r in results}) == 120
    assert not any("1370000" in r.provider_message_id for r in results)


@pytest.mark.parametrize("provider", ["tencent"], indirect=True)
def test_tencent_batch_groups_numbers_that_share_the_parameters(app, provider, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BATCH", 200)
    channel = build_channel(None, app)
    same = [outgoing(200 + n, phone=f"1370000{n:04d}", event_key="emergency:7:stand_down")
            for n in range(250)]
    personal = [outgoing(600 + n, phone=f"1380000{n:04d}") for n in range(3)]
    results = channel.send_many(same + personal)
    assert all(r.ok for r in results)
    # the stand-down shares one parameter set: 200 + 50; each call-out has its own link
    assert provider.requests == 2 + 3
    assert len({r.provider_message_id for r in results}) == 253


@pytest.mark.parametrize("provider", ["tencent"], indirect=True)
def test_tencent_batch_never_mixes_mainland_and_global_numbers(app, provider, monkeypatch):
    """SendSms takes "all Chinese mainland mobile numbers or all global mobile numbers"."""
    monkeypatch.setitem(app.config, "SMS_BATCH", 200)
    channel = build_channel(None, app)
    phones = ["13700000001", "+85291234567", "+8613700000002", "+6591234567"]
    results = channel.send_many([outgoing(700 + n, phone=phone,
                                          event_key="emergency:7:stand_down")
                                 for n, phone in enumerate(phones)])
    assert all(r.ok for r in results), [r.error for r in results]
    assert provider.refused == [] and provider.requests == 2
    assert sorted(s["phone"] for s in provider.sent) == sorted(
        ["+8613700000001", "+85291234567", "+8613700000002", "+6591234567"])


@BOTH
def test_a_wrong_secret_is_refused_for_good(app, provider, monkeypatch):
    key = "ALIYUN_SMS_ACCESS_KEY_SECRET" if provider.name == "aliyun" else \
        "TENCENT_SMS_SECRET_KEY"
    monkeypatch.setitem(app.config, key, "not-the-secret")
    channel = build_channel(None, app)
    [result] = channel.send_many([outgoing(9)])
    assert not result.ok and result.permanent and "ignature" in result.error
    assert provider.refused == ["signature"] and provider.sent == []


@BOTH
def test_flow_control_is_transient_a_missing_template_permanent(app, provider, monkeypatch):
    throttled = ({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发流控"}
                 if provider.name == "aliyun" else
                 {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "限频"}}})
    provider.fail_next.append((200, throttled))
    channel = build_channel(None, app)
    [result] = channel.send_many([outgoing(10)])
    assert not result.ok and not result.permanent
    templates = dict(app.config["SMS_TEMPLATES"][provider.name])
    templates.pop("callout")
    monkeypatch.setitem(app.config, "SMS_TEMPLATES", {provider.name: templates})
    [result] = build_channel(None, app).send_many([outgoing(11)])
    assert not result.ok and result.permanent and "callout" in result.error
    assert provider.requests == 1  # nothing sent without an approved template


@BOTH
def test_a_refusal_that_quotes_the_number_keeps_no_number_in_the_error(app, provider):
    """The error goes to the outbox row and the log: a provider's message that echoes the
    number (a parameter-check message) is kept without it."""
    quoted = "号码 +8613712345678 / 13712345678 无效"
    provider.fail_next.append((200, {"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": quoted}
                                if provider.name == "aliyun" else
                                {"Response": {"Error": {
                                    "Code": "InvalidParameterValue.IncorrectPhoneNumber",
                                    "Message": quoted}}}))
    channel = build_channel(None, app)
    [result] = channel.send_many([outgoing(12)])
    assert not result.ok and result.permanent
    assert "12345678" not in result.error and "无效" in result.error
    channel.close()


@BOTH
def test_no_answer_is_unanswered_and_no_phone_is_permanent(app, provider, monkeypatch):
    key = "ALIYUN_SMS_ENDPOINT" if provider.name == "aliyun" else "TENCENT_SMS_ENDPOINT"
    from tests.notify.servers import free_port

    monkeypatch.setitem(app.config, key, f"http://127.0.0.1:{free_port()}/")
    channel = build_channel(None, app)
    [gone, no_phone] = channel.send_many([outgoing(12), outgoing(13, phone=None)])
    assert not gone.ok and gone.unanswered and not gone.permanent
    assert not no_phone.ok and no_phone.permanent


def test_templates_may_differ_by_language(app, provider, monkeypatch):
    codes = dict(ALIYUN_CODES, callout={"zh_Hans": ALIYUN_CODES["callout"],
                                        "en": ALIYUN_CODES["notice"]})
    monkeypatch.setitem(app.config, "SMS_TEMPLATES", json.dumps({"aliyun": codes}))
    channel = build_channel(None, app)
    channel.send_many([outgoing(20), outgoing(21, phone="13799999999", locale="en")])
    by_phone = {s["phone"]: s["template"] for s in provider.sent}
    assert by_phone == {"13712345678": ALIYUN_CODES["callout"],
                        "13799999999": ALIYUN_CODES["notice"]}
    assert SITE in provider.sent[0]["text"]


@pytest.mark.parametrize("provider", ["aliyun"], indirect=True)
def test_the_rate_limit_bounds_each_batch_and_counts_messages(app, db, provider,
                                                              monkeypatch, make_user):
    from volunteer_hub.db import transaction
    from volunteer_hub.notify import services
    from volunteer_hub.notify.dispatcher import Dispatcher

    monkeypatch.setitem(app.config, "SMS_BATCH", 100)
    monkeypatch.setitem(app.config, "SMS_RATE", 30)
    users = [make_user() for _ in range(70)]
    with transaction():
        services.enqueue_many("notice:rate", [services.Target(u.id, "通知", phone=u.phone)
                                              for u in users], channel="sms", urgent=True)
    worker = Dispatcher(app, batch=100, threads=2)
    try:
        assert worker.drain() == 70
    finally:
        worker.close()
    assert len(provider.sent) == 70 and provider.refused == []
    sizes = collections.Counter(s["biz_id"] for s in provider.sent).values()
    assert max(sizes) <= 30 and len(sizes) >= 3  # never more in one request than a second's


def test_a_misspelt_provider_stops_the_start(app):
    from volunteer_hub import create_app

    with pytest.raises(ValueError, match="SMS_PROVIDER"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x",
                    "DATA_ENCRYPTION_KEY": app.config["DATA_ENCRYPTION_KEY"],
                    "ID_HASH_KEY": "x", "SMS_PROVIDER": "alyun"})


def test_a_provider_without_its_keys_is_not_configured(app, monkeypatch):
    from volunteer_hub.sms.settings import sms_configured

    monkeypatch.setitem(app.config, "SMS_PROVIDER", "tencent")
    monkeypatch.setitem(app.config, "TENCENT_SMS_SECRET_ID", "id")
    monkeypatch.setitem(app.config, "SMS_SIGN_NAME", "志愿汇")
    assert not sms_configured(app)  # no secret key nor app id: SMS falls back
    assert build_channel(None, app) is None
