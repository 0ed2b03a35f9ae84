"""Well-being roll call: checking on the vulnerable beneficiaries of the affected area.

A coordinator or organizer starts it for an activation (real or drill): one check per active
beneficiary in the area who lives alone in old age, has a disability or is a left-behind
child, each given to a coming responder (nearest first, evenly spread) or left to the
organizers. The assigned volunteer sees only the masked name and what a visit needs
(address, and the phone: a child's guardian's, never the child's), only for their own checks
and only while the call-out is active; every such read goes to the beneficiary access log
(PIPL Art. 55; an emergency is the lawful basis, Art. 13). The outcome note may describe
health, so it is stored encrypted.
"""
from __future__ import annotations

import math
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from volunteer_hub.accounts.permissions import can, require
from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import (
    Activation,
    ActivationEvent,
    Responder,
    WellbeingCheck,
)
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.matching.responders import haversine_km
from volunteer_hub.needs.models import Beneficiary
from volunteer_hub.orgs.models import Org
from volunteer_hub.security import decrypt, encrypt

CATEGORIES = ("elderly_alone", "disability", "left_behind_child")
OUTCOMES = ("safe", "needs_help", "unreachable")
MAX_NOTE_LENGTH = 1000


def _purpose(activation: Activation) -> str:
    """The access log's purpose; drill reads of real people's data must stay tellable apart."""
    kind = "drill" if activation.is_drill else "incident"
    return f"emergency:{activation.id}:wellbeing:{kind}"


def _is_staff(user, activation: Activation) -> bool:
    return can(user, "emergency.wellbeing", activation.org)


# --- starting and assigning -----------------------------------------------------------------

def start(activation: Activation, *, by, now: datetime | None = None) -> list[WellbeingCheck]:
    """Create the checks of the area (again: adds only newcomers) and give them out."""
    require(by, "emergency.wellbeing", activation.org, hide=True)
    if activation.status != "active":
        raise Conflict(_l("This call-out has been stood down."), code="EMERGENCY_STOOD_DOWN")
    existing = set(db.session.execute(select(WellbeingCheck.beneficiary_id).where(
        WellbeingCheck.activation_id == activation.id)).scalars())
    new = [WellbeingCheck(activation_id=activation.id, beneficiary_id=b.id, status="pending")
           for b in beneficiaries_in_area(activation) if b.id not in existing]
    db.session.add_all(new)
    db.session.add(ActivationEvent(activation_id=activation.id, kind="wellbeing_started",
                                   actor_id=by.id if by else None, at=now or utcnow(),
                                   detail={"count": len(new)}))
    db.session.flush()
    distribute(activation, new)
    return new


def beneficiaries_in_area(activation: Activation) -> list[Beneficiary]:
    """Active vulnerable beneficiaries in the activation's area and the org's subtree.

    Within the radius of the incident when there is one (by the approximate location; a
    person without one is included rather than missed), else in the area org's subtree."""
    area = db.session.get(Org, activation.area_org_id) if activation.area_org_id else None
    path = (area or activation.org).path
    people = list(db.session.execute(
        select(Beneficiary).where(Beneficiary.active.is_(True),
                                  Beneficiary.category.in_(CATEGORIES),
                                  Beneficiary.org_path.startswith(path, autoescape=True))
        .order_by(Beneficiary.id)).scalars())
    if area is None and activation.radius_km and activation.incident_lat is not None \
            and activation.incident_lon is not None:
        people = [b for b in people if b.approx_lat is None or b.approx_lon is None or
                  haversine_km(activation.incident_lat, activation.incident_lon,
                               b.approx_lat, b.approx_lon) <= activation.radius_km]
    return people


def distribute(activation: Activation, checks: list[WellbeingCheck]) -> None:
    """Give each check to the nearest coming responder with room (an even share each)."""
    if not checks:
        return
    responders = list(db.session.execute(
        select(Responder).options(joinedload(Responder.volunteer))
        .where(Responder.activation_id == activation.id, Responder.answer == "coming",
               Responder.checked_out_at.is_(None))
        .order_by(Responder.id)).scalars())
    if not responders:
        return  # the organizers make the calls themselves
    load = {r.id: _open_load(r) for r in responders}
    share = math.ceil((len(checks) + sum(load.values())) / len(responders))
    for check in checks:
        beneficiary = db.session.get(Beneficiary, check.beneficiary_id)
        room = [r for r in responders if load[r.id] < share] or responders
        chosen = min(room, key=lambda r: (_distance(beneficiary, r), load[r.id], r.id))
        check.responder_id = chosen.id
        load[chosen.id] += 1
    db.session.flush()
    given: dict[int, list[WellbeingCheck]] = {}
    for check in checks:
        given.setdefault(check.responder_id, []).append(check)
    for responder in responders:
        if responder.id in given:
            _tell_checks(activation, responder, given[responder.id])


def _tell_checks(activation: Activation, responder: Responder,
                 checks: list[WellbeingCheck]) -> None:
    """SMS and inbox: how many people to check on, and where to see them (no personal data
    in the message itself)."""
    from flask_babel import force_locale, ngettext

    from volunteer_hub.emergency.activation import message_locale, message_texts
    from volunteer_hub.emergency.responses import base_url
    from volunteer_hub.notify.services import enqueue

    def text(language: str) -> str:
        with force_locale(language):
            body = ngettext("Please check on %(num)d person in the affected area: %(link)s",
                            "Please check on %(num)d people in the affected area: %(link)s",
                            len(checks), link=f"{base_url()}/emergency/alerts")
        return message_texts(language)["drill"] + body if activation.is_drill else body

    user = responder.volunteer.user
    locale = message_locale(user.locale)
    texts = {language: text(language) for language in current_app.config["LANGUAGES"]}
    enqueue(f"emergency:{activation.id}:wellbeing:{responder.id}:{checks[0].id}", user,
            body=texts[locale], channels=("sms", "inbox"), urgent=True, locale=locale,
            translations=texts)


def _open_load(responder: Responder) -> int:
    return len(db.session.execute(select(WellbeingCheck.id).where(
        WellbeingCheck.responder_id == responder.id,
        WellbeingCheck.status == "pending")).all())


def _distance(beneficiary: Beneficiary, responder: Responder) -> float:
    volunteer = responder.volunteer
    if None in (beneficiary.approx_lat, beneficiary.approx_lon, volunteer.lat, volunteer.lon):
        return math.inf
    return haversine_km(beneficiary.approx_lat, beneficiary.approx_lon, volunteer.lat,
                        volunteer.lon)


def reassign(check: WellbeingCheck, responder_id: int | None, *, by) -> WellbeingCheck:
    """Give a check to another responder of the activation, or to the organizers (None)."""
    activation = db.session.get(Activation, check.activation_id)
    require(by, "emergency.wellbeing", activation.org, hide=True)
    if responder_id is not None:
        responder = db.session.get(Responder, responder_id)
        if responder is None or responder.activation_id != activation.id or \
                responder.answer != "coming":
            raise ValidationFailed(_l("Choose a responder of this call-out who is coming."),
                                   field="responder_id")
    check.responder_id = responder_id
    db.session.flush()
    return check


# --- reading and recording ------------------------------------------------------------------

def get_check(check_id: int, *, by) -> WellbeingCheck:
    """A check the caller may act on: their own while the call-out is active, or any of the
    activation for staff in scope; 404 for everyone else."""
    check = db.session.get(WellbeingCheck, check_id)
    if check is None:
        raise NotFound()
    activation = db.session.get(Activation, check.activation_id)
    if _is_staff(by, activation):
        return check
    if by is None or check.responder_id is None or activation.status != "active":
        raise NotFound()
    responder = db.session.get(Responder, check.responder_id)
    if responder is None or responder.user_id != by.id or not _still_deployed(responder):
        raise NotFound()
    return check


def _still_deployed(responder: Responder) -> bool:
    """A volunteer keeps access to the people they check on only while coming and not yet
    checked out: someone who dropped out or went home no longer needs an address."""
    return responder.answer == "coming" and responder.checked_out_at is None


def _may_see_contact_details(user, activation: Activation, beneficiary: Beneficiary) -> bool:
    """Staff see a person's contact details while the call-out runs (an emergency is a lawful
    basis, PIPL Art. 13); afterwards only the community's own organizers, as at any time."""
    if activation.status == "active":
        return True
    community = db.session.get(Org, beneficiary.community_id)
    return can(user, "beneficiaries.manage", community)


def checks_query(activation: Activation, *, by):
    """Staff: every check of the activation; a volunteer: their own (while active)."""
    query = (select(WellbeingCheck).options(joinedload(WellbeingCheck.beneficiary))
             .where(WellbeingCheck.activation_id == activation.id)
             .order_by(WellbeingCheck.status != "pending", WellbeingCheck.id))
    if _is_staff(by, activation):
        return query
    if by is None or activation.status != "active":
        return query.where(WellbeingCheck.id.is_(None))
    mine = select(Responder.id).where(Responder.activation_id == activation.id,
                                      Responder.user_id == by.id).scalar_subquery()
    return query.where(WellbeingCheck.responder_id == mine)


def my_checks(user) -> list[WellbeingCheck]:
    """The caller's pending and recorded checks in their active call-outs."""
    return list(db.session.execute(
        select(WellbeingCheck).join(Responder, WellbeingCheck.responder_id == Responder.id)
        .join(Activation, WellbeingCheck.activation_id == Activation.id)
        .options(joinedload(WellbeingCheck.beneficiary))
        .where(Responder.user_id == user.id, Activation.status == "active")
        .order_by(WellbeingCheck.status != "pending", WellbeingCheck.id)).scalars())


def summary(check: WellbeingCheck) -> dict:
    """What lists show: no clear personal data, nothing to log."""
    beneficiary = check.beneficiary
    return {"id": check.id, "activation_id": check.activation_id,
            "beneficiary_id": beneficiary.id, "name_masked": beneficiary.name_masked,
            "category": beneficiary.category, "community_id": beneficiary.community_id,
            "responder_id": check.responder_id, "status": check.status,
            "recorded_at": check.recorded_at}


def contact_view(check: WellbeingCheck, *, by) -> dict:
    """Masked name plus the address and a phone to reach the person, for this check only.

    The read is logged. A child's own phone is never shown: the guardian's is."""
    check = get_check(check.id, by=by)
    activation = db.session.get(Activation, check.activation_id)
    beneficiary = check.beneficiary
    if not _may_see_contact_details(by, activation, beneficiary):
        raise NotFound()
    view = summary(check)
    view["address"] = decrypt(beneficiary.address_encrypted)
    if beneficiary.is_child:
        view["guardian_name"] = decrypt(beneficiary.guardian_name_encrypted)
        view["guardian_phone"] = decrypt(beneficiary.guardian_phone_encrypted)
    else:
        view["phone"] = decrypt(beneficiary.phone_encrypted)
    view["note"] = decrypt(check.note_encrypted) if _is_staff(by, activation) else None
    read = [f for f in ("address", "phone", "guardian_name", "guardian_phone")
            if view.get(f) is not None]
    from volunteer_hub.needs.services import log_access

    log_access(beneficiary, by=by, fields=read, purpose=_purpose(activation))
    return view


def record(check: WellbeingCheck, status: str, note: str | None = None, *, by,
           now: datetime | None = None) -> WellbeingCheck:
    """Record the outcome: safe / needs help / unreachable, with an encrypted note."""
    check = get_check(check.id, by=by)
    if status not in OUTCOMES:
        raise ValidationFailed(_l("Choose safe, needs help or unreachable."),
                               code="WELLBEING_STATUS", field="status")
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationFailed(_l("The note is too long (at most %(max)d characters).",
                                  max=MAX_NOTE_LENGTH), field="note")
    if status == "needs_help" and not note:
        raise ValidationFailed(_l("Say what help is needed."), code="WELLBEING_NOTE_REQUIRED",
                               field="note")
    check.status = status
    check.note_encrypted = encrypt(note) if note else None
    check.recorded_at = now or utcnow()
    check.recorded_by_id = by.id if by else None
    db.session.flush()
    return check


def counts(activation: Activation) -> dict[str, int]:
    """Checks per status, for the board and the coordinator's page."""
    from sqlalchemy import func

    rows = db.session.execute(
        select(WellbeingCheck.status, func.count(WellbeingCheck.id))
        .where(WellbeingCheck.activation_id == activation.id)
        .group_by(WellbeingCheck.status)).all()
    result = {status: 0 for status in ("pending",) + OUTCOMES}
    result.update(dict(rows))
    return result
