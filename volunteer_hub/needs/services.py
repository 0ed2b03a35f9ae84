"""Beneficiaries (privacy and access log), needs, their slots and states, the inbox."""
from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from volunteer_hub.accounts import services as accounts
from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.needs.catalogue import (
    BENEFICIARY_CATEGORIES, NEED_STATES, NEED_TYPES, PRIORITIES, SENSITIVE_FIELDS, TASK_FIELDS,
)
from volunteer_hub.needs.models import (
    Beneficiary, BeneficiaryAccessLog, Need, NeedSlot,
)
from volunteer_hub.notify import services as notify_services
from volunteer_hub.orgs.models import Org
from volunteer_hub.orgs.services import community_and_grid
from volunteer_hub.security import decrypt, encrypt
from volunteer_hub.volunteers import idnumbers
from volunteer_hub.volunteers.catalogue import CERTIFICATION_KINDS, SKILLS

MAX_OCCURRENCES = 400
MAX_RECURRENCE_DAYS = 366
CHILD_CONSENT_AGE = 14  # PIPL Art. 31: a guardian consents for a child under 14
APPROX_DECIMALS = 3  # about 100 m

NEED_TRANSITIONS = {
    "draft": {"open", "cancelled"},
    "open": {"in_progress", "cancelled"},
    "partly_matched": {"in_progress", "cancelled"},
    "matched": {"in_progress", "cancelled"},
    "in_progress": {"done", "cancelled"},
    "done": set(),
    "cancelled": set(),
}
# States in which the need takes volunteers, and in which volunteers may see it.
MATCHABLE_STATES = ("open", "partly_matched", "matched")
PUBLISHED_STATES = MATCHABLE_STATES + ("in_progress",)


def local_now() -> datetime:
    """The station's wall-clock time, naive (see needs.models)."""
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.now(zone).replace(tzinfo=None)


def local_today() -> date:
    return local_now().date()


# --- beneficiaries --------------------------------------------------------------------------

def _mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * max(1, len(name) - 1)


def _approx(value: float | None) -> float | None:
    return None if value is None else round(value, APPROX_DECIMALS)


def _place(community_id, grid_id) -> tuple[Org, Org | None]:
    return community_and_grid(community_id, grid_id, missing=_l("Choose a community."))


def _set_child_fields(beneficiary: Beneficiary, data: dict, *, by) -> None:
    """Birth date and guardian of a child; under 14 a recorded guardian consent is required."""
    birth = data.get("birth_date")
    if beneficiary.category == "left_behind_child" and birth is None and \
            beneficiary.birth_date_encrypted is None:
        raise ValidationFailed(_l("Enter the child's date of birth."),
                               code="BIRTH_DATE_REQUIRED", field="birth_date")
    if birth is not None:
        if birth >= date.today():
            raise ValidationFailed(_l("The date of birth must be in the past."),
                                   code="BIRTH_DATE_INVALID", field="birth_date")
        beneficiary.birth_date_encrypted = encrypt(birth.isoformat())
        beneficiary.under_14 = idnumbers.age_on(birth, date.today()) < CHILD_CONSENT_AGE
    guardian = data.get("guardian")
    if guardian:
        beneficiary.guardian_name_encrypted = encrypt(guardian["name"].strip())
        beneficiary.guardian_phone_encrypted = encrypt(
            accounts.normalize_phone(guardian["phone"]))
        beneficiary.guardian_relationship = guardian.get("relationship")
    if beneficiary.category == "left_behind_child" and beneficiary.guardian_name_encrypted is None:
        raise ValidationFailed(_l("A child's record needs a guardian's name and phone."),
                               code="GUARDIAN_REQUIRED", field="guardian")
    if data.get("guardian_consent"):
        beneficiary.guardian_consent_at = utcnow()
        beneficiary.guardian_consent_version = current_app.config["CONSENT_TEXT_VERSION"]
        beneficiary.guardian_consent_recorded_by_id = by.id if by else None
    if beneficiary.under_14 and beneficiary.guardian_consent_at is None:
        raise ValidationFailed(
            _l("A child under 14 can only be recorded with the guardian's consent "
               "(PIPL Art. 31): record the consent first."),
            code="GUARDIAN_CONSENT_REQUIRED", field="guardian_consent")


def create_beneficiary(data: dict, *, by) -> Beneficiary:
    """Record a person the community serves; personal fields are stored encrypted."""
    community, grid = _place(data.get("community_id"), data.get("grid_id"))
    if by is not None:
        require(by, "beneficiaries.manage", community)
    if data.get("category") not in BENEFICIARY_CATEGORIES:
        raise ValidationFailed(_l("Choose a category."), code="CATEGORY_UNKNOWN",
                               field="category")
    name = (data.get("name") or "").strip()
    if not name:
        raise ValidationFailed(_l("Enter the name."), code="NAME_REQUIRED", field="name")
    beneficiary = Beneficiary(
        category=data["category"], community=community, grid=grid,
        org_path=(grid or community).path, name_encrypted=encrypt(name),
        name_masked=_mask_name(name), gender=data.get("gender"),
        address_encrypted=encrypt(data.get("address") or None),
        phone_encrypted=encrypt(accounts.normalize_phone(data["phone"]))
        if data.get("phone") else None,
        care_notes_encrypted=encrypt(data.get("care_notes") or None),
        approx_lat=_approx(data.get("lat")), approx_lon=_approx(data.get("lon")),
        created_by_id=by.id if by else None,
    )
    _set_child_fields(beneficiary, data, by=by)
    db.session.add(beneficiary)
    db.session.flush()
    return beneficiary


def update_beneficiary(beneficiary: Beneficiary, changes: dict, *, by) -> Beneficiary:
    require(by, "beneficiaries.manage", beneficiary.community, hide=True)
    if "name" in changes and (changes["name"] or "").strip():
        beneficiary.name_encrypted = encrypt(changes["name"].strip())
        beneficiary.name_masked = _mask_name(changes["name"])
    if "address" in changes:
        beneficiary.address_encrypted = encrypt(changes["address"] or None)
    if "phone" in changes:
        beneficiary.phone_encrypted = encrypt(accounts.normalize_phone(changes["phone"])) \
            if changes["phone"] else None
    if "care_notes" in changes:
        beneficiary.care_notes_encrypted = encrypt(changes["care_notes"] or None)
    for field in ("gender", "active"):
        if field in changes:
            setattr(beneficiary, field, changes[field])
    if "lat" in changes or "lon" in changes:
        beneficiary.approx_lat = _approx(changes.get("lat"))
        beneficiary.approx_lon = _approx(changes.get("lon"))
    _set_child_fields(beneficiary, changes, by=by)
    db.session.flush()
    return beneficiary


def search_beneficiaries(user, *, org_id=None, category=None):
    """Beneficiaries in the caller's organizer scope (masked names only)."""
    query = select(Beneficiary).where(
        path_filter(Beneficiary.org_path, scope_paths(user, "beneficiaries.manage")))
    if org_id:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.where(Beneficiary.org_path.startswith(org.path, autoescape=True))
    if category:
        query = query.where(Beneficiary.category == category)
    return query.order_by(Beneficiary.id)


def can_manage_beneficiary(user, beneficiary: Beneficiary) -> bool:
    return can(user, "beneficiaries.manage", beneficiary.community)


def _clear_values(beneficiary: Beneficiary) -> dict:
    values = {
        "name": decrypt(beneficiary.name_encrypted),
        "birth_date": decrypt(beneficiary.birth_date_encrypted),
        "address": decrypt(beneficiary.address_encrypted),
        "phone": decrypt(beneficiary.phone_encrypted),
        "care_notes": decrypt(beneficiary.care_notes_encrypted),
        "guardian_name": decrypt(beneficiary.guardian_name_encrypted),
        "guardian_phone": decrypt(beneficiary.guardian_phone_encrypted),
    }
    return values


def log_access(beneficiary: Beneficiary, *, by, fields, purpose: str,
               assignment_id: int | None = None) -> BeneficiaryAccessLog:
    entry = BeneficiaryAccessLog(beneficiary_id=beneficiary.id, user_id=by.id if by else None,
                                 fields=",".join(fields), purpose=purpose[:100],
                                 assignment_id=assignment_id)
    db.session.add(entry)
    db.session.flush()
    return entry


def _committed_assignment(beneficiary: Beneficiary, user):
    """The caller's accepted task for this person, until its slot ends plus the grace period
    (issue 13: nothing personal before the volunteer accepts, nothing after the task)."""
    from volunteer_hub.matching.models import Assignment
    from volunteer_hub.records.services import missing_checkout_grace

    volunteer = getattr(user, "volunteer", None)
    if volunteer is None:
        return None
    return db.session.execute(
        select(Assignment).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .join(Need, NeedSlot.need_id == Need.id)
        .where(Assignment.volunteer_id == volunteer.id,
               Assignment.state == "accepted",
               Need.beneficiary_id == beneficiary.id,
               NeedSlot.status.in_(("open", "filled")),
               NeedSlot.end >= local_now() - missing_checkout_grace())
        .order_by(NeedSlot.start).limit(1)
    ).scalar_one_or_none()


def _related_to_volunteer(beneficiary: Beneficiary, user) -> bool:
    """A volunteer may see the summary when a published need or an assignment links them."""
    from volunteer_hub.matching.models import Assignment

    if getattr(user, "volunteer", None) is None:
        return False
    published = db.session.execute(
        select(Need.id).where(Need.beneficiary_id == beneficiary.id,
                              Need.state.in_(PUBLISHED_STATES)).limit(1)).first()
    if published:
        return True
    return db.session.execute(
        select(Assignment.id).join(NeedSlot, Assignment.slot_id == NeedSlot.id)
        .join(Need, NeedSlot.need_id == Need.id)
        .where(Assignment.volunteer_id == user.volunteer.id,
               Need.beneficiary_id == beneficiary.id).limit(1)).first() is not None


def approximate_distance_km(beneficiary: Beneficiary, volunteer) -> float | None:
    """Distance rounded to 0.5 km between the approximate point and the volunteer's home."""
    if volunteer is None or None in (beneficiary.approx_lat, beneficiary.approx_lon,
                                     volunteer.lat, volunteer.lon):
        return None
    km = haversine_km(beneficiary.approx_lat, beneficiary.approx_lon, volunteer.lat,
                      volunteer.lon)
    return max(0.5, round(km * 2) / 2)


def area_distance_band(beneficiary: Beneficiary, volunteer) -> str | None:
    """The distance band (matching.distance_bands) from the centre of the person's grid, else
    community, to the volunteer's home; None when either point is unknown."""
    from volunteer_hub.matching.distance_bands import band_for

    if volunteer is None or None in (volunteer.lat, volunteer.lon):
        return None
    for org in (beneficiary.grid, beneficiary.community):
        if org is not None and org.lat is not None and org.lon is not None:
            return band_for(haversine_km(org.lat, org.lon, volunteer.lat, volunteer.lon)).code
    return None


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + \
        math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6371.0088 * math.asin(min(1.0, math.sqrt(a)))


def beneficiary_view(beneficiary: Beneficiary, *, by, purpose: str = "view") -> dict:
    """What the caller may see of a person; every read is written to the access log.

    Organizers of the person's community see everything; a volunteer on a confirmed or
    accepted task for the person sees only what that task needs; any other volunteer
    linked by a published need sees the community and an approximate distance. Anyone
    else gets 404, as if the person did not exist.
    """
    view = {
        "id": beneficiary.id, "community_id": beneficiary.community_id,
        "community_name_zh": beneficiary.community.name_zh,
        "community_name_en": beneficiary.community.name_en,
        "access": "summary",
    }
    if can_manage_beneficiary(by, beneficiary):
        values = _clear_values(beneficiary)
        view.update(values, access="full", category=beneficiary.category,
                    gender=beneficiary.gender, grid_id=beneficiary.grid_id,
                    name_masked=beneficiary.name_masked, under_14=beneficiary.under_14,
                    guardian_relationship=beneficiary.guardian_relationship,
                    guardian_consent_at=beneficiary.guardian_consent_at,
                    approx_lat=beneficiary.approx_lat, approx_lon=beneficiary.approx_lon,
                    active=beneficiary.active)
        read = [f for f in SENSITIVE_FIELDS if values.get(f) is not None]
        log_access(beneficiary, by=by, fields=read, purpose=purpose)
        return view
    assignment = _committed_assignment(beneficiary, by)
    if assignment is not None:
        need = assignment.slot.need
        allowed = TASK_FIELDS.get(need.type, ("name",))
        if beneficiary.is_child:
            allowed = tuple(f for f in allowed if f != "phone")
        values = _clear_values(beneficiary)
        shown = {f: values[f] for f in allowed if values.get(f) is not None}
        view.update(shown, access="task",
                    distance_km=approximate_distance_km(beneficiary, by.volunteer))
        log_access(beneficiary, by=by, fields=list(shown), purpose=f"task:{need.type}",
                   assignment_id=assignment.id)
        return view
    if not _related_to_volunteer(beneficiary, by):
        raise NotFound()
    # Before a task is confirmed, a band from the area's centre (issue 11 item 3): a distance
    # from the person's own point, read again from a few homes, would locate them.
    view["distance_band"] = area_distance_band(beneficiary, by.volunteer)
    log_access(beneficiary, by=by, fields=[], purpose=purpose)
    return view


def get_beneficiary(beneficiary_id: int) -> Beneficiary:
    beneficiary = db.session.get(Beneficiary, beneficiary_id)
    if beneficiary is None:
        raise NotFound()
    return beneficiary


def access_log(beneficiary: Beneficiary, *, by):
    """Reads of this person's record, newest first: for organizers of the community."""
    require(by, "beneficiaries.manage", beneficiary.community, hide=True)
    return select(BeneficiaryAccessLog).where(
        BeneficiaryAccessLog.beneficiary_id == beneficiary.id
    ).order_by(BeneficiaryAccessLog.id.desc())


# --- needs ----------------------------------------------------------------------------------

def _validate_requirements(data: dict) -> tuple[dict, list]:
    skills = {}
    for item in data.get("required_skills") or []:
        code, level = item["code"], item.get("min_level", item.get("level", 1))
        if code not in SKILLS:
            raise ValidationFailed(_l("Unknown value: %(values)s", values=code),
                                   code="SKILL_UNKNOWN", field="required_skills")
        if level not in (1, 2, 3):
            raise ValidationFailed(_l("A level is 1, 2 or 3."), code="SKILL_LEVEL",
                                   field="required_skills")
        skills[code] = level
    certs = sorted(set(data.get("required_certifications") or []))
    unknown = [c for c in certs if c not in CERTIFICATION_KINDS]
    if unknown:
        raise ValidationFailed(_l("Unknown value: %(values)s", values=", ".join(unknown)),
                               code="CERTIFICATION_KIND", field="required_certifications")
    return skills, certs


def _validate_schedule(data: dict) -> None:
    start, end = data["start_minute"], data["end_minute"]
    if not (0 <= start < end <= 24 * 60):
        raise ValidationFailed(_l("The start time must be before the end time."),
                               code="TIME_WINDOW", field="end_minute")
    if data.get("recurrence", "none") == "weekly":
        weekdays = data.get("weekdays") or []
        if not weekdays or any(d not in range(7) for d in weekdays):
            raise ValidationFailed(_l("Choose the days of the week."), code="WEEKDAYS_REQUIRED",
                                   field="weekdays")
        until = data.get("until")
        if until is None or until < data["first_date"]:
            raise ValidationFailed(_l("A weekly need needs an end date after its first date."),
                                   code="RECURRENCE_UNTIL", field="until")
        if (until - data["first_date"]).days > MAX_RECURRENCE_DAYS:
            raise ValidationFailed(_l("A recurrence can last at most one year."),
                                   code="RECURRENCE_TOO_LONG", field="until")


NEED_FIELDS = ("type", "custom_type", "title", "description", "volunteers_per_occurrence",
               "first_date", "start_minute", "end_minute", "recurrence", "weekdays", "until",
               "location_note", "lat", "lon", "max_distance_km", "priority", "same_gender",
               "adults_only", "background_check", "risk_disclosure", "insurance_required",
               "requires_approval")


def _apply_need_fields(need: Need, data: dict) -> None:
    if data.get("type") not in NEED_TYPES:
        raise ValidationFailed(_l("Choose a type of need."), code="NEED_TYPE_UNKNOWN",
                               field="type")
    if data["type"] == "custom" and not (data.get("custom_type") or "").strip():
        raise ValidationFailed(_l("Describe the type of need."), code="CUSTOM_TYPE_REQUIRED",
                               field="custom_type")
    if data.get("priority", "normal") not in PRIORITIES:
        raise ValidationFailed(_l("Unknown priority."), code="PRIORITY_UNKNOWN",
                               field="priority")
    _validate_schedule(data)
    skills, certs = _validate_requirements(data)
    for field in NEED_FIELDS:
        if field in data:
            setattr(need, field, data[field])
    need.required_skills, need.required_certifications = skills, certs
    if need.recurrence != "weekly":
        need.recurrence, need.weekdays, need.until = "none", [], None
    if need.same_gender and (need.beneficiary is None or not need.beneficiary.gender):
        raise ValidationFailed(_l("Same-gender care needs a beneficiary whose gender is "
                                  "recorded."), code="SAME_GENDER_NEEDS_BENEFICIARY",
                               field="same_gender")
    if need.beneficiary is not None and need.beneficiary.is_child:
        need.background_check = True  # work with children always asks for a background check


def create_need(data: dict, *, by) -> Need:
    """Post a need (as a draft) for a beneficiary or for the community."""
    org = db.session.get(Org, data.get("org_id")) if data.get("org_id") else None
    beneficiary = None
    if data.get("beneficiary_id"):
        beneficiary = db.session.get(Beneficiary, data["beneficiary_id"])
        if beneficiary is None or (by is not None and
                                   not can_manage_beneficiary(by, beneficiary)):
            raise ValidationFailed(_l("Unknown beneficiary."), code="BENEFICIARY_UNKNOWN",
                                   field="beneficiary_id")
        org = org or beneficiary.grid or beneficiary.community
        if not beneficiary.org_path.startswith(org.path):
            raise ValidationFailed(_l("The beneficiary lives outside this organization."),
                                   code="BENEFICIARY_OUTSIDE_ORG", field="beneficiary_id")
    if org is None:
        raise ValidationFailed(_l("Choose an organization."), code="ORG_REQUIRED",
                               field="org_id")
    if by is not None:
        require(by, "needs.manage", org)
    community = org.community()
    need = Need(org=org, org_path=org.path, community=community,
                grid=org if org.level == "grid" else None, beneficiary=beneficiary,
                state="draft", created_by_id=by.id if by else None)
    if beneficiary is not None:
        need.community, need.grid = beneficiary.community, beneficiary.grid
    _apply_need_fields(need, data)
    if need.lat is None and beneficiary is not None and beneficiary.approx_lat is not None:
        need.lat, need.lon = beneficiary.approx_lat, beneficiary.approx_lon
    if need.lat is None and org.lat is not None:
        need.lat, need.lon = org.lat, org.lon
    db.session.add(need)
    db.session.flush()
    if data.get("publish"):
        set_need_state(need, "open", by=by)
    return need


def update_need(need: Need, changes: dict, *, by) -> Need:
    """Change a draft (a published need is cancelled and posted again instead)."""
    require(by, "needs.manage", need.org, hide=not can(by, "needs.read", need.org))
    if need.state != "draft":
        raise Conflict(_l("Only a draft can be edited: cancel the need and post a new one."),
                       code="NEED_NOT_DRAFT")
    data = {field: getattr(need, field) for field in NEED_FIELDS}
    data["required_skills"] = [{"code": c, "min_level": lvl}
                               for c, lvl in (need.required_skills or {}).items()]
    data["required_certifications"] = need.required_certifications
    data.update(changes)
    _apply_need_fields(need, data)
    db.session.flush()
    return need


def get_need(need_id: int, *, by) -> Need:
    """A need the caller may see: organizers in scope; volunteers once it is published."""
    need = db.session.get(Need, need_id)
    if need is None:
        raise NotFound()
    if can(by, "needs.read", need.org):
        return need
    if getattr(by, "volunteer", None) is not None and need.state in PUBLISHED_STATES:
        return need
    raise NotFound()


def search_needs(user, *, org_id=None, state=None, type=None, beneficiary_id=None):
    query = select(Need).where(path_filter(Need.org_path, scope_paths(user, "needs.read")))
    if org_id:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.where(Need.org_path.startswith(org.path, autoescape=True))
    if state:
        query = query.where(Need.state == state)
    if type:
        query = query.where(Need.type == type)
    if beneficiary_id:
        query = query.where(Need.beneficiary_id == beneficiary_id)
    return query.order_by(Need.first_date, Need.id)


def occurrences(need: Need) -> list[tuple[datetime, datetime]]:
    """The dated (start, end) occurrences of a need: one, or each chosen weekday until `until`."""
    def window(day: date) -> tuple[datetime, datetime]:
        start = datetime.combine(day, time()) + timedelta(minutes=need.start_minute)
        return start, datetime.combine(day, time()) + timedelta(minutes=need.end_minute)

    if need.recurrence != "weekly":
        return [window(need.first_date)]
    weekdays = set(need.weekdays or [])
    days = [need.first_date + timedelta(days=n)
            for n in range((need.until - need.first_date).days + 1)]
    return [window(day) for day in days if day.weekday() in weekdays]


def _expand_slots(need: Need) -> None:
    if need.slots:
        return
    dated = occurrences(need)
    if not dated:
        raise ValidationFailed(_l("This schedule has no occurrence: check the days and dates."),
                               code="NO_OCCURRENCES", field="weekdays")
    if len(dated) * need.volunteers_per_occurrence > MAX_OCCURRENCES:
        raise ValidationFailed(_l("Too many occurrences: shorten the recurrence."),
                               code="TOO_MANY_OCCURRENCES", field="until")
    for start, end in dated:
        for position in range(1, need.volunteers_per_occurrence + 1):
            need.slots.append(NeedSlot(start=start, end=end, position=position))


def set_need_state(need: Need, state: str, *, reason: str | None = None, by) -> Need:
    """Publish (open), start, finish or cancel a need; matched states follow the slots."""
    if by is not None:
        require(by, "needs.manage", need.org, hide=not can(by, "needs.read", need.org))
    if state not in NEED_STATES:
        raise ValidationFailed(_l("Unknown state."), code="STATE_UNKNOWN", field="state")
    if state not in NEED_TRANSITIONS[need.state]:
        raise Conflict(_l("A need that is %(current)s cannot become %(new)s.",
                          current=NEED_STATES[need.state], new=NEED_STATES[state]),
                       code="NEED_STATE_TRANSITION", field="state")
    if state == "cancelled":
        if not (reason or "").strip():
            raise ValidationFailed(_l("Give a reason for the cancellation."),
                                   code="REASON_REQUIRED", field="reason")
        _release_all(need, reason.strip(), by=by)
    if state == "open":
        _expand_slots(need)
    if state == "done":
        for slot in need.slots:
            if slot.status != "cancelled":
                slot.status = "done"
    need.state = state
    need.cancel_reason = reason.strip() if state == "cancelled" else None
    need.state_changed_at = utcnow()
    db.session.flush()
    if state == "open":
        refresh_need_state(need)
    return need


def _release_all(need: Need, reason: str, *, by) -> None:
    """Cancel every slot and active assignment of a cancelled need; tell the volunteers."""
    from volunteer_hub.matching.models import ACTIVE_STATES, COMMITTED_STATES, Assignment

    slot_ids = [slot.id for slot in need.slots]
    for slot in need.slots:
        if slot.status in ("open", "filled"):
            slot.status = "cancelled"
    if not slot_ids:
        return
    active = db.session.execute(select(Assignment).where(
        Assignment.slot_id.in_(slot_ids), Assignment.state.in_(ACTIVE_STATES))).scalars()
    for assignment in active:
        if assignment.state in COMMITTED_STATES:
            notify(assignment.volunteer.user,
                   _l("The task \"%(title)s\" was cancelled: %(reason)s",
                      title=need.title, reason=reason),
                   event_key=f"match:{assignment.id}:need_cancelled")
        assignment.state = "cancelled"
        assignment.reason = reason
        assignment.cancelled_at = utcnow()
        assignment.cancelled_by_id = by.id if by else None


def refresh_need_state(need: Need) -> Need:
    """open / partly_matched / matched from how many live slots are filled."""
    if need.state not in MATCHABLE_STATES:
        return need
    live = [s for s in need.slots if s.status in ("open", "filled")]
    filled = sum(1 for s in live if s.status == "filled")
    if live and filled == len(live):
        need.state = "matched"
    elif filled:
        need.state = "partly_matched"
    else:
        need.state = "open"
    return need


# --- inbox ----------------------------------------------------------------------------------

# One inbox for the whole service: the notify feature's (OutboxMessage, channel "inbox").

def notify(user, message, *, event_key: str, link: str | None = None):
    """Put a message in the user's inbox, rendered in the user's language and kept in every
    language of the site, so that the inbox shows it in the reader's. The event key (one
    message's: it names the person's assignment) makes a repeat of the same event (e.g. a
    retried request) a no-op."""
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    texts = {}
    for language in dict.fromkeys([locale, *current_app.config["LANGUAGES"]]):
        with force_locale(language):
            texts[language] = str(message)[:500]
    messages = notify_services.enqueue(event_key, user, body=texts[locale], link=link,
                                       channels=("inbox",), locale=locale, translations=texts)
    return messages[0] if messages else None


def inbox(user):
    return notify_services.inbox_query(user)


def unread_count(user) -> int:
    query = notify_services.inbox_query(user, unread=True).order_by(None)
    return db.session.execute(select(db.func.count()).select_from(query.subquery())).scalar_one()


def mark_read(message_id: int, *, by):
    return notify_services.mark_read(message_id, by=by)
