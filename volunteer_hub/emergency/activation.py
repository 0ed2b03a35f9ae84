"""Activation: call out a plan at a level (for real or as a drill), and stand it down.

Activating copies what it needs from the plan, finds the people to call and writes the whole
fan-out (SMS, e-mail, inbox, plus Web Push for those with a live subscription) into the
outbox in the caller's transaction: the activation and its messages commit together or not at
all. Everything here is urgent, so quiet hours never hold a call-out back.
"""
from __future__ import annotations

import math
import secrets
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Float, case, cast, exists, func, insert, literal, null, or_, select, true, update,
)

from volunteer_hub.accounts.models import User
from volunteer_hub.accounts.permissions import path_filter, require, scope_paths
from volunteer_hub.db import db, is_postgresql, sort_in_memory, utcnow
from volunteer_hub.emergency import places
from volunteer_hub.emergency.models import (
    LEVELS,
    Activation,
    ActivationEvent,
    ActivationRole,
    EmergencyPlan,
    Responder,
)
from volunteer_hub.emergency.plans import DEFAULT_TEMPLATES
from volunteer_hub.emergency.settings import emergency_settings
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.notify import fanout, registry, services
from volunteer_hub.notify.fanout import LINK_PLACEHOLDER
from volunteer_hub.orgs.models import Org, TeamMember
from volunteer_hub.volunteers.models import Certification, Volunteer

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.32

MESSAGE_LOCALES = ("zh_Hans", "en")


def message_texts(locale: str) -> dict:
    """The text around a plan's own templates, in the recipient's language (not the
    reader's UI language): message content written into the outbox."""
    with force_locale(locale):
        return {
            # 【演练】 in Chinese: every drill message starts with it.
            "drill": gettext("DRILL: "),
            "reply": gettext('Reply "1 30" if you are coming (30 = minutes until you arrive), '
                             'or "2" if you cannot come.'),
            "link": gettext("Answer here: %(link)s", link="{link}"),
            "subject": gettext("%(plan)s (%(level)s)", plan="{plan}", level="{level}"),
            "levels": {1: gettext("Level I (red)"), 2: gettext("Level II (orange)"),
                       3: gettext("Level III (yellow)"), 4: gettext("Level IV (blue)")},
            "page": gettext("%(plan)s: roles still short (%(short)s). Notified %(notified)s, "
                            "coming %(coming)s.", plan="{plan}", short="{short}",
                            notified="{notified}", coming="{coming}"),
        }


def message_locale(locale: str | None) -> str:
    return "en" if (locale or "").lower().startswith("en") else "zh_Hans"


class _Blank(dict):
    def __missing__(self, key):
        return ""


def render_message(activation: Activation, kind: str, locale: str | None, **values) -> str:
    """A plan template ("alert", "assigned", "stand_down") in the person's language, with the
    drill marker first for drills. Placeholders not given are left empty."""
    locale = message_locale(locale)
    templates = activation.templates or DEFAULT_TEMPLATES
    text = (templates.get(locale) or DEFAULT_TEMPLATES[locale])[kind]
    texts = message_texts(locale)
    filled = _Blank(plan=activation.plan.name, level=texts["levels"][activation.level],
                    address=activation.incident_address, note=activation.note,
                    org=activation.org.name(locale))
    filled.update(values)
    body = text.format_map(filled)
    return (texts["drill"] if activation.is_drill else "") + body


def message_subject(activation: Activation, locale: str | None) -> str:
    texts = message_texts(message_locale(locale))
    subject = texts["subject"].format(plan=activation.plan.name,
                                      level=texts["levels"][activation.level])
    return (texts["drill"] if activation.is_drill else "") + subject


def answer_tokens(responder_ids: list[int], issued_at: datetime) -> dict[int, str]:
    """The one-tap tokens of these responders for an alert written at `issued_at` (naive
    UTC, the outbox's clock): the link maker of alert messages, so each is made when its
    message is sent or shown. It expires the org's link lifetime after the person was
    alerted: when the round's text was written, or when they were called, if later (a team
    called later shares round 1's text)."""
    from volunteer_hub.emergency.responses import link_valid_hours, response_token

    responders = db.session.execute(
        select(Responder.id, Responder.activation_id, Responder.volunteer_id,
               Responder.notified_at).where(Responder.id.in_(responder_ids))).all()
    hours = {activation_id: link_valid_hours(activation_id)
             for activation_id in {r.activation_id for r in responders}}
    written = issued_at.replace(tzinfo=UTC)
    return {r.id: response_token(r, now=max(written, _as_utc(r.notified_at)),
                                 valid_hours=hours[r.activation_id])
            for r in responders}


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def alert_text(activation: Activation, locale: str | None) -> str:
    """The alert in one language; each person's link is the site's answer address with
    LINK_PLACEHOLDER for their own token (made when the message is sent or shown)."""
    from volunteer_hub.emergency.responses import base_url

    locale = message_locale(locale)
    texts = message_texts(locale)
    template = (activation.templates.get(locale) or DEFAULT_TEMPLATES[locale])["alert"]
    link = f"{base_url()}/emergency/respond/{LINK_PLACEHOLDER}"
    body = render_message(activation, "alert", locale, link=link)
    if "{link}" not in template:
        body += " " + texts["link"].format(link=link)
    return f"{body}\n{texts['reply']}"


# --- events -----------------------------------------------------------------------------------

def log_event(activation: Activation, kind: str, detail: dict | None = None, *,
              actor=None, at: datetime | None = None) -> ActivationEvent:
    event = ActivationEvent(activation_id=activation.id, kind=kind, detail=detail or {},
                            actor_id=getattr(actor, "id", actor), at=at or utcnow())
    db.session.add(event)
    return event


# --- targeting --------------------------------------------------------------------------------

def local_today() -> date:
    return utcnow().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()


def _adult_birth_cutoff(today: date) -> date:
    """Born on or before this day: an adult today."""
    age = current_app.config["ADULT_AGE"]
    try:
        return today.replace(year=today.year - age)
    except ValueError:  # 29 February
        return today.replace(year=today.year - age, day=28)


def _qualifies_for_a_role(roles: list[ActivationRole], today: date):
    """A member is called only when they hold a certificate, valid today, that at least one
    role requires: someone who could fill no seat would answer "coming" for nothing, and a
    certificate (unlike a skill level, which escalation may relax) is a hard requirement."""
    kinds = {role.certification_kind for role in roles}
    if None in kinds:
        return true()
    return exists().where(
        Certification.volunteer_id == Volunteer.id, Certification.kind.in_(kinds),
        Certification.issued_on <= today,
        or_(Certification.expires_on.is_(None), Certification.expires_on >= today))


def _deployed_elsewhere(activation: Activation):
    """Coming to another activation that is still running, and not yet checked out there.
    A drill never keeps anyone from a real incident."""
    other = Activation.__table__.alias("other_activation")
    condition = exists().where(
        Responder.volunteer_id == Volunteer.id, Responder.activation_id == other.c.id,
        other.c.status == "active", other.c.id != activation.id, Responder.answer == "coming",
        Responder.checked_out_at.is_(None))
    if not activation.is_drill:
        condition = condition.where(other.c.is_drill.is_(False))
    return condition


def _already_called(activation: Activation):
    return exists().where(Responder.volunteer_id == Volunteer.id,
                          Responder.activation_id == activation.id)


def _area_conditions(activation: Activation) -> list:
    conditions = []
    if activation.area_org_id is not None:
        area = db.session.get(Org, activation.area_org_id)
        conditions.append(Volunteer.org_path.startswith(area.path, autoescape=True))
    if activation.radius_km is not None:
        # A bounding box lets the database drop the far ones; the distance decides the rest.
        # Members without a position cannot be shown to be inside a radius: not called.
        dlat = activation.radius_km / KM_PER_DEGREE
        cos_lat = max(0.01, math.cos(math.radians(activation.incident_lat)))
        dlon = min(180.0, activation.radius_km / (KM_PER_DEGREE * cos_lat))
        conditions += [
            Volunteer.lat.between(activation.incident_lat - dlat, activation.incident_lat + dlat),
            Volunteer.lon.between(activation.incident_lon - dlon, activation.incident_lon + dlon),
        ]
    return conditions


def _distance_km(activation: Activation):
    """The great-circle distance from the incident to the volunteer, in SQL (km, rounded to
    metres); NULL without both positions."""
    if activation.incident_lat is None or activation.incident_lon is None:
        return cast(null(), Float)  # typed, or PostgreSQL takes the subquery's NULL for text
    lat, lon = activation.incident_lat, activation.incident_lon
    half_dlat = func.radians(Volunteer.lat - lat) / 2
    half_dlon = func.radians(Volunteer.lon - lon) / 2
    a = (func.power(func.sin(half_dlat), 2)
         + math.cos(math.radians(lat)) * func.cos(func.radians(Volunteer.lat))
         * func.power(func.sin(half_dlon), 2))
    smaller = func.least if is_postgresql() else func.min  # rounding may push a past 1
    km = 2 * EARTH_RADIUS_KM * func.asin(func.sqrt(smaller(a, 1.0)))
    return func.round(km * 1000) / 1000.0


def _targets(activation: Activation, team_ids: list[int]):
    """The members of `team_ids` to call now: active (so not suspended) adults with a
    certificate some role needs, not deployed elsewhere, not already called here, inside
    the area; someone in two called teams once, with the first team in call order."""
    today = local_today()
    team_rank = case(*[(TeamMember.team_id == team_id, rank)
                       for rank, team_id in enumerate(team_ids)])
    members = (
        select(Volunteer.id.label("volunteer_id"), Volunteer.user_id.label("user_id"),
               TeamMember.team_id.label("team_id"), _distance_km(activation).label("distance"),
               func.row_number().over(partition_by=Volunteer.id, order_by=team_rank)
               .label("nth"))
        .join(Volunteer, Volunteer.id == TeamMember.volunteer_id)
        .join(User, User.id == Volunteer.user_id)
        .where(TeamMember.team_id.in_(team_ids), Volunteer.status == "active",
               User.active.is_(True), Volunteer.birth_date <= _adult_birth_cutoff(today),
               _qualifies_for_a_role(activation.roles, today),
               ~_deployed_elsewhere(activation), ~_already_called(activation),
               *_area_conditions(activation))).subquery("members")
    targets = select(members).where(members.c.nth == 1)
    if activation.radius_km is not None:
        targets = targets.where(members.c.distance <= activation.radius_km)
    return targets.subquery("targets")


# --- calling ----------------------------------------------------------------------------------

def call_members(activation: Activation, team_ids: list[int]) -> int:
    """Create Responder rows for the members to call now and write their alerts (round 1),
    each in one statement that the database runs without the rows passing through Python.
    Returns the number of people called."""
    if not team_ids:
        return 0
    newest_before = db.session.execute(select(func.max(Responder.id))).scalar() or 0
    targets = _targets(activation, team_ids)
    rows = select(literal(activation.id), targets.c.volunteer_id, targets.c.user_id,
                  targets.c.team_id, targets.c.distance,
                  literal(utcnow(), Responder.notified_at.type), literal(1), literal("none"))
    write = insert(Responder.__table__).from_select(
        ["activation_id", "volunteer_id", "user_id", "team_id", "distance_km", "notified_at",
         "notify_round", "answer"],
        rows.order_by(targets.c.volunteer_id))  # in index order: cheaper to write
    sort_in_memory()
    called = db.session.execute(write.execution_options(preserve_rowcount=True)).rowcount
    if called:
        # Ids only grow: those above the newest before are the ones just written.
        send_alerts(activation, Responder.id > newest_before, round_=1)
    return called


def send_alerts(activation: Activation, which, *, round_: int) -> None:
    """The alert under f"emergency:{id}:alert:{round}" to the responders `which` (a
    condition on Responder) selects, each with their own link. A responder is at each
    round once, so none of them has this round's alert yet."""
    texts = {locale: (message_subject(activation, locale), alert_text(activation, locale))
             for locale in MESSAGE_LOCALES}
    broadcast(activation, f"emergency:{activation.id}:alert:{round_}", texts, which,
              with_links=True)


def broadcast(activation: Activation, event_key: str, texts: dict[str, tuple[str, str]],
              which=None, *, with_links: bool = False) -> None:
    """`texts` (locale -> subject and body) to the responders of `activation` that `which`
    selects, on every channel the registry sends broadcasts on that is set up; an event
    that none of them has had yet (each volunteer is one user and one responder of an
    activation). A channel a person cannot receive (no push subscription, no WeChat binding)
    falls back along their chain to one they get anyway: it adds a message only for those
    who have it."""
    channels = registry.broadcast_channels(services.settings())
    recipients = select(Responder.user_id.label("user_id"),
                        (Responder.id if with_links else null()).label("ref_id")).where(
        Responder.activation_id == activation.id, true() if which is None else which)
    fanout.enqueue_query(event_key, recipients, texts=texts, channels=channels,
                         new_event=True)


# --- activate ---------------------------------------------------------------------------------

def _level_config(plan: EmergencyPlan, level) -> dict:
    if isinstance(level, bool) or not isinstance(level, int) or level not in LEVELS:
        raise ValidationFailed(_l("Choose a level from I to IV."), field="level")
    config = (plan.levels or {}).get(str(level))
    if not config:
        raise ValidationFailed(_l("This plan does not cover this level."), field="level",
                               code="PLAN_LEVEL_MISSING")
    return config


def _location(lat, lon, *, radius_needed: bool) -> tuple[float | None, float | None]:
    if (lat is None) != (lon is None):
        raise ValidationFailed(_l("Give both the latitude and the longitude."), field="lat")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValidationFailed(_l("This is not a position on Earth."), field="lat")
    if radius_needed and lat is None:
        raise ValidationFailed(_l("This level calls people within a radius of the incident, "
                                  "and the plan's area has no known position: pick a "
                                  "community or grid, or use your location."), field="lat",
                               code="INCIDENT_POSITION_REQUIRED")
    return lat, lon


def _escalation_snapshot(config: dict) -> list[dict]:
    """The ladder as it will run; each "call the next team" step names its team now, so a
    later edit of the plan cannot change which team a running activation calls next."""
    waiting = list(config["team_ids"][config.get("initial_teams") or len(config["team_ids"]):])
    steps = []
    for step in config.get("escalation") or []:
        step = dict(step)
        if step["action"] == "next_team":
            step["value"] = waiting.pop(0) if waiting else None
        steps.append(step)
    return steps


def _refuse_second_call_out(plan: EmergencyPlan, is_drill: bool) -> None:
    """A double tap must not alert everyone twice: one running call-out of a plan at a time
    (a real incident may still start while a drill of the plan runs)."""
    running = db.session.execute(select(Activation.id).where(
        Activation.plan_id == plan.id, Activation.status == "active",
        Activation.is_drill.is_(is_drill)).limit(1)).scalar()
    if running is not None:
        raise Conflict(_l("This plan is already called out: stand that call-out down, or "
                          "escalate it, before calling it out again."),
                       code="PLAN_ALREADY_ACTIVE")


def activate(plan: EmergencyPlan, *, level: int, is_drill: bool, lat: float | None = None,
             lon: float | None = None, address: str = "", note: str = "", by) -> Activation:
    """Call out `plan` at `level`: snapshot, targeting and the whole fan-out, in the caller's
    transaction."""
    if by is not None:
        require(by, "emergency.activate", plan.org,
                hide=not any(plan.org_path.startswith(p)
                             for p in scope_paths(by, "emergency.read")))
    if plan.archived_at is not None:
        raise Conflict(_l("This plan is archived."), code="PLAN_ARCHIVED")
    _refuse_second_call_out(plan, bool(is_drill))
    config = _level_config(plan, level)
    if lat is None and lon is None:  # nobody typed a position: the plan's area is the place
        lat, lon = places.default_position(plan, config) or (None, None)
    lat, lon = _location(lat, lon, radius_needed=config.get("radius_km") is not None)
    address, note = (address or "").strip(), (note or "").strip()
    if len(address) > 200:
        raise ValidationFailed(_l("At most %(num)d characters.", num=200), field="address")
    if len(note) > 2000:
        raise ValidationFailed(_l("At most %(num)d characters.", num=2000), field="note")
    first_teams = list(config["team_ids"][:config.get("initial_teams")
                                          or len(config["team_ids"])])
    activation = Activation(
        plan=plan, org_id=plan.org_id, org_path=plan.org_path, level=level,
        is_drill=bool(is_drill), status="active", incident_lat=lat, incident_lon=lon,
        incident_address=address, note=note, radius_km=config.get("radius_km"),
        area_org_id=config.get("area_org_id"), team_ids_called=first_teams,
        assembly_points=list(plan.assembly_points or []),
        templates=dict(plan.templates or DEFAULT_TEMPLATES),
        escalation=_escalation_snapshot(config),
        drill_hours_count=emergency_settings(plan.org).drill_hours_count,
        activated_by_id=by.id if by else None, activated_at=utcnow())
    activation.roles = [
        ActivationRole(position=i, code=role["code"], label_zh=role["label_zh"],
                       label_en=role["label_en"], needed=role["count"], skill_code=role["skill"],
                       min_level=role["min_level"], certification_kind=role["certification"])
        for i, role in enumerate(config["roles"])]
    db.session.add(activation)
    db.session.flush()
    called = call_members(activation, first_teams)
    log_event(activation, "activated", {"level": level, "is_drill": activation.is_drill,
                                        "team_ids": first_teams, "notified": called},
              actor=by, at=activation.activated_at)
    db.session.flush()
    return activation


# --- reading ----------------------------------------------------------------------------------

def _can_read(user, activation: Activation) -> bool:
    return any(activation.org_path.startswith(p) for p in scope_paths(user, "emergency.read"))


def get_activation(activation_id: int, *, by) -> Activation:
    """An activation the caller may read; 404 when unknown or outside their scope."""
    activation = db.session.get(Activation, activation_id)
    if activation is None or (by is not None and not _can_read(by, activation)):
        raise NotFound()
    return activation


def activations_query(user, *, status: str | None = None, include_drills: bool = True,
                      plan_id: int | None = None):
    """Activations in the caller's scope, newest first."""
    query = select(Activation).where(
        path_filter(Activation.org_path, scope_paths(user, "emergency.read")))
    if status is not None:
        query = query.where(Activation.status == status)
    if not include_drills:
        query = query.where(Activation.is_drill.is_(False))
    if plan_id is not None:
        query = query.where(Activation.plan_id == plan_id)
    return query.order_by(Activation.activated_at.desc(), Activation.id.desc())


def responder_counts(activation: Activation) -> dict[str, int]:
    """How many were called and how each answered: {"notified", "none", "coming", "cannot"}."""
    rows = db.session.execute(
        select(Responder.answer, func.count()).where(Responder.activation_id == activation.id)
        .group_by(Responder.answer)).all()
    counts = {"none": 0, "coming": 0, "cannot": 0, **dict(rows)}
    counts["notified"] = sum(count for _answer, count in rows)
    return counts


# --- stand-down -------------------------------------------------------------------------------

def stand_down(activation: Activation, *, note: str = "", by) -> Activation:
    """End the activation: tell everyone called, and record the hours of those who came."""
    if by is not None:
        require(by, "emergency.activate", activation.org, hide=not _can_read(by, activation))
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationFailed(_l("At most %(num)d characters.", num=2000), field="note")
    moment = utcnow()
    # A conditional update: of two simultaneous stand-downs exactly one wins.
    changed = db.session.execute(
        update(Activation).where(Activation.id == activation.id,
                                 Activation.status == "active")
        .values(status="stood_down", stood_down_at=moment,
                stood_down_by_id=by.id if by else None, stand_down_note=note)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(_l("This call-out has already been stood down."),
                       code="ACTIVATION_STOOD_DOWN")
    db.session.refresh(activation)
    _broadcast_stand_down(activation)
    records = _record_hours(activation, by=by)
    log_event(activation, "stood_down", {"note": note, "records": records}, actor=by,
              at=moment)
    db.session.flush()
    return activation


def _broadcast_stand_down(activation: Activation) -> None:
    texts = {locale: (message_subject(activation, locale),
                      render_message(activation, "stand_down", locale))
             for locale in MESSAGE_LOCALES}
    broadcast(activation, f"emergency:{activation.id}:stand_down", texts)


def _record_hours(activation: Activation, *, by) -> int:
    """A pending service record for each responder who arrived, under one "emergency"
    activity spanning the activation; none for a drill whose hours do not count."""
    from volunteer_hub.records.models import Activity, ServiceRecord
    from volunteer_hub.records.services import compute_minutes

    if activation.is_drill and not activation.drill_hours_count:
        return 0
    arrived = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id, Responder.arrived_at.is_not(None))
        .order_by(Responder.id)).scalars().all()
    if not arrived:
        return 0
    starts = activation.activated_at
    ends = max(activation.stood_down_at, starts + timedelta(minutes=1))
    name = (message_texts("zh_Hans")["drill"] if activation.is_drill else "") + \
        activation.plan.name
    activity = Activity(
        org_id=activation.org_id, org_path=activation.org_path, name=name[:120],
        service_type="emergency_drill" if activation.is_drill else "emergency",
        place=activation.incident_address,
        content=activation.note, lead_user_id=activation.activated_by_id, starts_at=starts,
        ends_at=ends, checkin_code=f"{secrets.randbelow(10**6):06d}",
        created_by_id=by.id if by else None)
    db.session.add(activity)
    db.session.flush()
    activation.activity_id = activity.id
    for responder in arrived:
        checked_out = responder.checked_out_at is not None
        record = ServiceRecord(
            volunteer_id=responder.volunteer_id, activity=activity,
            check_in_at=responder.arrived_at,
            check_out_at=responder.checked_out_at if checked_out else activation.stood_down_at,
            method="qr" if responder.arrival_method == "qr" else "manual",
            missing_checkout=not checked_out, status="pending",
            recorded_by_id=by.id if by else None)
        db.session.add(record)
        if checked_out:
            compute_minutes(record)
        # Without a check-out the stand-down time is only the latest possible end: minutes
        # stay empty, so the verifier records the real hours by hand (records never guesses).
    db.session.flush()
    return len(arrived)

