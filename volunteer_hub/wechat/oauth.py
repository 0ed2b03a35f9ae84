"""WeChat web authorization (网页授权, scope snsapi_base) through wechatpy's WeChatOAuth.

    1. the browser goes to {WECHAT_OAUTH_BASE}/connect/oauth2/authorize?appid=APPID
       &redirect_uri=URL&response_type=code&scope=snsapi_base&state=STATE#wechat_redirect
       (inside WeChat it comes straight back, without asking the person anything);
    2. WeChat sends it to redirect_uri?code=CODE&state=STATE;
    3. GET {WECHAT_API_BASE}/sns/oauth2/access_token?appid&secret&code
       &grant_type=authorization_code -> {"access_token", "expires_in", "refresh_token",
       "openid", "scope"}: the openid is all we keep (the web token is not needed).

`state` is a random value kept in the person's session (views.py), so a code can only be
used by the browser that started the authorization.
"""
from __future__ import annotations

import requests
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from volunteer_hub.wechat.client import Settings, WeChatError, unreachable


class _OAuth(WeChatOAuth):
    """wechatpy's client with our endpoints and a timeout (it sets none)."""

    def __init__(self, settings: Settings, redirect_uri: str, state: str = ""):
        super().__init__(settings.app_id, settings.secret, redirect_uri,
                         scope="snsapi_base", state=state)
        self.OAUTH_BASE_URL = f"{settings.oauth_base}/connect/"
        self.API_BASE_URL = f"{settings.api_base}/"
        self.timeout = settings.timeout

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", self.timeout)
        return super()._request(method, url_or_endpoint, **kwargs)


def authorize_url(settings: Settings, redirect_uri: str, state: str) -> str:
    return _OAuth(settings, redirect_uri, state).authorize_url


def openid_for_code(settings: Settings, redirect_uri: str, code: str) -> str:
    """The openid WeChat gives for an authorization code; WeChatError when it gives none."""
    client = _OAuth(settings, redirect_uri)
    try:
        answer = client.fetch_access_token(code)
    except WeChatOAuthException as error:
        errcode = error.errcode if error.errcode is not None else -1
        raise WeChatError(errcode, str(error.errmsg or "")) from error
    except (requests.RequestException, KeyError, ValueError) as error:
        raise WeChatError(None, unreachable(error, "WeChat authorization failed")) from error
    openid = answer.get("openid")
    if not openid:
        raise WeChatError(-1, "WeChat gave no openid")
    return str(openid)
