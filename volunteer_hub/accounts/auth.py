"""Authentication: session login for pages, bearer tokens for the API."""
from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import login_manager
from volunteer_hub.security import token_digest


class Unauthenticated(DomainError):
    status = 401
    code = "UNAUTHENTICATED"


def init_auth(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"

    app.after_request(touch_token)

    @login_manager.user_loader
    def load_user(user_id: str):
        from volunteer_hub.accounts.models import User

        return db.session.get(User, int(user_id))


def bearer_user():
    """The user behind the request's bearer token, or None."""
    if "vh.api_user" in request.environ:  # cached per request (tests share one app context)
        return request.environ["vh.api_user"]
    from volunteer_hub.accounts.models import ApiToken

    header = request.headers.get("Authorization", "")
    user = None
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
        record = db.session.execute(
            db.select(ApiToken).filter_by(digest=token_digest(token))
        ).scalar_one_or_none()
        if record and record.revoked_at is None and record.user.active:
            user = record.user
            request.environ["vh.api_token"] = record
    request.environ["vh.api_user"] = user
    return user


def api_user():
    """The authenticated API caller; raises 401 when there is none."""
    user = bearer_user()
    if user is None:
        raise Unauthenticated(_l("Send a valid token: Authorization: Bearer <token>."))
    return user


def touch_token(response):
    """Record when a token was last used, at most once a minute, after a good response."""
    record = request.environ.get("vh.api_token")
    if record is not None and response.status_code < 400:
        now = utcnow()
        last = record.last_used_at
        if last is None or (now - last.replace(tzinfo=now.tzinfo)).total_seconds() > 60:
            db.session.execute(db.update(type(record)).where(type(record).id == record.id)
                               .values(last_used_at=now))
            db.session.commit()
    return response
