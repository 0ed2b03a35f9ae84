"""Activation: call out a plan at a level (for real or as a drill), and stand it down.

Activating copies what it needs from the plan, finds the people to call and writes the whole
fan-out (SMS, e-mail, inbox, plus Web Push for those with a live subscription) into the
outbox in the caller's transaction: the activation and its messages commit together or not at
all. Everything here is urgent, so quiet hours never hold a call-out back.
"""
from __future__ import annotations

import math
import secrets
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
from flask import current_app
from flask_babel import force_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, insert, or_, select, text, true, update

from volunteer_hub.accounts.models import User
from volunteer_hub.accounts.permissions import path_filter, require, scope_paths
from volunteer_hub.db import db, is_postgresql, utcnow
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
from volunteer_hub.notify import services as notify
from volunteer_hub.notify.models import CHANNELS
from volunteer_hub.orgs.models import Org, TeamMember
from volunteer_hub.volunteers.models import Certification, Volunteer

FAN_OUT_CHANNELS = ("sms", "email", "inbox")
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


def answer_link(responder: Responder | LinkSubject) -> str:
    """The responder's one-tap link (signed by the responses module)."""
    from volunteer_hub.emergency.responses import response_link

    return response_link(responder)


def answer_links(activation: Activation):
    """answer_link for many responders of `activation`: the site address, the link
    lifetime and the clock are read once, not once per person (half the cost at 100,000)."""
    from volunteer_hub.emergency.responses import base_url, link_valid_hours, response_token

    prefix = f"{base_url()}/emergency/respond/"
    hours = link_valid_hours(activation.id)
    moment = utcnow()

    def link(responder: Responder | LinkSubject) -> str:
        return prefix + response_token(responder, now=moment, valid_hours=hours)

    return link


LINK_MARK = "\x00link\x00"


def alert_text(activation: Activation, locale: str | None) -> str:
    """The alert in one language with LINK_MARK where each person's own link goes: rendered
    once per language, not once per person, in a fan-out."""
    locale = message_locale(locale)
    texts = message_texts(locale)
    template = (activation.templates.get(locale) or DEFAULT_TEMPLATES[locale])["alert"]
    body = render_message(activation, "alert", locale, link=LINK_MARK)
    if "{link}" not in template:
        body += " " + texts["link"].format(link=LINK_MARK)
    return f"{body}\n{texts['reply']}"


def alert_body(activation: Activation, responder: Responder | LinkSubject,
               locale: str | None) -> str:
    return alert_text(activation, locale).replace(LINK_MARK, answer_link(responder))


# --- events -----------------------------------------------------------------------------------

def log_event(activation: Activation, kind: str, detail: dict | None = None, *,
              actor=None, at: datetime | None = None) -> ActivationEvent:
    event = ActivationEvent(activation_id=activation.id, kind=kind, detail=detail or {},
                            actor_id=getattr(actor, "id", actor), at=at or utcnow())
    db.session.add(event)
    return event


# --- targeting --------------------------------------------------------------------------------

class Candidate(NamedTuple):
    """A member to call (a plain tuple: a fan-out makes 100,000)."""

    volunteer_id: int
    user_id: int
    team_id: int
    lat: float | None
    lon: float | None
    phone: str | None
    email: str | None
    locale: str | None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlambda = phi2 - phi1, math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(1.0, a)))


def haversine_km_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """haversine_km from one point to many at once (NaN where a position is missing)."""
    phi1, phi2 = math.radians(lat), np.radians(lats)
    dlambda = np.radians(lons - lon)
    a = np.sin((phi2 - phi1) / 2) ** 2 + math.cos(phi1) * np.cos(phi2) * np.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.minimum(1.0, a)))


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
        # A bounding box lets the database drop the far ones; haversine decides the rest.
        # Members without a position cannot be shown to be inside a radius: not called.
        dlat = activation.radius_km / KM_PER_DEGREE
        cos_lat = max(0.01, math.cos(math.radians(activation.incident_lat)))
        dlon = min(180.0, activation.radius_km / (KM_PER_DEGREE * cos_lat))
        conditions += [
            Volunteer.lat.between(activation.incident_lat - dlat, activation.incident_lat + dlat),
            Volunteer.lon.between(activation.incident_lon - dlon, activation.incident_lon + dlon),
        ]
    return conditions


def find_candidates(activation: Activation, team_ids: list[int]) -> list[tuple[Candidate,
                                                                                float | None]]:
    """The members of `team_ids` to call now, in team call order, with their distance:
    active (so not suspended) adults with a certificate some role needs, not deployed
    elsewhere, not already called here, inside the area."""
    if not team_ids:
        return []
    today = local_today()
    query = (
        select(TeamMember.team_id, Volunteer.id, Volunteer.user_id, Volunteer.lat,
               Volunteer.lon, User.phone, User.email, User.locale)
        .join(Volunteer, Volunteer.id == TeamMember.volunteer_id)
        .join(User, User.id == Volunteer.user_id)
        .where(TeamMember.team_id.in_(team_ids), Volunteer.status == "active",
               User.active.is_(True), Volunteer.birth_date <= _adult_birth_cutoff(today),
               _qualifies_for_a_role(activation.roles, today),
               ~_deployed_elsewhere(activation), ~_already_called(activation),
               *_area_conditions(activation)))
    order = {team_id: i for i, team_id in enumerate(team_ids)}
    rows = sorted(db.session.execute(query).all(), key=lambda row: (order[row[0]], row[1]))
    distances = _distances(activation, rows)
    chosen, seen = [], set()
    for row, distance in zip(rows, distances):
        if row[1] in seen:
            continue  # in two called teams: called once, with the first team
        if activation.radius_km is not None and (distance is None
                                                 or distance > activation.radius_km):
            continue
        seen.add(row[1])
        chosen.append((Candidate(row[1], row[2], row[0], row[3], row[4], row[5], row[6],
                                 row[7]), distance))
    return chosen


def _distances(activation: Activation, rows: list) -> list[float | None]:
    """Each row's distance (km, 3 decimals) from the incident, None without positions."""
    if activation.incident_lat is None or activation.incident_lon is None or not rows:
        return [None] * len(rows)
    lats = np.array([row[3] for row in rows], dtype=float)  # None becomes NaN
    lons = np.array([row[4] for row in rows], dtype=float)
    km = np.round(haversine_km_many(activation.incident_lat, activation.incident_lon,
                                    lats, lons), 3)
    return [None if math.isnan(d) else d for d in km.tolist()]


# --- calling ----------------------------------------------------------------------------------

def call_members(activation: Activation, team_ids: list[int], *,
                 new_event: bool = False) -> int:
    """Create Responder rows for the members to call now and write their alerts (round 1).

    `new_event`: the first call of a new activation, whose alert key no message has yet."""
    chosen = find_candidates(activation, team_ids)
    if not chosen:
        return 0
    moment = utcnow()
    if is_postgresql():
        ids = _preallocated_responder_ids(len(chosen))
        people = _link_subjects(activation, chosen, ids)
        rows = [(responder_id, activation.id, c.volunteer_id, c.user_id, c.team_id, distance,
                 moment, 1, "none") for responder_id, (c, distance) in zip(ids, chosen)]
        targets = alert_targets(activation, people)  # may read the database: before the COPY
        _copy_responders(rows)
    else:
        ids = _insert_responders(activation, chosen, moment)
        people = _link_subjects(activation, chosen, ids)
        targets = alert_targets(activation, people)
    broadcast(activation, f"emergency:{activation.id}:alert:1", targets, new_event=new_event)
    return len(people)


def _link_subjects(activation: Activation, chosen: list[tuple[Candidate, float | None]],
                   ids: list[int]) -> list[tuple[LinkSubject, Candidate]]:
    return [(LinkSubject(responder_id, activation.id, c.volunteer_id, c.user_id, c.team_id), c)
            for responder_id, (c, _distance) in zip(ids, chosen)]


RESPONDER_COLUMNS = ("id", "activation_id", "volunteer_id", "user_id", "team_id",
                     "distance_km", "notified_at", "notify_round", "answer")


def _preallocated_responder_ids(count: int) -> list[int]:
    """Ids for `count` new responder rows from their sequence, so that links can be signed
    before the rows are in (one query instead of reading the ids back)."""
    # The sequence is named once: pg_get_serial_sequence per row cost seconds at 100,000.
    sequence = db.session.execute(text("SELECT pg_get_serial_sequence(:table, 'id')"),
                                  {"table": Responder.__tablename__}).scalar_one()
    return list(db.session.execute(
        text("SELECT nextval(CAST(:sequence AS regclass)) FROM generate_series(1, :count)"),
        {"sequence": sequence, "count": count}).scalars())


def _copy_responders(rows: list[tuple]) -> None:
    """COPY the rows (in RESPONDER_COLUMNS order) on the session's connection."""
    connection = db.session.connection().connection.driver_connection
    columns = ", ".join(RESPONDER_COLUMNS)
    with connection.cursor() as cursor, cursor.copy(
            f"COPY {Responder.__tablename__} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _insert_responders(activation: Activation, chosen: list[tuple[Candidate, float | None]],
                       moment: datetime) -> list[int]:
    """SQLite: one executemany, the ids read back in one query (in `chosen` order)."""
    db.session.execute(insert(Responder.__table__), [
        dict(activation_id=activation.id, volunteer_id=c.volunteer_id, user_id=c.user_id,
             team_id=c.team_id, distance_km=distance, notified_at=moment, notify_round=1,
             answer="none") for c, distance in chosen])
    ids = dict(db.session.execute(
        select(Responder.volunteer_id, Responder.id)
        .where(Responder.activation_id == activation.id)).all())
    return [ids[c.volunteer_id] for c, _distance in chosen]


class LinkSubject(NamedTuple):
    """What a one-tap link is bound to: a responder row without loading it back as an ORM
    object (thousands of them in a fan-out)."""

    id: int
    activation_id: int
    volunteer_id: int
    user_id: int
    team_id: int | None


def send_alerts(activation: Activation,
                people: list[tuple[Responder | LinkSubject, Candidate]], *, round_: int,
                new_event: bool = False) -> None:
    """One alert per person and channel under f"emergency:{id}:alert:{round}"."""
    broadcast(activation, f"emergency:{activation.id}:alert:{round_}",
              alert_targets(activation, people), new_event=new_event)


def alert_targets(activation: Activation,
                  people: list[tuple[Responder | LinkSubject, Candidate]]) -> list[notify.Target]:
    """Each person's alert in their language with their own link; the text is rendered once
    per language."""
    texts = {locale: (alert_text(activation, locale), message_subject(activation, locale))
             for locale in MESSAGE_LOCALES}
    link = answer_links(activation)
    targets = []
    for responder, c in people:
        locale = message_locale(c.locale)
        body, subject = texts[locale]
        targets.append(notify.Target(
            user_id=c.user_id, body=body.replace(LINK_MARK, link(responder)),
            phone=c.phone, email=c.email, locale=locale, subject=subject))
    return targets


def broadcast(activation: Activation, event_key: str, targets: list[notify.Target], *,
              new_event: bool = False) -> None:
    """Write `targets` (people called in `activation`) on every fan-out channel, in one pass.

    Web Push goes along where notify supports it: for someone without a live subscription it
    falls back to SMS, which they get anyway, so it adds a message only for those who have one.
    `new_event`: no message of `event_key` exists yet for these people (see enqueue_many)."""
    channels = FAN_OUT_CHANNELS + (("webpush",) if "webpush" in CHANNELS else ())
    notify.enqueue_many(event_key, targets, channels=channels, urgent=True,
                        new_event=new_event)


def candidates_for(responders: list[Responder]) -> list[tuple[Responder, Candidate]]:
    """Contact details of existing responders (of one activation), for re-notification and
    the stand-down: one query over the activation, not one placeholder per person."""
    if not responders:
        return []
    contacts = {row.id: row for row in db.session.execute(
        select(Responder.id, User.phone, User.email, User.locale)
        .join(User, User.id == Responder.user_id)
        .where(Responder.activation_id == responders[0].activation_id)).all()}
    return [(r, Candidate(volunteer_id=r.volunteer_id, user_id=r.user_id, team_id=r.team_id,
                          lat=None, lon=None, phone=contacts[r.id].phone,
                          email=contacts[r.id].email, locale=contacts[r.id].locale))
            for r in responders]


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
        raise ValidationFailed(_l("This level calls people within a radius of the incident: "
                                  "give the incident's position."), field="lat",
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
    called = call_members(activation, first_teams, new_event=True)
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
    responders = db.session.execute(select(Responder).where(
        Responder.activation_id == activation.id)).scalars().all()
    targets = [notify.Target(user_id=c.user_id,
                             body=render_message(activation, "stand_down", c.locale),
                             phone=c.phone, email=c.email, locale=message_locale(c.locale),
                             subject=message_subject(activation, c.locale))
               for _responder, c in candidates_for(responders)]
    if targets:
        broadcast(activation, f"emergency:{activation.id}:stand_down", targets)


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

