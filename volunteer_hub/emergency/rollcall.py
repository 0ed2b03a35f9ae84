"""Roll call at the assembly point, check-out and safety: accounting for every responder.

Arrival is proven by scanning the rotating QR code on the coordinator's phone (a token signed
with the app's secret, a new one each minute, valid a few minutes, bound to the activation),
or the coordinator marks the person arrived. At the end every responder who held a role or
turned up must be checked out and confirmed safe: `unaccounted` lists who is not.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from volunteer_hub.accounts.permissions import can, require
from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import Activation, Responder
from volunteer_hub.emergency.responses import answer, require_active
from volunteer_hub.errors import Conflict, Forbidden, NotFound, ValidationFailed

DEFAULT_ARRIVAL_VALID_MINUTES = 5


class _Signer(TimestampSigner):
    def __init__(self, now: datetime):
        super().__init__(current_app.config["SECRET_KEY"], salt="volunteer_hub.emergency.arrival")
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def arrival_valid_minutes() -> int:
    return int(current_app.config.get("EMERGENCY_ARRIVAL_QR_VALID_MINUTES",
                                      DEFAULT_ARRIVAL_VALID_MINUTES))


def arrival_token(activation: Activation, *, by=None, now: datetime | None = None) -> str:
    """The token for the coordinator's QR code; the page fetches a new one every minute."""
    if by is not None:
        require(by, "emergency.activate", activation.org, hide=True)
    require_active(activation)
    return _Signer(now or utcnow()).sign(str(activation.id)).decode()


def arrival_url(activation: Activation, token: str) -> str:
    from volunteer_hub.emergency.responses import base_url

    return f"{base_url()}/emergency/activations/{activation.id}/arrive?t={token}"


def _check_arrival_token(activation: Activation, token: str, now: datetime) -> None:
    try:
        payload = _Signer(now).unsign(token or "", max_age=arrival_valid_minutes() * 60)
    except SignatureExpired:
        raise ValidationFailed(_l("This QR code has expired: scan the one on the "
                                  "coordinator's screen now."), code="EMERGENCY_QR_EXPIRED",
                               field="t") from None
    except BadSignature:
        raise ValidationFailed(_l("This is not a valid arrival QR code."),
                               code="EMERGENCY_QR_INVALID", field="t") from None
    if payload.decode() != str(activation.id):
        raise ValidationFailed(_l("This QR code belongs to another call-out."),
                               code="EMERGENCY_QR_WRONG_ACTIVATION", field="t")


def get_activation(activation_id: int) -> Activation:
    activation = db.session.get(Activation, activation_id)
    if activation is None:
        raise NotFound()
    return activation


def own_responder(activation: Activation, user) -> Responder:
    """The caller's responder row in this activation (404 if they were not called)."""
    responder = None
    if user is not None:
        responder = db.session.execute(select(Responder).where(
            Responder.activation_id == activation.id,
            Responder.user_id == user.id)).scalar_one_or_none()
    if responder is None:
        raise NotFound(_l("You were not called out for this."))
    return responder


def arrive_by_qr(activation: Activation, token: str, *, by,
                 now: datetime | None = None) -> Responder:
    """The volunteer scanned the coordinator's code: they are at the assembly point."""
    moment = now or utcnow()
    require_active(activation)
    _check_arrival_token(activation, token, moment)
    responder = own_responder(activation, by)
    return _arrive(responder, "qr", moment)


def mark_arrived(activation: Activation, responder_id: int, *, by,
                 now: datetime | None = None) -> Responder:
    """The coordinator saw the person arrive."""
    require(by, "emergency.activate", activation.org, hide=True)
    require_active(activation)
    return _arrive(responder_in(activation, responder_id), "marked", now or utcnow())


def _arrive(responder: Responder, method: str, moment: datetime) -> Responder:
    if responder.arrived_at is not None:
        return responder  # a second scan changes nothing
    if responder.answer != "coming":
        # Someone who turns up is coming, whatever they answered before (or never did).
        answer(responder, "coming", 0, channel="app", now=moment)
    responder.arrived_at = moment
    responder.arrival_method = method
    db.session.flush()
    return responder


def responder_in(activation: Activation, responder_id: int) -> Responder:
    responder = db.session.get(Responder, responder_id)
    if responder is None or responder.activation_id != activation.id:
        raise NotFound()
    return responder


def _require_self_or_coordinator(responder: Responder, by) -> None:
    if by is None or by.id == responder.user_id:
        return
    if not can(by, "emergency.activate", responder.activation.org):
        raise Forbidden()


def check_out(responder: Responder, *, by, now: datetime | None = None) -> Responder:
    """The responder leaves (themselves or the coordinator); also after stand-down."""
    _require_self_or_coordinator(responder, by)
    if responder.arrived_at is None:
        raise Conflict(_l("Only a responder who arrived can check out."),
                       code="EMERGENCY_NOT_ARRIVED")
    if responder.checked_out_at is None:
        responder.checked_out_at = now or utcnow()
        db.session.flush()
    return responder


def confirm_safe(responder: Responder, *, by, now: datetime | None = None) -> Responder:
    """Record that the responder is safe (the coordinator, or the person themselves)."""
    _require_self_or_coordinator(responder, by)
    if responder.safe_confirmed_at is None:
        responder.safe_confirmed_at = now or utcnow()
        responder.safe_confirmed_by_id = by.id if by else None
        db.session.flush()
    return responder


@dataclass(frozen=True)
class Unaccounted:
    responder: Responder
    missing: tuple[str, ...]  # "safe", "checked_out"


def deployed_query(activation: Activation):
    """Responders who held a role or arrived: the people to account for."""
    return (select(Responder).options(joinedload(Responder.volunteer), joinedload(Responder.role))
            .where(Responder.activation_id == activation.id,
                   or_(Responder.role_id.isnot(None), Responder.arrived_at.isnot(None)))
            .order_by(Responder.id))


def unaccounted(activation: Activation) -> list[Unaccounted]:
    """Every deployed responder not yet both confirmed safe and checked out."""
    missing = []
    for responder in db.session.execute(deployed_query(activation)).unique().scalars():
        gaps = tuple(name for name, done in (("safe", responder.safe_confirmed_at),
                                             ("checked_out", responder.checked_out_at))
                     if done is None)
        if gaps:
            missing.append(Unaccounted(responder, gaps))
    return missing


def roll_call(activation: Activation, *, by) -> list[Responder]:
    """Everyone coming or deployed, for the coordinator's roll-call page."""
    require(by, "emergency.read", activation.org, hide=True)
    return list(db.session.execute(
        select(Responder).options(joinedload(Responder.volunteer), joinedload(Responder.role))
        .where(Responder.activation_id == activation.id,
               or_(Responder.answer == "coming", Responder.role_id.isnot(None),
                   Responder.arrived_at.isnot(None)))
        .order_by(Responder.role_id.is_(None), Responder.role_id, Responder.id)
    ).unique().scalars())
