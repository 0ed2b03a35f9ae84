"""The access token: fetched once and shared by every process through the database,
renewed before it expires, fetched again once when WeChat refuses it."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from volunteer_hub.wechat.client import WeChatError, api_for, now
from volunteer_hub.wechat.models import WeChatAccessToken

SEND = "/cgi-bin/message/template/send"
BODY = {"touser": "oUser", "template_id": "TPL-TASK", "data": {"title": {"value": "x"}}}


def test_two_processes_share_one_token(app, wechat_config, fake_wechat):
    first, second = api_for(app), api_for(app)  # two workers: separate memory, one database

    first.call("POST", SEND, json_body=BODY)
    second.call("POST", SEND, json_body=BODY)

    assert len(fake_wechat.tokens_issued) == 1
    assert len(fake_wechat.sends) == 2


def test_the_token_is_stored_encrypted(app, db, wechat_config, fake_wechat):
    api_for(app).call("POST", SEND, json_body=BODY)

    stored = db.session.execute(text("SELECT * FROM wechat_access_tokens")).mappings().one()
    token = fake_wechat.tokens_issued[0]
    assert all(token not in str(value) for value in stored.values())


def test_a_token_close_to_expiry_is_renewed_before_use(app, db, wechat_config, fake_wechat):
    api = api_for(app)
    api.call("POST", SEND, json_body=BODY)
    row = db.session.execute(select(WeChatAccessToken)).scalar_one()
    row.expires_at = now() + timedelta(seconds=60)  # within the renewal margin
    db.session.commit()
    other_worker = api_for(app)

    other_worker.call("POST", SEND, json_body=BODY)

    assert len(fake_wechat.tokens_issued) == 2
    db.session.expire_all()
    renewed = db.session.execute(select(WeChatAccessToken)).scalar_one()
    assert renewed.expires_at - now() > timedelta(seconds=7000)


def test_a_refused_token_is_fetched_again_once_and_the_call_repeated(app, wechat_config,
                                                                        fake_wechat):
    api = api_for(app)
    api.call("POST", SEND, json_body=BODY)
    fake_wechat.current_token = None  # revoked (e.g. the secret was reset): 40001 for all

    answer = api.call("POST", SEND, json_body=BODY)

    assert answer["errcode"] == 0
    assert len(fake_wechat.tokens_issued) == 2
    assert len(fake_wechat.sends) == 2  # the refused request never reached a send


def test_a_token_renewed_by_another_process_is_taken_from_the_database(app, wechat_config,
                                                                         fake_wechat):
    api, other = api_for(app), api_for(app)
    api.call("POST", SEND, json_body=BODY)
    fake_wechat.current_token = None
    other.call("POST", SEND, json_body=BODY)  # refused, renews: token 2 in the database

    api.call("POST", SEND, json_body=BODY)  # its token 1 refused (42001): takes token 2

    assert len(fake_wechat.tokens_issued) == 2


def test_a_token_refused_twice_is_an_error_not_a_loop(app, wechat_config, fake_wechat):
    api = api_for(app)
    api.call("POST", SEND, json_body=BODY)
    fake_wechat.queued_errors = [40001]  # the server refuses even the new token once more

    fake_wechat.current_token = None
    with pytest.raises(WeChatError) as refused:
        api.call("POST", SEND, json_body=BODY)

    assert refused.value.errcode == 40001
    assert len(fake_wechat.tokens_issued) == 2


def test_a_wrong_secret_is_reported(app, wechat_config, fake_wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_APP_SECRET", "not-the-secret")

    with pytest.raises(WeChatError) as refused:
        api_for(app).call("POST", SEND, json_body=BODY)

    assert refused.value.errcode == 40125
    assert fake_wechat.sends == []


def test_no_api_without_settings(app, db, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_APP_ID", None)
    assert api_for(app) is None


def test_two_processes_needing_the_first_token_at_once_fetch_it_once(app, db, wechat_config,
                                                                      fake_wechat, monkeypatch):
    """No token stored yet and two workers start together: the second waits for the first
    one's token (a second fetch would invalidate the first token within minutes)."""
    import threading
    import time

    issue = fake_wechat.token

    def slow_issue(query):
        time.sleep(0.3)  # the first fetch is still under way when the second worker asks
        return issue(query)

    monkeypatch.setattr(fake_wechat, "token", slow_issue)
    workers = [api_for(app), api_for(app)]
    tokens, errors = [], []

    def start(api):
        try:
            tokens.append(api.access_token())
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(api,)) for api in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert errors == []
    assert len(fake_wechat.tokens_issued) == 1
    assert tokens == fake_wechat.tokens_issued * 2
