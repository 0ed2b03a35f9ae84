"""Idempotency keys for retried writes (API.md): same key and body -> the first response.

The stored response is encrypted with the app's data key: a write's reply may hold
personal data (a beneficiary's name and phone) that must never rest in clear.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable
from copy import deepcopy

from flask import Response, current_app, make_response, request
from flask_babel import gettext, lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from volunteer_hub.db import db
from volunteer_hub.errors import Conflict, ValidationFailed
from volunteer_hub.openapi import IDEMPOTENCY_MARK
from volunteer_hub.security import decrypt, encrypt

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255  # the column's length: a longer key is refused, never cut


def _scope() -> str:
    from volunteer_hub.accounts.auth import bearer_user

    user = bearer_user()
    return f"user:{user.id}" if user else f"anon:{request.remote_addr}"


def _request_hash() -> str:
    """Keyed: a body may hold a password (closing an account), and a plain digest of a
    guessable body kept for days would give it away to whoever reads the table."""
    key = b"idempotency:" + current_app.config["ID_HASH_KEY"].encode()
    return hmac.new(key, request.get_data() or b"", hashlib.sha256).hexdigest()


def _unkeyed_request_hash() -> str:
    """How records stored before 2026-12 digested the body (kept for their replay window)."""
    return hashlib.sha256(request.get_data() or b"").hexdigest()


def idempotent(view=None, *, scope: Callable[[], str | None] | None = None):
    """Replay the stored response for a repeated key; 409 if the body differs.

    Keys live in a scope: the bearer user, else the client address. `scope` may name a
    better one for anonymous callers holding a capability (a one-tap link: a phone that
    retries after moving from Wi-Fi to mobile data has a new address); None from it falls
    back to the default."""
    if view is None:
        return functools.partial(idempotent, scope=scope)

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from volunteer_hub.accounts.models import IdempotencyRecord

        key = request.headers.get(HEADER)
        if not key:
            return view(*args, **kwargs)
        _check_key(key)
        where, digest = (scope and scope()) or _scope(), _request_hash()
        stored = db.session.execute(
            db.select(IdempotencyRecord).filter_by(scope=where, key=key)
        ).scalar_one_or_none()
        if stored is not None:
            return _replay(stored, digest)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 500:
            _store(where, key, digest, response)
        return response

    wrapper._apidoc = deepcopy(getattr(wrapper, "_apidoc", {}))  # documents the header
    wrapper._apidoc.setdefault("manual_doc", {})[IDEMPOTENCY_MARK] = True
    return wrapper


def _check_key(key: str) -> None:
    if len(key) > MAX_KEY_LENGTH:
        message = gettext("Longer than maximum length {max}.").format(max=MAX_KEY_LENGTH)
        raise ValidationFailed(_l("Some fields are not valid: please correct them."),
                               errors={HEADER: [message]}, location="headers")


def _replay(stored, digest: str) -> Response:
    same_body = stored.request_hash in (digest, _unkeyed_request_hash())
    if not same_body or stored.path != request.path:
        raise Conflict(
            _l("This Idempotency-Key was already used with a different request."),
            code="IDEMPOTENCY_KEY_REUSED",
        )
    response = Response(_opened(stored.body), status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _store(scope: str, key: str, digest: str, response: Response) -> None:
    from volunteer_hub.accounts.models import IdempotencyRecord

    record = IdempotencyRecord(
        scope=scope, key=key, method=request.method, path=request.path,
        request_hash=digest, status=response.status_code,
        body=encrypt(response.get_data(as_text=True)),
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
        db.session.commit()
    except IntegrityError:  # a concurrent retry stored it first; its response stands
        db.session.rollback()


def _opened(body: str) -> str:
    """The stored reply; records written before encryption hold their JSON as is."""
    if body.startswith(("{", "[")) or not body:
        return body
    opened = decrypt(body)
    if opened is None:  # the data key changed since: the first reply cannot be given back
        raise Conflict(_l("The first response to this Idempotency-Key can no longer be read."),
                       code="IDEMPOTENCY_RECORD_UNREADABLE")
    return opened
