"""Responders' answers: one-tap signed links, SMS reply codes, answer changes.

A link token is `<responder>.<activation>.<volunteer>.<expiry>.<signature>`: the signature is
an HMAC-SHA256 (truncated to 128 bits) under a key derived from SECRET_KEY, over all four
values, so a forged or altered token is refused before the database is read, and the expiry
needs no settings lookup on the hot path. Short on purpose: it travels in an SMS.

Answering is the hot path of a call-out (hundreds of answers a second): one SELECT of the
responder with its activation, one UPDATE, one INSERT of the history row, and a re-plan of
assignments only when the answer can change them.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from flask import current_app, has_request_context, request
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    bindparam,
    exists,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.util import identity_key

from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import (
    Activation,
    ActivationRole,
    Responder,
    ResponseChange,
)
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed

ANSWER_CODES = ("coming", "cannot")
ANSWER_CHANNELS = ("link", "sms", "app")
MAX_ETA_MINUTES = 600
DEFAULT_SMS_ETA_MINUTES = 60
_KEY_PURPOSE = b"volunteer_hub.emergency.response-link"


class LinkRefused(DomainError):
    status = 403
    code = "EMERGENCY_LINK_INVALID"


# --- links ----------------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _keyed_hmac(secret: str | bytes) -> hmac.HMAC:
    """An HMAC primed with the link key derived from SECRET_KEY; copied for each token, so a
    fan-out of 100,000 links derives the key once."""
    secret = secret.encode() if isinstance(secret, str) else secret
    key = hmac.new(secret, _KEY_PURPOSE, hashlib.sha256).digest()
    return hmac.new(key, digestmod=hashlib.sha256)


def _signature(payload: str, secret: str | bytes | None = None) -> str:
    mac = _keyed_hmac(secret or current_app.config["SECRET_KEY"]).copy()
    mac.update(payload.encode())
    return base64.urlsafe_b64encode(mac.digest()[:16]).rstrip(b"=").decode()


def link_valid_hours(activation_id: int) -> int:
    """The activation's organization setting (nearest ancestor, then app config), read now:
    links are signed a batch at a time by a dispatcher that runs while settings change."""
    from volunteer_hub.emergency.settings import emergency_settings

    activation = db.session.get(Activation, activation_id)
    return int(emergency_settings(activation.org).link_valid_hours)


def response_token(responder: Responder, *, now: datetime | None = None,
                   valid_hours: int | None = None) -> str:
    """A signed token bound to this responder, activation and volunteer, expiring later."""
    if valid_hours is None:
        valid_hours = link_valid_hours(responder.activation_id)
    expires = int(((now or utcnow()) + timedelta(hours=valid_hours)).timestamp())
    payload = (f"{responder.id}.{responder.activation_id}.{responder.volunteer_id}."
               f"{_base36(expires)}")
    return f"{payload}.{_signature(payload)}"


def base_url() -> str:
    """The public address of the site, for links in messages sent from jobs too."""
    for key in ("EMERGENCY_BASE_URL", "PUBLIC_BASE_URL", "CERTIFICATE_BASE_URL"):
        configured = current_app.config.get(key)
        if configured:
            return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost"


def response_link(responder: Responder, *, now: datetime | None = None) -> str:
    """The absolute one-tap answer URL for this responder (no login needed)."""
    return f"{base_url()}/emergency/respond/{response_token(responder, now=now)}"


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


@dataclass(frozen=True)
class _TokenParts:
    responder_id: int
    activation_id: int
    volunteer_id: int
    expires: int


def _forged() -> LinkRefused:
    return LinkRefused(_l("This answer link is not valid. Use the link in your latest "
                          "message, or reply by SMS."))


def token_parts(token: str, secret: str | bytes) -> _TokenParts | None:
    """The link's values when its signature is good (its expiry is not checked), else None.

    Raises nothing and needs no app context: the WSGI fast lane calls it too."""
    if not token or len(token) > 200:
        return None
    parts = token.split(".")
    if len(parts) != 5:
        return None
    # Bytes: compare_digest refuses str holding non-ASCII, which a crafted URL can carry.
    signature = _signature(token.rpartition(".")[0], secret).encode()
    if not hmac.compare_digest(parts[4].encode(), signature):
        return None
    try:
        return _TokenParts(int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3], 36))
    except ValueError:
        return None


def _read_token(token: str) -> _TokenParts:
    # The refusal is built only when needed: good tokens are the hot path.
    parts = token_parts(token, current_app.config["SECRET_KEY"])
    if parts is None:
        raise _forged()
    return parts


def responder_from_token(token: str, *, activation_id: int | None = None,
                         now: datetime | None = None) -> Responder:
    """The responder a link belongs to, with its activation loaded; refuses clearly:
    forged or altered (403), for another activation (403), stood down (409), expired (403)."""
    return _responder_for(_read_token(token), activation_id=activation_id, now=now)


def _responder_for(parts: _TokenParts, *, activation_id: int | None = None,
                   now: datetime | None = None) -> Responder:
    """responder_from_token once the signature is checked."""
    if activation_id is not None and parts.activation_id != activation_id:
        raise LinkRefused(_l("This answer link belongs to another call-out."),
                          code="EMERGENCY_LINK_WRONG_ACTIVATION")
    responder = db.session.execute(
        select(Responder).options(joinedload(Responder.activation), joinedload(Responder.role))
        .where(Responder.id == parts.responder_id)).scalar_one_or_none()
    if responder is None or responder.activation_id != parts.activation_id or \
            responder.volunteer_id != parts.volunteer_id:
        raise _forged()
    require_active(responder.activation)
    if (now or utcnow()).timestamp() > parts.expires:
        raise LinkRefused(_l("This answer link has expired. Reply by SMS or log in to answer."),
                          code="EMERGENCY_LINK_EXPIRED")
    return responder


def require_active(activation: Activation) -> None:
    if activation.status != "active":
        raise Conflict(_l("This call-out has been stood down."), code="EMERGENCY_STOOD_DOWN")


# --- answers --------------------------------------------------------------------------------

def validate_answer(answer: str, eta_minutes: int | None) -> int | None:
    """The ETA to store for this answer; raises a field error for a bad answer or ETA."""
    if answer not in ANSWER_CODES:
        raise ValidationFailed(_l("Answer 'coming' or 'cannot'."), code="EMERGENCY_ANSWER",
                               field="answer")
    if answer == "cannot":
        return None
    if eta_minutes is None or isinstance(eta_minutes, bool) or \
            not isinstance(eta_minutes, int) or not 0 <= eta_minutes <= MAX_ETA_MINUTES:
        raise ValidationFailed(
            _l("Say in how many minutes you can be there (0 to %(max)d).", max=MAX_ETA_MINUTES),
            code="EMERGENCY_ETA", field="eta_minutes")
    return eta_minutes


def answer(responder: Responder, answer: str, eta_minutes: int | None = None, *,
           channel: str, now: datetime | None = None) -> Responder:
    """Record (or change) a responder's answer; 'cannot' frees their seat for a re-plan."""
    require_active(responder.activation)
    eta = validate_answer(answer, eta_minutes)
    if channel not in ANSWER_CHANNELS:
        raise ValidationFailed(_l("Unknown channel."), field="channel")
    moment = now or utcnow()
    had_seat = responder.role_id is not None
    responder.answer = answer
    responder.eta_minutes = eta
    responder.answered_at = moment
    responder.answer_channel = channel
    if responder.first_answered_at is None:
        responder.first_answered_at = moment
    if answer == "cannot":
        responder.role_id = None
        responder.assembly_point = None
        responder.assigned_at = None
    db.session.add(ResponseChange(responder_id=responder.id, answer=answer, eta_minutes=eta,
                                  channel=channel, at=moment))
    db.session.flush()
    if _needs_replan(responder, had_seat):
        from volunteer_hub.emergency.assignment import replan

        replan(responder.activation)
    return responder


# --- the one-tap hot path: token check, one UPDATE, one INSERT ----------------------------------

_responders = Responder.__table__
_RETURNED = (_responders.c.id, _responders.c.activation_id, _responders.c.user_id,
             _responders.c.answer, _responders.c.eta_minutes, _responders.c.answered_at,
             _responders.c.answer_channel, _responders.c.role_id, _responders.c.assembly_point,
             _responders.c.arrived_at, _responders.c.checked_out_at,
             _responders.c.safe_confirmed_at)


def answer_by_token(token: str, answer: str, eta_minutes: int | None = None, *,
                    channel: str = "link", now: datetime | None = None):
    """Answer through a one-tap link without loading the ORM objects.

    Returns the responder's updated row (attributes as on Responder), or the Responder itself
    when it holds a seat or was just given one (its view needs the role and activation).
    Refuses exactly as responder_from_token and answer() do, in the same order; the token is
    read once."""
    parts = _read_token(token)
    try:
        eta = validate_answer(answer, eta_minutes)
    except ValidationFailed:
        _responder_for(parts)  # a dead link is refused before a bad answer
        raise
    moment = now or utcnow()
    written = None
    if moment.timestamp() <= parts.expires:
        written = write_answer(db.session, parts, answer, eta, channel, moment)
    if written is None:
        _responder_for(parts, now=moment)  # says why: expired, stood down, another's link
        raise _forged()
    row, replan_needed = written
    _forget_loaded(row.id)
    if replan_needed:
        from volunteer_hub.emergency.assignment import replan

        replan(db.session.get(Activation, parts.activation_id))
    if replan_needed or row.role_id is not None:
        return db.session.get(Responder, row.id)
    return row


def write_answer(executor, parts: _TokenParts, answer: str, eta: int | None, channel: str,
                 moment: datetime):
    """The answer's UPDATE and its history row, through a Session or a Core Connection.

    Returns (updated row, whether a re-plan is needed), or None when the link may not answer
    (another person's, or the call-out is not active): nothing is written then."""
    had_seat = answer == "cannot" and _seat_of(executor, parts) is not None
    row = executor.execute(_answer_statement(answer), {
        "b_responder_id": parts.responder_id, "b_activation_id": parts.activation_id,
        "b_volunteer_id": parts.volunteer_id, "new_answer": answer, "new_eta": eta,
        "new_channel": channel, "moment": moment}).first()
    if row is None:
        return None
    executor.execute(_history_insert(), {"responder_id": row.id, "answer": answer,
                                         "eta_minutes": eta, "channel": channel, "at": moment})
    replan_needed = had_seat if answer == "cannot" else _open_seat_for(executor, row)
    return row, replan_needed


def locale_of(user_id: int) -> str | None:
    """The language a responder's messages and pages speak."""
    from volunteer_hub.accounts.models import User

    return db.session.execute(select(User.locale).where(User.id == user_id)).scalar()


def _open_seat_for(executor, row) -> bool:
    """Whether a re-plan could seat this coming responder. PostgreSQL answered it in the
    UPDATE's RETURNING; SQLite (3.40) evaluates that subquery wrongly there, so it asks apart."""
    dialect = executor.dialect if hasattr(executor, "dialect") else executor.get_bind().dialect
    if dialect.name == "postgresql":
        return bool(row.open_seat)
    return row.role_id is None and has_open_seat(row.activation_id, executor)


def _forget_loaded(responder_id: int) -> None:
    """A Responder this session loaded before the UPDATE is stale: reload it when next read
    (a re-plan must see the new answer)."""
    loaded = db.session.identity_map.get(identity_key(Responder, responder_id))
    if loaded is not None:
        db.session.expire(loaded)


def _seat_of(executor, parts: _TokenParts) -> int | None:
    """The role a responder holds now, locked until the answer is written (PostgreSQL)."""
    return executor.execute(
        select(_responders.c.role_id).where(_responders.c.id == parts.responder_id)
        .with_for_update()).scalar_one_or_none()


@lru_cache(maxsize=2)
def _answer_statement(answer: str):
    """Built once per answer code: building it costs more CPU than running it."""
    activations = Activation.__table__
    activation_id = bindparam("b_activation_id")
    moment = bindparam("moment", type_=_responders.c.answered_at.type)
    values = {"answer": bindparam("new_answer"), "eta_minutes": bindparam("new_eta"),
              "answered_at": moment, "answer_channel": bindparam("new_channel"),
              "first_answered_at": func.coalesce(_responders.c.first_answered_at, moment)}
    if answer == "cannot":
        values.update(role_id=None, assembly_point=None, assigned_at=None)
        open_seat = literal(False)
    else:
        # Whether a re-plan could seat this person, asked in the same statement: only an
        # unseated 'coming' can take an open seat.
        open_seat = literal_column(_OPEN_SEAT_FOR_NEWCOMER, Boolean)
    return (update(_responders).values(values)
            .where(_responders.c.id == bindparam("b_responder_id"),
                   _responders.c.activation_id == activation_id,
                   _responders.c.volunteer_id == bindparam("b_volunteer_id"),
                   exists().where(activations.c.id == activation_id,
                                  activations.c.status == "active"))
            .returning(*_RETURNED, open_seat.label("open_seat")))


# Written out because SQLite's RETURNING drops table names from generated columns, which
# would make the counted `seated.role_id = open_role.id` ambiguous.
_OPEN_SEAT_FOR_NEWCOMER = (
    "(emergency_responders.role_id IS NULL AND EXISTS (SELECT 1 FROM "
    "emergency_activation_roles AS open_role WHERE open_role.activation_id = "
    "emergency_responders.activation_id AND open_role.needed > (SELECT count(*) FROM "
    "emergency_responders AS seated WHERE seated.role_id = open_role.id)))")


@lru_cache(maxsize=1)
def _history_insert():
    return insert(ResponseChange.__table__)


def _needs_replan(responder: Responder, had_seat: bool) -> bool:
    """A freed seat always; a new 'coming' without a seat only while some role is short."""
    if responder.answer == "cannot":
        return had_seat
    return responder.role_id is None and has_open_seat(responder.activation_id)


def has_open_seat(activation_id: int, executor=None) -> bool:
    """Whether some role of the activation has fewer people assigned than it needs."""
    assigned = (select(func.count(Responder.id))
                .where(Responder.role_id == ActivationRole.id).scalar_subquery())
    return (executor or db.session).execute(
        select(ActivationRole.id).where(ActivationRole.activation_id == activation_id,
                                        ActivationRole.needed > assigned).limit(1)
    ).first() is not None


def history(responder: Responder) -> list[ResponseChange]:
    return list(db.session.execute(
        select(ResponseChange).where(ResponseChange.responder_id == responder.id)
        .order_by(ResponseChange.at, ResponseChange.id)).scalars())


# --- the volunteer's own call-outs ("My alerts") --------------------------------------------

def my_responders(user, *, active_only: bool = False):
    """The caller's call-outs, newest first."""
    query = (select(Responder).join(Activation, Responder.activation_id == Activation.id)
             .options(joinedload(Responder.activation), joinedload(Responder.role))
             .where(Responder.user_id == user.id)
             .order_by(Activation.activated_at.desc(), Responder.id.desc()))
    if active_only:
        query = query.where(Activation.status == "active")
    return query


def get_my_responder(responder_id: int, *, by) -> Responder:
    """One of the caller's own call-outs (404 for anyone else's)."""
    responder = db.session.get(Responder, responder_id)
    if responder is None or by is None or responder.user_id != by.id:
        raise NotFound()
    return responder


# --- SMS replies ----------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s,;:、，。．；：/\\-]+")
_MINUTE_WORDS = re.compile(r"(分钟|分|mins?|minutes?|m)$", re.IGNORECASE)


@dataclass(frozen=True)
class SmsAnswer:
    answer: str
    eta_minutes: int | None
    eta_given: bool


def parse_sms_reply(text: str) -> SmsAnswer | None:
    """Read "1 30" (coming, 30 minutes), "1" (coming, ETA not given) or "2" (cannot).

    Full-width digits and Chinese separators are accepted ("１，３０分钟"); "2" may be
    followed by a reason in words. Anything else, or an ETA above 600 minutes, is None.
    """
    normalized = unicodedata.normalize("NFKC", text or "").strip().lower()
    tokens = [t for t in _SEPARATORS.split(normalized) if t]
    if not tokens:
        return None
    code, rest = tokens[0], tokens[1:]
    if code == "2":
        if any(t.isdecimal() for t in rest):
            return None
        return SmsAnswer("cannot", None, False)
    if code != "1":
        return None
    if not rest:
        return SmsAnswer("coming", None, False)
    if len(rest) > 1 and not (len(rest) == 2 and _MINUTE_WORDS.fullmatch(rest[1])):
        return None
    minutes = _MINUTE_WORDS.sub("", rest[0])
    if not minutes.isdecimal() or int(minutes) > MAX_ETA_MINUTES:
        return None
    return SmsAnswer("coming", int(minutes), True)


def latest_active_responder(user_id: int) -> Responder | None:
    """The person's responder row in their most recent active call-out; a real incident
    before any drill, so a reply never lands in a drill while an incident runs."""
    return db.session.execute(
        select(Responder).join(Activation, Responder.activation_id == Activation.id)
        .options(joinedload(Responder.activation))
        .where(Responder.user_id == user_id, Activation.status == "active")
        .order_by(Activation.is_drill, Activation.activated_at.desc(), Activation.id.desc())
        .limit(1)
    ).scalar_one_or_none()


# An answer this long after a stand-down is no longer about that call-out.
STOOD_DOWN_REPLY_HOURS = 24


def _stood_down_reply(inbound) -> str | None:
    """Tell someone answering a call-out that has just been stood down that it is over,
    rather than leaving them waiting; other texts are left to other handlers."""
    if parse_sms_reply(inbound.text) is None:
        return None
    since = utcnow() - timedelta(hours=STOOD_DOWN_REPLY_HOURS)
    recent = db.session.execute(
        select(Activation.id).join(Responder, Responder.activation_id == Activation.id)
        .where(Responder.user_id == inbound.user_id, Activation.status == "stood_down",
               Activation.stood_down_at >= since).limit(1)).first()
    if recent is None:
        return None
    from volunteer_hub.accounts.models import User

    user = db.session.get(User, inbound.user_id)
    with force_locale((user.locale if user else None) or "zh_Hans"):
        return gettext("This call-out has been stood down: no answer is needed. Thank you.")


def sms_help_text() -> str:
    return gettext("Reply 1 and your minutes to arrive if you are coming (e.g. \"1 30\"), "
                   "or 2 if you cannot come.")


def handle_sms_reply(inbound) -> str | None:
    """Notify's inbound handler: answers for people in an active call-out, else None."""
    if inbound.user_id is None:
        return None
    responder = latest_active_responder(inbound.user_id)
    if responder is None:
        return _stood_down_reply(inbound)
    from volunteer_hub.accounts.models import User

    user = db.session.get(User, inbound.user_id)
    with force_locale((user.locale if user else None) or "zh_Hans"):
        marker = gettext("DRILL: ") if responder.activation.is_drill else ""
        parsed = parse_sms_reply(inbound.text)
        if parsed is None:
            return marker + sms_help_text()
        eta = parsed.eta_minutes
        if parsed.answer == "coming" and not parsed.eta_given:
            eta = responder.eta_minutes if responder.answer == "coming" and \
                responder.eta_minutes is not None else _default_sms_eta()
        answer(responder, parsed.answer, eta, channel="sms", now=_aware(inbound.received_at))
        return marker + _confirmation(responder, parsed.eta_given)


def _default_sms_eta() -> int:
    return int(current_app.config.get("EMERGENCY_DEFAULT_SMS_ETA_MINUTES",
                                      DEFAULT_SMS_ETA_MINUTES))


def _aware(moment: datetime | None) -> datetime | None:

    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _confirmation(responder: Responder, eta_given: bool) -> str:
    if responder.answer == "cannot":
        return gettext("Recorded: you cannot come. Thank you. Reply 1 and your minutes if "
                       "that changes.")
    if eta_given:
        return gettext("Recorded: you are coming, there in %(eta)d minutes. Reply 2 if you "
                       "cannot come after all.", eta=responder.eta_minutes)
    return gettext("Recorded: you are coming (we assumed %(eta)d minutes). Reply 1 and your "
                   "minutes, e.g. \"1 20\", to correct the time.", eta=responder.eta_minutes)


def register() -> None:
    from volunteer_hub.emergency.activation import answer_tokens
    from volunteer_hub.notify.fanout import register_link_maker
    from volunteer_hub.notify.services import register_inbound_handler

    register_inbound_handler("emergency", handle_sms_reply)
    register_link_maker("emergency:", answer_tokens)


register()
