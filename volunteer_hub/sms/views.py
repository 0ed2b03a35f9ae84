"""Short links and the SMS providers' callbacks.

GET /s/<code>: the short link of a templated message (sms.links) opens the message's own
link (a call-out's one-tap answer page), else the inbox.

Callbacks: Alibaba Cloud and Tencent Cloud push delivery reports and replies (上行) as JSON
to a URL configured in their consoles. They cannot carry our bearer token nor sign with a
key of ours, so the URL holds a shared secret (SMS_CALLBACK_SECRET), compared in constant
time; each answers in the form its provider expects, or the provider pushes again:

    POST /sms/callbacks/aliyun/<secret>/report   SmsReport: [{"biz_id", "out_id",
         "phone_number", "success", "err_code", ...}]  -> {"code": 0, "msg": "成功"}
    POST /sms/callbacks/aliyun/<secret>/reply    SmsUp: [{"phone_number", "content",
         "send_time", "sequence_id", ...}]           -> {"code": 0, "msg": "成功"}
    POST /sms/callbacks/tencent/<secret>/status  [{"mobile", "report_status", "sid",
         "errmsg", ...}]                            -> {"result": 0, "errmsg": "OK"}
    POST /sms/callbacks/tencent/<secret>/reply   {"mobile", "nationcode", "text", "time",
         ...} (or a list of them)                   -> {"result": 0, "errmsg": "OK"}

Reports go to notify.services.apply_receipt (delivered / failed, then the fallback),
replies to notify.services.receive_sms (the reply codes of a call-out, "1 30" / "2").
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, jsonify, redirect, request, url_for

from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import csrf, limiter
from volunteer_hub.sms.links import link_secret, message_id_of
from volunteer_hub.sms.providers import phone_tag, provider_text

log = logging.getLogger(__name__)
blp = Blueprint("sms", __name__)


def check_settings(app) -> None:
    """A misspelt SMS_PROVIDER or an unusable callback secret stops the start (called by
    create_app before anything is registered), not every later message."""
    from volunteer_hub.sms.settings import provider

    provider(app)
    secret = app.config.get("SMS_CALLBACK_SECRET") or ""
    if "/" in secret:  # one path segment: a slash would make every callback a silent 401
        raise ValueError("SMS_CALLBACK_SECRET must not contain '/': use letters and digits")


SHANGHAI = ZoneInfo("Asia/Shanghai")
ALIYUN_OK = {"code": 0, "msg": "成功"}
TENCENT_OK = {"result": 0, "errmsg": "OK"}
_URL = re.compile(r"https?://[^\s<>\"'，。）)]+")


def short_link_limit() -> str:
    return current_app.config.get("SMS_SHORT_LINK_RATE_LIMIT") or "600/minute"


# --- short links ------------------------------------------------------------------------------

@blp.route("/s/<code>")
@limiter.limit(short_link_limit)
def short_link(code: str):
    from volunteer_hub.notify import fanout
    from volunteer_hub.notify.models import OutboxMessage

    message_id = message_id_of(code, link_secret())
    message = db.session.get(OutboxMessage, message_id) if message_id is not None else None
    if message is None:
        abort(404)
    shown = fanout.render([message])[0]
    target = shown.link or _first_link(shown.body)
    return redirect(target or url_for("needs.inbox"), code=303)


def _first_link(text: str) -> str | None:
    """The first link of the message to our own site: a text may quote other addresses
    (a coordinator's note), and a short link of ours must not lead elsewhere."""
    from volunteer_hub.emergency.responses import base_url

    ours = urlsplit(base_url())
    for found in _URL.finditer(text or ""):
        parts = urlsplit(found.group(0))
        if (parts.scheme, parts.netloc) == (ours.scheme, ours.netloc):
            return found.group(0)
    return None


# --- callbacks --------------------------------------------------------------------------------

def _check_secret(given: str) -> None:
    expected = current_app.config.get("SMS_CALLBACK_SECRET") or ""
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(401)


def _items() -> list[dict]:
    body = request.get_json(silent=True)
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        abort(400)
    return body


def _receipt(status: str, *, provider_message_id: str | None, key: str | None,
             error: str | None) -> bool:
    """Apply one report; an unknown message (a report for another system) is skipped."""
    from volunteer_hub.notify import services

    try:
        with db.session.begin_nested():
            services.apply_receipt(status=status, provider_message_id=provider_message_id,
                                   key=key, error=error)
        return True
    except DomainError as refused:
        log.info("sms: report skipped: %s", refused)
        return False


def _reply(*, phone: str, text: str, provider_message_id: str,
           received_at: datetime | None) -> None:
    from volunteer_hub.notify import services

    services.receive_sms(from_phone=phone, text=text, provider_message_id=provider_message_id,
                         received_at=received_at)


# An outbox id fits a signed 64-bit column: a longer number is no key of ours.
_OUR_KEY_DIGITS = 18


def _our_key(out_id) -> str | None:
    """The OutId when it is one of our messages' keys ("<prefix><outbox id>"): systems that
    share the provider account set their own (an order number "17" is not our message 17,
    and a 25-digit one must not fail the whole push)."""
    from volunteer_hub.notify import services

    prefix = services.settings().idempotency_prefix
    text = str(out_id or "")
    number = text[len(prefix):] if prefix and text.startswith(prefix) else ""
    if not (number.isascii() and number.isdigit()) or len(number) > _OUR_KEY_DIGITS:
        return None
    return text


def _inbound_id(provider: str, *parts) -> str:
    """An inbound message's id for de-duplication, without the number in clear."""
    digest = hmac.new(link_secret(), "|".join(map(str, parts)).encode(), hashlib.sha256)
    return f"{provider}-up:{digest.hexdigest()[:32]}"


def _shanghai_time(text) -> datetime | None:
    """A provider's Beijing time, in UTC (None when unreadable or not a real moment, e.g.
    year 1, which has no UTC value)."""
    try:
        return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=SHANGHAI).astimezone(timezone.utc)
    except (TypeError, ValueError, OverflowError):
        return None


@blp.route("/sms/callbacks/aliyun/<secret>/report", methods=["POST"])
@csrf.exempt
def aliyun_report(secret: str):
    _check_secret(secret)
    items = _items()
    with transaction():
        for item in items:
            phone = str(item.get("phone_number") or "")
            biz_id = str(item.get("biz_id") or "")
            _receipt("delivered" if item.get("success") in (True, "true") else "failed",
                     provider_message_id=f"{biz_id}:{phone_tag(phone, link_secret())}"
                     if biz_id and phone else None,
                     key=_our_key(item.get("out_id")),
                     error=provider_text(f"{item.get('err_code')}: {item.get('err_msg')}"))
    return jsonify(ALIYUN_OK)


@blp.route("/sms/callbacks/aliyun/<secret>/reply", methods=["POST"])
@csrf.exempt
def aliyun_reply(secret: str):
    _check_secret(secret)
    items = _items()
    with transaction():
        for item in items:
            phone, text = str(item.get("phone_number") or ""), str(item.get("content") or "")
            if not phone or not text:
                continue
            _reply(phone=phone, text=text, received_at=_shanghai_time(item.get("send_time")),
                   provider_message_id=_inbound_id("aliyun", item.get("sequence_id"), phone,
                                                   item.get("send_time"), text))
    return jsonify(ALIYUN_OK)


@blp.route("/sms/callbacks/tencent/<secret>/status", methods=["POST"])
@csrf.exempt
def tencent_status(secret: str):
    _check_secret(secret)
    items = _items()
    with transaction():
        for item in items:
            sid = str(item.get("sid") or "")
            if not sid:
                continue
            delivered = str(item.get("report_status", "")).upper() == "SUCCESS"
            _receipt("delivered" if delivered else "failed", provider_message_id=sid,
                     key=None,
                     error=provider_text(f"{item.get('errmsg')}: {item.get('description')}"))
    return jsonify(TENCENT_OK)


@blp.route("/sms/callbacks/tencent/<secret>/reply", methods=["POST"])
@csrf.exempt
def tencent_reply(secret: str):
    _check_secret(secret)
    items = _items()
    with transaction():
        for item in items:
            mobile, text = str(item.get("mobile") or ""), str(item.get("text") or "")
            if not mobile or not text:
                continue
            nation = str(item.get("nationcode") or "86")
            phone = mobile if nation == "86" else f"+{nation}{mobile}"
            received = _epoch(item.get("time"))
            _reply(phone=phone, text=text, received_at=received,
                   provider_message_id=_inbound_id("tencent", phone, item.get("time"), text))
    return jsonify(TENCENT_OK)


def _epoch(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None
