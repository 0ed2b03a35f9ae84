"""Idempotency keys for retried writes (API.md): same key and body -> the first response."""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable

from flask import Response, make_response, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from volunteer_hub.db import db
from volunteer_hub.errors import Conflict

HEADER = "Idempotency-Key"


def _scope() -> str:
    from volunteer_hub.accounts.auth import bearer_user

    user = bearer_user()
    return f"user:{user.id}" if user else f"anon:{request.remote_addr}"


def _request_hash() -> str:
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
        where, digest = (scope and scope()) or _scope(), _request_hash()
        stored = db.session.execute(
            db.select(IdempotencyRecord).filter_by(scope=where, key=key[:255])
        ).scalar_one_or_none()
        if stored is not None:
            return _replay(stored, digest)
        response = make_response(view(*args, **kwargs))
        if response.status_code < 500:
            _store(where, key[:255], digest, response)
        return response

    return wrapper


def _replay(stored, digest: str) -> Response:
    if stored.request_hash != digest or stored.path != request.path:
        raise Conflict(
            _l("This Idempotency-Key was already used with a different request."),
            code="IDEMPOTENCY_KEY_REUSED",
        )
    response = Response(stored.body, status=stored.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def _store(scope: str, key: str, digest: str, response: Response) -> None:
    from volunteer_hub.accounts.models import IdempotencyRecord

    record = IdempotencyRecord(
        scope=scope, key=key, method=request.method, path=request.path,
        request_hash=digest, status=response.status_code,
        body=response.get_data(as_text=True),
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
        db.session.commit()
    except IntegrityError:  # a concurrent retry stored it first; its response stands
        db.session.rollback()
