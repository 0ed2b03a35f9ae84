"""Authentication: session login for pages, bearer tokens for the API."""
from __future__ import annotations

import logging
from contextlib import contextmanager

from flask import current_app, request
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import OperationalError

from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.extensions import limiter, login_manager
from volunteer_hub.security import keyed_hash, token_digest

log = logging.getLogger(__name__)
TOUCH_LOCK_WAIT_MS = 100


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

        user = db.session.get(User, int(user_id))
        # a closed (or disabled) account ends its sessions on every device, not only this one
        return user if user is not None and user.active else None


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
    _require_current_consents(user)
    return user


# Reachable while a changed consent text waits for acceptance: reading and accepting it,
# the caller's own tokens and data, closing the account.
CONSENT_EXEMPT_BLUEPRINTS = frozenset({"privacy_api"})
CONSENT_EXEMPT_ENDPOINTS = frozenset({"accounts_api.Tokens", "accounts_api.TokenItem",
                                      "accounts_api.Me"})


def _require_current_consents(user) -> None:
    """403 CONSENT_REQUIRED until the person accepts a consent text that changed."""
    if request.environ.get("vh.consents_checked") == user.id:
        return
    endpoint = request.endpoint or ""
    if (endpoint not in CONSENT_EXEMPT_ENDPOINTS
            and endpoint.split(".", 1)[0] not in CONSENT_EXEMPT_BLUEPRINTS):
        from volunteer_hub.privacy.consents import require_consents

        require_consents(user)
    request.environ["vh.consents_checked"] = user.id


def touch_token(response):
    """Record when a token was last used, at most once a minute, after a good response.

    Best effort: the request's answer is decided (and its writes committed) by now, so a
    busy database must neither turn it into a 500 (a client retry would repeat the write)
    nor hold the answer back; a later request records the use instead."""
    record = request.environ.get("vh.api_token")
    if record is None or response.status_code >= 400:
        return response
    now = utcnow()
    last = record.last_used_at
    if last is None or (now - last.replace(tzinfo=now.tzinfo)).total_seconds() > 60:
        try:
            with _brief_lock_wait(db.session.connection()):
                db.session.execute(db.update(type(record)).where(type(record).id == record.id)
                                   .values(last_used_at=now))
            db.session.commit()
        except OperationalError as error:  # database is locked / lock timeout
            db.session.rollback()
            log.info("Token %s: last use not recorded (%s)", record.id, error.orig)
    return response


@contextmanager
def _brief_lock_wait(connection):
    """Wait at most TOUCH_LOCK_WAIT_MS for a lock, in this transaction only."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {TOUCH_LOCK_WAIT_MS}")
        yield
        return
    usual = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {TOUCH_LOCK_WAIT_MS}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(usual)}")


# --- login limits ------------------------------------------------------------------------------
# Both login routes (the page's form and POST /api/v1/tokens) share two buckets: one per
# client address, one per account. The second stops guesses spread over many addresses; the
# storage is RATELIMIT_STORAGE_URI (redis:// when several processes serve, see README).

def typed_login() -> str:
    """The login the request tries (form field or JSON body), '' when there is none or none
    that could name an account. The limits read it before the view validates anything, so
    JSON nested past the parser's depth or a lone surrogate must not fail here."""
    try:
        value = _login_field()
    except RecursionError:
        return ""
    if not isinstance(value, str) or not _is_utf8(value):
        return ""
    return value.strip()


def _login_field():
    if request.is_json:
        body = request.get_json(silent=True)
        return body.get("login") if isinstance(body, dict) else None
    return request.form.get("login")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def canonical_login(login: str) -> str:
    """Every spelling of one phone number (spaces, +86, full-width digits) gives one key;
    anything else (an e-mail address) counts case-insensitively."""
    from volunteer_hub.accounts.services import normalize_phone

    try:
        return normalize_phone(login)
    except ValidationFailed:
        return login.casefold()


def login_account_key() -> str:
    """The account's bucket, keyed-hashed: no phone number is written to the limit storage."""
    return "login-account:" + keyed_hash("login-limit:" + canonical_login(typed_login()))


def _no_login_typed() -> bool:
    return not typed_login()


def limit_logins(view):
    """Decorate a login view with the per-address and the per-account limit."""
    per_address = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"],
                                       scope="login-address", methods=["POST"])
    per_account = limiter.shared_limit(
        lambda: current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"], scope="login-account",
        key_func=login_account_key, exempt_when=_no_login_typed, methods=["POST"])
    return per_account(per_address(view))
