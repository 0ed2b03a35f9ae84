"""WeChat pages: log in with WeChat, bind and unbind on the account page, and the server
configuration URL that receives WeChat's signed event pushes.

Inside WeChat (a User-Agent with MicroMessenger) a visitor who is not logged in is sent
through the authorization once per browser session when they open the home or login page:
a bound account is logged in, anyone else lands on the login page with a word on how to bind.
Logging out turns that off for the session, so that the next page does not log back in.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct
import time
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError

from flask import (Blueprint, abort, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, user_logged_out
from wechatpy import parse_message
from wechatpy.crypto import PrpCrypto
from wechatpy.events import TemplateSendJobFinishEvent
from wechatpy.exceptions import InvalidAppIdException

from volunteer_hub.db import transaction, utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import csrf, limiter
from volunteer_hub.wechat import oauth, services
from volunteer_hub.wechat.client import Settings, WeChatError

blp = Blueprint("wechat", __name__, url_prefix="/wechat", template_folder="templates")

PENDING = "wechat_oauth"  # session key: the authorization under way (state, purpose, next)
AUTO_OFF = "wechat_auto_off"  # session key: no automatic WeChat login in this session
STATE_LIFETIME_SECONDS = 600
AUTO_LOGIN_ENDPOINTS = {"web.index", "accounts.login"}


def in_wechat() -> bool:
    return "micromessenger" in request.headers.get("User-Agent", "").lower()


def _settings() -> Settings | None:
    return Settings.of(current_app)


def _redirect_uri() -> str:
    return url_for("wechat.callback", _external=True)


def _start(purpose: str, next_url: str | None):
    """Send the browser to WeChat's authorization with a fresh state kept in the session."""
    settings = _settings()
    if settings is None:
        flash(gettext("WeChat login is not set up on this site."), "error")
        return redirect(url_for("accounts.login"))
    state = secrets.token_hex(20)  # WeChat takes a-zA-Z0-9 only, up to 128 bytes
    session[PENDING] = {"state": state, "purpose": purpose, "next": next_url,
                        "user": current_user.get_id() if purpose == "bind" else None,
                        "at": int(time.time())}
    return redirect(oauth.authorize_url(settings, _redirect_uri(), state))


@blp.record_once
def _hooks(state) -> None:
    user_logged_out.connect(_no_auto_login_after_logout, state.app)


def _no_auto_login_after_logout(_app, **_extra) -> None:
    session[AUTO_OFF] = True


@blp.before_app_request
def auto_login_inside_wechat():
    if (request.method != "GET" or request.endpoint not in AUTO_LOGIN_ENDPOINTS
            or current_user.is_authenticated or not in_wechat() or session.get(AUTO_OFF)
            or _settings() is None):
        return None
    session[AUTO_OFF] = True  # once per session, whatever WeChat answers
    from volunteer_hub.accounts.views import safe_next

    return _start("login", safe_next(request.args.get("next")))


@blp.route("/login")
def login():
    """Log in with WeChat (works inside WeChat only: its authorization page needs the app)."""
    from volunteer_hub.accounts.views import safe_next

    return _start("login", safe_next(request.args.get("next")))


def _policy_allowing_wechat_forms(settings: Settings | None) -> dict:
    """The site's Content-Security-Policy, with WeChat's authorization page as a place the
    bind form may lead to: browsers check `form-action` on the form's redirects too, and
    the bind form's answer is a redirect to WeChat."""
    if settings is None:
        return {}
    from urllib.parse import urlsplit

    from volunteer_hub.web.http_guards import CONTENT_SECURITY_POLICY

    parts = urlsplit(settings.oauth_base)
    origin = f"{parts.scheme}://{parts.netloc}"
    policy = CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {origin}")
    return {"Content-Security-Policy": policy}


@blp.route("/account")
@login_required
def account():
    binding = services.binding_of(current_user)
    settings = _settings()
    page = render_template("wechat/account.html", binding=binding, in_wechat=in_wechat(),
                           configured=settings is not None)
    return page, 200, _policy_allowing_wechat_forms(settings)


@blp.route("/bind", methods=["POST"])
@login_required
def bind():
    return _start("bind", url_for("wechat.account"))


@blp.route("/unbind", methods=["POST"])
@login_required
def unbind():
    with transaction():
        removed = services.unbind(current_user)
    if removed:
        flash(gettext("WeChat is unbound: messages no longer go to WeChat."), "info")
    return redirect(url_for("wechat.account"))


def _pending_for(state: str) -> dict | None:
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict) or not state:
        return None
    if not hmac.compare_digest(str(pending.get("state", "")).encode(), state.encode()):
        return None
    if time.time() - int(pending.get("at") or 0) > STATE_LIFETIME_SECONDS:
        return None
    return pending


def _not_confirmed():
    flash(gettext("WeChat did not confirm who you are. Please try again."), "error")
    return redirect(url_for("accounts.login"))


@blp.route("/callback")
@limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="login-address")
def callback():
    """Where WeChat's authorization comes back with ?code=...&state=..."""
    pending = _pending_for(request.args.get("state", ""))
    code = request.args.get("code", "")
    settings = _settings()
    if pending is None or not code or settings is None:
        return _not_confirmed()
    try:
        openid = oauth.openid_for_code(settings, _redirect_uri(), code)
    except WeChatError as error:
        current_app.logger.warning("wechat: authorization code refused: %s", error)
        return _not_confirmed()
    if pending.get("purpose") == "bind":
        return _finish_bind(pending, openid)
    return _finish_login(pending, openid)


def _finish_bind(pending: dict, openid: str):
    if not current_user.is_authenticated or current_user.get_id() != pending.get("user"):
        return _not_confirmed()
    try:
        with transaction():
            services.bind(current_user, openid)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("WeChat is bound: alerts and task notices come to WeChat."), "info")
    return redirect(url_for("wechat.account"))


def _finish_login(pending: dict, openid: str):
    from volunteer_hub.accounts.views import home_url, safe_next
    from volunteer_hub.web.i18n import keep_chosen_language

    with transaction():
        user = services.user_for_openid(openid)
        allowed = user is not None and user.is_active
        if allowed:
            user.last_login_at = utcnow()
    if user is None:
        flash(gettext("This WeChat account is not bound to an account yet. Log in with your "
                      "phone number, then bind WeChat on your account page."), "info")
        return redirect(url_for("accounts.login", next=pending.get("next")))
    if not allowed or not login_user(user):
        flash(gettext("This account cannot log in."), "error")
        return redirect(url_for("accounts.login"))
    keep_chosen_language(user)
    if user.must_change_password:
        flash(gettext("Please choose a new password before you go on."), "info")
        return redirect(url_for("accounts.password"))
    from volunteer_hub.privacy.views import ask_after_login

    return redirect(ask_after_login(user, pending.get("next"))
                    or safe_next(pending.get("next")) or home_url())


# -- WeChat's pushes (服务器配置 URL) ---------------------------------------------------------

def signature(token: str, *parts: str) -> str:
    """WeChat's signature: sha1 of the token and the parts, sorted and joined."""
    return hashlib.sha1("".join(sorted((token, *parts))).encode()).hexdigest()


def _signed(token: str | None, given: str | None, *parts: str) -> bool:
    if not token or not given or not all(parts):
        return False
    return hmac.compare_digest(signature(token, *parts).encode(), given.encode())


def _event_xml(token: str) -> str:
    """The push's XML; in safe mode (encrypt_type=aes) decrypted with the EncodingAESKey after
    its msg_signature (over the token, timestamp, nonce and the ciphertext) is checked."""
    raw = request.get_data()
    if request.args.get("encrypt_type", "raw") != "aes":
        return raw
    aes_key = current_app.config.get("WECHAT_ENCODING_AES_KEY")
    if not aes_key:
        abort(403)
    encrypted = ElementTree.fromstring(raw).findtext("Encrypt") or ""
    if not _signed(token, request.args.get("msg_signature"), request.args["timestamp"],
                   request.args["nonce"], encrypted):
        abort(403)
    key = base64.b64decode(aes_key + "=")
    try:
        return PrpCrypto(key).decrypt(encrypted, current_app.config["WECHAT_APP_ID"])
    except InvalidAppIdException:
        abort(403)


@blp.route("/events", methods=["GET", "POST"])
@csrf.exempt
def events():
    """GET: WeChat checks the URL (echo `echostr`); POST: an event, as XML (plain text,
    compatible or safe mode). Signed: sha1 of the sorted token, timestamp and nonce."""
    token = current_app.config.get("WECHAT_TOKEN")
    args = request.args
    if not _signed(token, args.get("signature"), args.get("timestamp", ""),
                   args.get("nonce", "")):
        abort(403)
    if request.method == "GET":
        return args.get("echostr", ""), 200, {"Content-Type": "text/plain"}
    try:
        message = parse_message(_event_xml(token))
        job_finished = isinstance(message, TemplateSendJobFinishEvent)
        msgid = message.id if job_finished else None  # an int field: read here, checked
    except (ExpatError, ElementTree.ParseError, KeyError, AttributeError, TypeError,
            ValueError, IndexError, struct.error, binascii.Error):
        abort(400)  # malformed XML from a sender holding the token: nothing to record
    if msgid is not None:
        with transaction():
            services.apply_template_receipt(str(msgid), message.status or "",
                                            openid=message.source or None)
    return "success", 200, {"Content-Type": "text/plain"}
