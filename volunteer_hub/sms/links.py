"""Short links for templated messages: `<site>/s/<code>` opens one outbox message's link.

Providers accept a link only as fixed text in an approved template, and a variable of at
most 20 to 35 letters and digits. The code is the message's outbox id in base 36 followed
by eight characters of an HMAC of it under a key derived from SECRET_KEY, so nothing is
stored: the short link opens whatever link the message itself carries (for a call-out, the
person's one-tap answer link, made as the message is sent or shown: the same each time).
"""
from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app

SIGNATURE_CHARS = 8
_PURPOSE = b"volunteer_hub.sms.short-link"
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def link_secret(app=None) -> bytes:
    secret = (app or current_app).config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, _PURPOSE, hashlib.sha256).digest()


def _signature(number: str, secret: bytes) -> str:
    digest = hmac.new(secret, number.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:SIGNATURE_CHARS]


def _base36(number: int) -> str:
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = _DIGITS[rest] + text
        if not number:
            return text


def short_code(message_id: int, secret: bytes) -> str:
    """Letters and digits only, as providers require of a variable (13 characters for the
    first billion messages)."""
    number = _base36(int(message_id))
    return number + _signature(number, secret)


def message_id_of(code: str, secret: bytes) -> int | None:
    """The outbox id a code names, or None when it is not one of ours."""
    code = (code or "").lower()
    number, signature = code[:-SIGNATURE_CHARS], code[-SIGNATURE_CHARS:]
    if not number or len(code) > 24 or any(c not in _DIGITS for c in number):
        return None
    if not hmac.compare_digest(signature.encode(), _signature(number, secret).encode()):
        return None
    return int(number, 36)
