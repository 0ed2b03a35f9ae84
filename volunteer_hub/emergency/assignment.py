"""Putting responders who are coming into the activation's roles, and telling them.

`replan` keeps everyone already seated who is still coming and fills only the open seats
(a dropout's seat, a role nobody could fill yet) with the pure solver in
matching/responders.py. Each newly seated responder gets their role and nearest assembly
point by SMS and in the inbox. Re-plans of one activation are serialised by a row lock on the
activation (PostgreSQL; SQLite writers are serialised anyway), so two answers arriving
together cannot give one seat twice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, or_, select, true

from volunteer_hub.accounts.permissions import require
from volunteer_hub.db import db, is_postgresql, utcnow
from volunteer_hub.emergency.models import (
    Activation,
    ActivationEvent,
    ActivationRole,
    Responder,
)
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.matching.responders import (
    ResponderCandidate,
    ResponderWeights,
    Seat,
    assign,
    feasible,
    nearest_point,
)
from volunteer_hub.volunteers.models import Certification, VolunteerSkill

FAIRNESS_HORIZON_DAYS = 365
DRILL_PREFIX = {"zh_Hans": "【演练】", "en": "DRILL: "}


@dataclass(frozen=True)
class Change:
    responder_id: int
    role_id: int | None
    assembly_point: int | None


# --- re-planning ----------------------------------------------------------------------------

def replan(activation: Activation, *, by=None, now: datetime | None = None) -> list[Change]:
    """Seat coming, unseated responders in open seats; tell each their role and place."""
    if by is not None:
        require(by, "emergency.activate", activation.org, hide=True)
    if activation.status != "active":
        raise Conflict(_l("This call-out has been stood down."), code="EMERGENCY_STOOD_DOWN")
    _lock(activation)
    moment = now or utcnow()
    seats, seat_roles = _open_seats(activation)
    if not seats:
        return []
    free = _free_responders(activation, list({r.id: r for r in seat_roles}.values()), moment)
    if not free:
        return []
    candidates = _candidates(free, activation, moment)
    pairs = assign(candidates, seats, _weights(), relaxed_by=activation.skill_level_relaxed_by)
    changes = [_seat(free[r], seat_roles[s], activation, moment) for r, s in pairs]
    if changes:
        _mark_filled_roles(activation, moment)
        _log(activation, "assigned", changes, by, moment)
    return changes


def _lock(activation: Activation) -> None:
    if is_postgresql():
        db.session.execute(select(Activation.id).where(Activation.id == activation.id)
                           .with_for_update())


def assigned_counts(activation: Activation) -> dict[int, int]:
    return dict(db.session.execute(
        select(Responder.role_id, func.count(Responder.id))
        .where(Responder.activation_id == activation.id, Responder.role_id.isnot(None))
        .group_by(Responder.role_id)).all())


def _open_seats(activation: Activation) -> tuple[list[Seat], list[ActivationRole]]:
    counts = assigned_counts(activation)
    seats, roles = [], []
    for role in activation.roles:
        for _ in range(max(0, role.needed - counts.get(role.id, 0))):
            seats.append(_seat_of(role))
            roles.append(role)
    return seats, roles


def _seat_of(role: ActivationRole) -> Seat:
    return Seat(role=role.code, skill=role.skill_code, min_level=role.min_level,
                certification=role.certification_kind)


def _free_responders(activation: Activation, roles: list[ActivationRole],
                     moment: datetime) -> list[Responder]:
    """Coming, unseated, not checked out, not stood aside by a coordinator, and qualified
    for at least one open role: in a big call-out thousands may be coming without fitting
    any open seat, and the plan must not grow with them."""
    query = (select(Responder)
             .where(Responder.activation_id == activation.id, Responder.answer == "coming",
                    Responder.role_id.is_(None), Responder.checked_out_at.is_(None),
                    or_(*[_qualifies(role, activation.skill_level_relaxed_by, moment.date())
                          for role in roles]))
             .order_by(Responder.first_answered_at, Responder.id))
    responders = list(db.session.execute(query).scalars())
    aside = _stood_aside(activation)
    return [r for r in responders
            if r.id not in aside or (r.answered_at and r.answered_at > aside[r.id])]


def _qualifies(role: ActivationRole, relaxed_by: int, day: date):
    """SQL: the responder's volunteer holds the role's certification and skill level."""
    conditions = []
    if role.certification_kind:
        conditions.append(select(Certification.id).where(
            Certification.volunteer_id == Responder.volunteer_id,
            Certification.kind == role.certification_kind, Certification.issued_on <= day,
            or_(Certification.expires_on.is_(None), Certification.expires_on >= day)).exists())
    if role.skill_code:
        level = func.coalesce(VolunteerSkill.confirmed_level, VolunteerSkill.level)
        conditions.append(select(VolunteerSkill.id).where(
            VolunteerSkill.volunteer_id == Responder.volunteer_id,
            VolunteerSkill.skill_code == role.skill_code,
            level >= max(1, role.min_level - relaxed_by)).exists())
    return and_(true(), *conditions)


def _stood_aside(activation: Activation) -> dict[int, datetime]:
    """Responder id -> when a coordinator last took them out of a role by hand."""
    events = db.session.execute(
        select(ActivationEvent).where(ActivationEvent.activation_id == activation.id,
                                      ActivationEvent.kind == "unassigned")).scalars()
    aside: dict[int, datetime] = {}
    for event in events:
        responder_id = (event.detail or {}).get("responder_id")
        if responder_id is not None:
            aside[responder_id] = max(event.at, aside.get(responder_id, event.at))
    return aside


def _weights() -> ResponderWeights:
    return ResponderWeights(**current_app.config.get("EMERGENCY_ASSIGNMENT_WEIGHTS", {}))


def _fatigue_window_days(activation: Activation) -> int:
    from volunteer_hub.emergency.settings import emergency_settings

    return int(emergency_settings(activation.org).fatigue_window_days)


def _candidates(responders: list[Responder], activation: Activation,
                moment: datetime) -> list[ResponderCandidate]:
    volunteer_ids = [r.volunteer_id for r in responders]
    skills = _skills(volunteer_ids)
    certifications = valid_certifications(volunteer_ids, moment.date())
    recent = _deployments(volunteer_ids, activation,
                          moment - timedelta(days=_fatigue_window_days(activation)))
    past = _deployments(volunteer_ids, activation,
                        moment - timedelta(days=FAIRNESS_HORIZON_DAYS))
    return [ResponderCandidate(
        eta_minutes=float(r.eta_minutes or 0), skills=skills.get(r.volunteer_id, {}),
        certifications=frozenset(certifications.get(r.volunteer_id, set())),
        recent_deployments=recent.get(r.volunteer_id, 0),
        past_deployments=past.get(r.volunteer_id, 0)) for r in responders]


def _skills(volunteer_ids: list[int]) -> dict[int, dict[str, int]]:
    """Skill levels, trusting an organizer's confirmed level over the declared one."""
    skills: dict[int, dict[str, int]] = {}
    for volunteer_id, code, level, confirmed in db.session.execute(
            select(VolunteerSkill.volunteer_id, VolunteerSkill.skill_code, VolunteerSkill.level,
                   VolunteerSkill.confirmed_level)
            .where(VolunteerSkill.volunteer_id.in_(volunteer_ids))):
        skills.setdefault(volunteer_id, {})[code] = confirmed or level
    return skills


def valid_certifications(volunteer_ids: list[int], day: date) -> dict[int, set[str]]:
    """Certification kinds each volunteer holds valid on `day`."""
    kinds: dict[int, set[str]] = {}
    for volunteer_id, kind in db.session.execute(
            select(Certification.volunteer_id, Certification.kind)
            .where(Certification.volunteer_id.in_(volunteer_ids),
                   Certification.issued_on <= day,
                   or_(Certification.expires_on.is_(None), Certification.expires_on >= day))):
        kinds.setdefault(volunteer_id, set()).add(kind)
    return kinds


def _deployments(volunteer_ids: list[int], activation: Activation,
                 since: datetime) -> dict[int, int]:
    """Other activations since `since` in which each volunteer held a role or turned up."""
    return dict(db.session.execute(
        select(Responder.volunteer_id, func.count(Responder.id))
        .join(Activation, Responder.activation_id == Activation.id)
        .where(Responder.volunteer_id.in_(volunteer_ids),
               Responder.activation_id != activation.id,
               Activation.activated_at >= since,
               or_(Responder.role_id.isnot(None), Responder.arrived_at.isnot(None)))
        .group_by(Responder.volunteer_id)).all())


def _seat(responder: Responder, role: ActivationRole, activation: Activation,
          moment: datetime) -> Change:
    volunteer = responder.volunteer
    points = [(p.get("lat"), p.get("lon")) for p in activation.assembly_points or []]
    responder.role_id = role.id
    responder.role = role
    responder.assembly_point = nearest_point(volunteer.lat, volunteer.lon, points)
    responder.assigned_at = moment
    db.session.flush()
    tell_assignment(responder, role, activation)
    return Change(responder.id, role.id, responder.assembly_point)


def _mark_filled_roles(activation: Activation, moment: datetime) -> None:
    counts = assigned_counts(activation)
    for role in activation.roles:
        if role.filled_at is None and counts.get(role.id, 0) >= role.needed:
            role.filled_at = moment
    db.session.flush()


def _log(activation: Activation, kind: str, changes: list[Change], by,
         moment: datetime) -> None:
    db.session.add(ActivationEvent(
        activation_id=activation.id, kind=kind, actor_id=by.id if by else None, at=moment,
        detail={"assignments": [{"responder_id": c.responder_id, "role_id": c.role_id,
                                 "assembly_point": c.assembly_point} for c in changes]}))
    db.session.flush()


# --- messages -------------------------------------------------------------------------------

def point_of(activation: Activation, index: int | None) -> dict | None:
    points = activation.assembly_points or []
    return points[index] if index is not None and 0 <= index < len(points) else None


def tell_assignment(responder: Responder, role: ActivationRole, activation: Activation) -> None:
    """SMS and inbox: the responder's role and assembly point."""
    from volunteer_hub.emergency.activation import message_locale, render_message
    from volunteer_hub.notify.services import enqueue

    user = responder.volunteer.user
    locale = message_locale(user.locale)
    point = point_of(activation, responder.assembly_point) or {}
    texts = {language: render_message(activation, "assigned", language,
                                      role=role.label_en if language == "en" else role.label_zh,
                                      assembly_point=point.get("name", ""),
                                      assembly_address=point.get("address", ""))
             for language in current_app.config["LANGUAGES"]}  # the inbox shows the reader's
    enqueue(f"emergency:{activation.id}:assigned:{responder.id}:{role.id}", user,
            body=texts[locale], channels=("sms", "inbox"), urgent=True, locale=locale,
            translations=texts)


def _tell_stood_aside(responder: Responder, role: ActivationRole,
                      activation: Activation) -> None:
    from flask_babel import force_locale, gettext

    from volunteer_hub.emergency.activation import message_locale
    from volunteer_hub.notify.services import enqueue

    def text(language: str) -> str:
        with force_locale(language):
            body = gettext("You are no longer assigned as %(role)s. Please stand by: the "
                           "coordinator will contact you.",
                           role=role.label_en if language == "en" else role.label_zh)
        return (DRILL_PREFIX.get(language, "") + body) if activation.is_drill else body

    user = responder.volunteer.user
    locale = message_locale(user.locale)
    texts = {language: text(language) for language in current_app.config["LANGUAGES"]}
    enqueue(f"emergency:{activation.id}:unassigned:{responder.id}:{role.id}", user,
            body=texts[locale], channels=("sms", "inbox"), urgent=True, locale=locale,
            translations=texts)


# --- by hand --------------------------------------------------------------------------------

def _responder_of(activation: Activation, responder_id: int) -> Responder:
    responder = db.session.get(Responder, responder_id)
    if responder is None or responder.activation_id != activation.id:
        raise NotFound()
    return responder


def _role_of(activation: Activation, role_id: int) -> ActivationRole:
    role = db.session.get(ActivationRole, role_id)
    if role is None or role.activation_id != activation.id:
        raise ValidationFailed(_l("Choose a role of this call-out."), field="role_id")
    return role


def assign_by_hand(activation: Activation, responder_id: int, role_id: int, *, by,
                   assembly_point: int | None = None) -> Responder:
    """A coordinator puts a coming responder in a role (qualification still required)."""
    require(by, "emergency.activate", activation.org, hide=True)
    if activation.status != "active":
        raise Conflict(_l("This call-out has been stood down."), code="EMERGENCY_STOOD_DOWN")
    _lock(activation)
    responder = _responder_of(activation, responder_id)
    role = _role_of(activation, role_id)
    if responder.answer != "coming":
        raise Conflict(_l("Only a responder who is coming can be given a role."),
                       code="EMERGENCY_NOT_COMING")
    if responder.role_id == role.id:
        return responder
    if assigned_counts(activation).get(role.id, 0) >= role.needed:
        raise Conflict(_l("This role is already full: take someone out of it first."),
                       code="EMERGENCY_ROLE_FULL")
    moment = utcnow()
    [candidate] = _candidates([responder], activation, moment)
    if not feasible(candidate, _seat_of(role), activation.skill_level_relaxed_by):
        raise ValidationFailed(
            _l("This responder lacks the skill level or a valid certificate for this role."),
            code="EMERGENCY_NOT_QUALIFIED", field="role_id")
    if assembly_point is not None and point_of(activation, assembly_point) is None:
        raise ValidationFailed(_l("Choose an assembly point of this call-out."),
                               field="assembly_point")
    freed = responder.role_id is not None
    points = [(p.get("lat"), p.get("lon")) for p in activation.assembly_points or []]
    responder.role_id, responder.role = role.id, role
    responder.assembly_point = assembly_point if assembly_point is not None else \
        nearest_point(responder.volunteer.lat, responder.volunteer.lon, points)
    responder.assigned_at = moment
    db.session.flush()
    tell_assignment(responder, role, activation)
    _mark_filled_roles(activation, moment)
    _log(activation, "assigned", [Change(responder.id, role.id, responder.assembly_point)],
         by, moment)
    if freed:
        replan(activation, now=moment)
    return responder


def unassign_by_hand(activation: Activation, responder_id: int, *, by) -> Responder:
    """A coordinator takes a responder out of their role; they stay coming, on standby,
    and the automatic plan leaves them aside until they answer again."""
    require(by, "emergency.activate", activation.org, hide=True)
    if activation.status != "active":
        raise Conflict(_l("This call-out has been stood down."), code="EMERGENCY_STOOD_DOWN")
    _lock(activation)
    responder = _responder_of(activation, responder_id)
    role = responder.role
    if role is None:
        return responder
    moment = utcnow()
    responder.role_id, responder.role = None, None
    responder.assembly_point = None
    responder.assigned_at = None
    db.session.add(ActivationEvent(activation_id=activation.id, kind="unassigned",
                                   actor_id=by.id if by else None, at=moment,
                                   detail={"responder_id": responder.id, "role_id": role.id}))
    db.session.flush()
    _tell_stood_aside(responder, role, activation)
    replan(activation, now=moment)
    return responder
