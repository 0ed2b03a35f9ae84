"""WeChat web authorization: binding once from the account page, logging in with WeChat
afterwards (inside WeChat without a tap), unbinding; the state guards the callback."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select, text

from tests.web.helpers import csrf_token, login
from volunteer_hub.wechat.models import WeChatBinding

WECHAT_UA = ("Mozilla/5.0 (Linux; Android 13; V2219A) AppleWebKit/537.36 (KHTML, like Gecko) "
             "Version/4.0 Chrome/111.0.5563.116 Mobile Safari/537.36 XWEB/5235 MMWEBSDK/20230805 "
             "MMWEBID/1234 MicroMessenger/8.0.42.2460(0x28002A3B) WeChat/arm64 Weixin "
             "NetType/WIFI Language/zh_CN ABI/arm64")


def another_browser(client):
    """A new browser (its own cookies). The tests share one app context, where Flask-Login
    keeps the last request's user in `g`: forget it, as a new request would."""
    from flask import g

    g.pop("_login_user", None)
    return client.application.test_client()


def through_wechat(client, response, fake_wechat):
    """Follow a redirect to WeChat's authorization page, and WeChat's redirect back."""
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    location = response.headers["Location"]
    assert location.startswith(fake_wechat.url + "/connect/oauth2/authorize?")
    assert location.endswith("#wechat_redirect")
    answer = requests.get(location.split("#")[0], allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    back = urlsplit(answer.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


@pytest.fixture
def volunteer(tree, make_volunteer):
    return make_volunteer(tree["a"])


def bind_as(client, volunteer, fake_wechat, openid):
    login(client, volunteer.user)
    fake_wechat.next_openid = openid
    token = csrf_token(client, "/account")
    started = client.post("/wechat/bind", data={"csrf_token": token},
                          headers={"User-Agent": WECHAT_UA})
    return through_wechat(client, started, fake_wechat)


def test_the_authorization_request_is_as_wechat_documents(app, client, wechat_config,
                                                          fake_wechat):
    response = client.get("/wechat/login?next=/tasks")
    query = parse_qs(urlsplit(response.headers["Location"].split("#")[0]).query)

    assert query["appid"] == [wechat_config["WECHAT_APP_ID"]]
    assert query["response_type"] == ["code"]
    assert query["scope"] == ["snsapi_base"]
    assert query["redirect_uri"] == ["http://localhost/wechat/callback"]
    assert len(query["state"][0]) >= 32


def test_bind_once_then_log_in_with_wechat(client, db, volunteer, wechat_config, fake_wechat):
    bound = bind_as(client, volunteer, fake_wechat, "oBoundOpenid0000000000000001")
    assert bound.status_code == 302 and bound.headers["Location"].endswith("/wechat/account")
    assert "微信已绑定" in client.get("/wechat/account").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})

    started = client.get("/wechat/login?next=/account")
    logged_in = through_wechat(client, started, fake_wechat)

    assert logged_in.status_code == 302 and logged_in.headers["Location"] == "/account"
    assert volunteer.user.display_name in client.get("/account").get_data(as_text=True)


def test_the_openid_is_stored_encrypted_with_a_keyed_hash(client, db, volunteer,
                                                          wechat_config, fake_wechat):
    openid = "oSecretOpenid00000000000007"
    bind_as(client, volunteer, fake_wechat, openid)

    rows = db.session.execute(text("SELECT * FROM wechat_bindings")).mappings().all()
    assert len(rows) == 1
    assert all(openid not in str(value) for value in rows[0].values())
    binding = db.session.execute(select(WeChatBinding)).scalar_one()
    assert binding.openid == openid and binding.user_id == volunteer.user.id


def test_inside_wechat_the_login_page_goes_through_wechat_by_itself(client, volunteer,
                                                                    wechat_config, fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oAutoOpenid0000000000000001")
    fresh = another_browser(client)  # another visit: no session yet

    started = fresh.get("/login?next=/account", headers={"User-Agent": WECHAT_UA})
    logged_in = through_wechat(fresh, started, fake_wechat)

    assert logged_in.headers["Location"] == "/account"
    assert fresh.get("/account").status_code == 200


def test_outside_wechat_the_login_page_stays(client, wechat_config):
    response = client.get("/login")
    assert response.status_code == 200
    assert "微信登录" in response.get_data(as_text=True)


def test_an_unbound_wechat_lands_on_the_login_page_once(client, wechat_config, fake_wechat):
    fake_wechat.next_openid = "oNobodyOpenid000000000000001"
    started = client.get("/login", headers={"User-Agent": WECHAT_UA})
    answer = through_wechat(client, started, fake_wechat)

    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login"
    page = client.get("/login", headers={"User-Agent": WECHAT_UA})  # no second round trip
    assert page.status_code == 200
    assert "还没有绑定" in page.get_data(as_text=True)


def test_after_logging_out_wechat_does_not_log_in_again(client, volunteer, wechat_config,
                                                         fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oLogoutOpenid000000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")},
                headers={"User-Agent": WECHAT_UA})

    assert client.get("/login", headers={"User-Agent": WECHAT_UA}).status_code == 200


def test_a_closed_account_cannot_log_in_with_wechat(client, db, volunteer, wechat_config,
                                                    fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oClosedOpenid000000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    volunteer.user.active = False
    db.session.commit()

    answer = through_wechat(client, client.get("/wechat/login"), fake_wechat)

    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert client.get("/account").status_code == 302  # still not logged in


def test_a_callback_without_the_sessions_state_is_refused(client, volunteer, wechat_config,
                                                           fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oStateOpenid0000000000000001")
    attacker = another_browser(client)
    started = attacker.get("/wechat/login")
    location = started.headers["Location"].split("#")[0]
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=5).headers["Location"])

    victim = another_browser(client)  # another browser, another session
    answer = victim.get(f"{back.path}?{back.query}")

    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert victim.get("/account").status_code == 302
    forged = attacker.get(f"{back.path}?{back.query.replace('state=', 'state=x')}")
    assert urlsplit(forged.headers["Location"]).path == "/login"


def test_a_wechat_bound_to_someone_else_is_refused(client, tree, make_volunteer, volunteer,
                                                   wechat_config, fake_wechat, db):
    bind_as(client, volunteer, fake_wechat, "oSharedOpenid000000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    other = make_volunteer(tree["a"])

    bind_as(client, other, fake_wechat, "oSharedOpenid000000000000001")

    page = client.get("/wechat/account").get_data(as_text=True)
    assert "已绑定另一个账户" in page
    owners = db.session.execute(select(WeChatBinding.user_id)).scalars().all()
    assert owners == [volunteer.user.id]


def test_unbind(client, db, volunteer, wechat_config, fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oUnbindOpenid000000000000001")

    answer = client.post("/wechat/unbind",
                         data={"csrf_token": csrf_token(client, "/wechat/account")})

    assert answer.status_code == 302
    assert db.session.execute(select(WeChatBinding)).first() is None
    assert "微信尚未绑定" in client.get("/wechat/account").get_data(as_text=True)


def test_binding_needs_the_form_token(client, volunteer, wechat_config):
    login(client, volunteer.user)
    assert client.post("/wechat/bind").status_code == 400


def test_without_settings_there_is_no_wechat_login(client, volunteer):
    assert "微信登录" not in client.get("/login").get_data(as_text=True)
    answer = client.get("/wechat/login")
    assert urlsplit(answer.headers["Location"]).path == "/login"


def test_a_password_reset_by_the_organizer_still_comes_first(client, db, volunteer,
                                                             wechat_config, fake_wechat):
    bind_as(client, volunteer, fake_wechat, "oResetOpenid0000000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    volunteer.user.must_change_password = True
    db.session.commit()

    answer = through_wechat(client, client.get("/wechat/login?next=/account"), fake_wechat)

    assert urlsplit(answer.headers["Location"]).path == "/account/password"


def test_an_authorization_older_than_ten_minutes_is_refused(client, volunteer, wechat_config,
                                                            fake_wechat, monkeypatch):
    from types import SimpleNamespace

    from volunteer_hub.wechat import views

    bind_as(client, volunteer, fake_wechat, "oLateOpenid00000000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    started = client.get("/wechat/login")
    later = views.time.time() + views.STATE_LIFETIME_SECONDS + 1
    monkeypatch.setattr(views, "time", SimpleNamespace(time=lambda: later))  # this module's clock

    answer = through_wechat(client, started, fake_wechat)

    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert client.get("/account").status_code == 302


def test_the_state_is_of_the_characters_wechat_allows(client, wechat_config):
    """WeChat documents `state` as a-zA-Z0-9, at most 128 bytes."""
    import re

    for _ in range(20):
        response = client.get("/wechat/login")
        state = parse_qs(urlsplit(response.headers["Location"].split("#")[0]).query)["state"][0]
        assert re.fullmatch(r"[A-Za-z0-9]{32,128}", state), state


def test_a_changed_consent_text_is_asked_after_a_wechat_login(client, db, volunteer,
                                                              wechat_config, fake_wechat):
    from datetime import timedelta

    from volunteer_hub.db import utcnow
    from volunteer_hub.privacy.consents import publish_text

    bind_as(client, volunteer, fake_wechat, "oConsentOpenid00000000000001")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    publish_text("service_terms", "2027-01", "zh_Hans", "新版服务条款正文",
                 published_at=utcnow() - timedelta(minutes=1))
    db.session.commit()

    answer = through_wechat(client, client.get("/wechat/login?next=/me/hours"), fake_wechat)

    assert urlsplit(answer.headers["Location"]).path == "/account/consent"
    held = client.get("/me/hours")
    assert held.status_code == 302 and "/account/consent" in held.headers["Location"]


def test_an_unreachable_wechat_at_login_logs_no_secret(client, app, volunteer, wechat_config,
                                                       fake_wechat, monkeypatch, caplog):
    started = client.get("/wechat/login")
    location = started.headers["Location"].split("#")[0]
    back = urlsplit(requests.get(location, allow_redirects=False, timeout=5).headers["Location"])
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:9")

    with caplog.at_level("WARNING"):
        answer = client.get(f"{back.path}?{back.query}")

    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert "wechat" in caplog.text
    assert wechat_config["WECHAT_APP_SECRET"] not in caplog.text
    assert parse_qs(back.query)["code"][0] not in caplog.text
