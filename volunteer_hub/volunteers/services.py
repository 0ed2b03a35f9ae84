"""Volunteer services: registration, profile, skills, certifications, availability, consent."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from volunteer_hub.accounts import services as accounts
from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.orgs.models import Org, TeamMember
from volunteer_hub.orgs.services import community_and_grid
from volunteer_hub.security import decrypt, encrypt, keyed_hash
from volunteer_hub.volunteers import idnumbers
from volunteer_hub.volunteers.catalogue import (
    CERTIFICATION_KINDS, CONSENT_KINDS, GENDERS, LANGUAGES, SKILLS, STATUS_LABELS, STATUSES,
)
from volunteer_hub.volunteers.models import (
    AvailabilityException, AvailabilityWindow, Certification, Consent, HomeLocationChange,
    Volunteer, VolunteerSkill,
)

ID_ERROR_MESSAGES = {
    "ID_LEGACY_15": _l("15-digit ID numbers are no longer valid: enter the 18-character number "
                       "on your current card."),
    "ID_LENGTH": _l("A mainland ID number has 18 characters."),
    "ID_FORMAT": _l("Use only digits (and X as the last character for a mainland ID)."),
    "ID_REGION": _l("The first six digits are not an area code of the national list (GB/T "
                    "2260): check the number for a typo."),
    "ID_BIRTH_DATE_INVALID": _l("The birth date inside this ID number is not a real past date."),
    "ID_CHECKSUM": _l("The last character does not match: check the number for a typo."),
}

# Who may move a volunteer from one status to another.
STATUS_TRANSITIONS = {
    "pending": {"active", "left"},
    "active": {"suspended", "left"},
    "suspended": {"active", "left"},
    "left": {"active"},
}


@dataclass(frozen=True)
class IdentityInfo:
    number: str
    birth_date: date
    gender: str | None


# --- identity -------------------------------------------------------------------------------

def parse_identity(id_type: str, id_number: str, birth_date: date | None,
                   gender: str | None) -> IdentityInfo:
    """Validate the ID; a mainland ID fixes birth date and gender, others must give them."""
    try:
        if id_type == idnumbers.MAINLAND_ID:
            parsed = idnumbers.parse_mainland_id(id_number)
            if birth_date and birth_date != parsed.birth_date:
                raise ValidationFailed(_l("The birth date does not match the ID number."),
                                       code="ID_BIRTH_DATE_MISMATCH", field="birth_date")
            if gender and gender != parsed.gender:
                raise ValidationFailed(_l("The gender does not match the ID number."),
                                       code="ID_GENDER_MISMATCH", field="gender")
            return IdentityInfo(parsed.number, parsed.birth_date, parsed.gender)
        if id_type not in idnumbers.ID_TYPES:
            raise ValidationFailed(_l("Unknown ID type."), code="ID_TYPE", field="id_type")
        number = idnumbers.validate_other_id(id_number)
    except idnumbers.IdNumberError as error:
        raise ValidationFailed(ID_ERROR_MESSAGES[error.code], code=error.code,
                               field="id_number") from None
    if birth_date is None or birth_date >= date.today():
        raise ValidationFailed(_l("Enter your date of birth."), code="BIRTH_DATE_REQUIRED",
                               field="birth_date")
    if gender not in GENDERS:
        raise ValidationFailed(_l("Choose a gender."), code="GENDER_REQUIRED", field="gender")
    return IdentityInfo(number, birth_date, gender)


def id_hash(id_type: str, number: str) -> str:
    return keyed_hash(f"{id_type}:{number}")


def ensure_id_unused(id_type: str, number: str, *, except_id: int | None = None) -> str:
    digest = id_hash(id_type, number)
    query = select(Volunteer.id).where(Volunteer.id_number_hash == digest)
    if except_id is not None:
        query = query.where(Volunteer.id != except_id)
    if db.session.execute(query).first():
        raise Conflict(_l("This ID number is already registered: one ID, one account. "
                          "Log in, or ask your community to reset your password."),
                       code="ID_ALREADY_REGISTERED", field="id_number")
    return digest


def may_reveal_id(user, volunteer: Volunteer) -> bool:
    """The volunteer themself, or someone allowed to read the clear ID number."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    return user.id == volunteer.user_id or can(user, "volunteers.reveal_id", volunteer.community)


def visible_birth_date(user, volunteer: Volunteer) -> date | None:
    """The birth date only for who may reveal the ID: with the masked ID (area code and last
    two characters) it would narrow the number to a handful of candidates. Others see the age.
    """
    return volunteer.birth_date if may_reveal_id(user, volunteer) else None


def age_of(volunteer: Volunteer) -> int:
    return idnumbers.age_on(volunteer.birth_date, date.today())


def reveal_id_number(volunteer: Volunteer, *, by,
                     route: str = "volunteers.reveal_id_number") -> str:
    """The clear ID number, for the volunteer themself or an organizer in scope (recorded in
    the access log: flush only, the caller commits)."""
    if by.id != volunteer.user_id:
        require(by, "volunteers.reveal_id", volunteer.community, hide=True)
        from volunteer_hub.privacy.services import record_reveal

        if volunteer.id_number_encrypted:  # a closed account holds none: nothing was seen
            record_reveal(volunteer, by=by, route=route)
    if not volunteer.id_number_encrypted:
        return ""  # not a wrong key: decrypting nothing would raise that alarm
    return decrypt(volunteer.id_number_encrypted) or ""


# --- registration ---------------------------------------------------------------------------

def _place(community_id: int, grid_id: int | None) -> tuple[Org, Org | None]:
    return community_and_grid(community_id, grid_id, missing=_l("Choose your home community."))


def _check_age_and_guardian(birth: date, guardian: dict | None, *, self_registration: bool):
    age = idnumbers.age_on(birth, date.today())
    config = current_app.config
    if self_registration and age < config["MIN_SELF_REGISTRATION_AGE"]:
        raise ValidationFailed(
            _l("Children under %(age)d cannot register themselves: a parent or guardian "
               "registers them with the community.", age=config["MIN_SELF_REGISTRATION_AGE"]),
            code="MINOR_NEEDS_GUARDIAN_REGISTRATION", field="id_number")
    if age < config["ADULT_AGE"]:
        if not guardian or not guardian.get("name") or not guardian.get("phone"):
            raise ValidationFailed(_l("Volunteers under 18 need a guardian's name, phone and "
                                      "consent."), code="GUARDIAN_CONSENT_REQUIRED",
                                   field="guardian")
        guardian["phone"] = accounts.normalize_phone(guardian["phone"])


def _validate_codes(values, catalogue, field: str, code: str):
    unknown = [value for value in values if value not in catalogue]
    if unknown:
        raise ValidationFailed(_l("Unknown value: %(values)s", values=", ".join(unknown)),
                               code=code, field=field)


def register_volunteer(data: dict, *, by=None) -> Volunteer:
    """Create the account and the profile; pending when the community approves newcomers.

    `by` is None for a person signing up themselves, or the organizer registering them.
    """
    if not data.get("agree_terms") or not data.get("agree_sensitive_data"):
        raise ValidationFailed(_l("Please agree to the service terms and to the processing "
                                  "of your ID number."), code="CONSENT_REQUIRED",
                               field="agree_sensitive_data")
    community, grid = _place(data.get("community_id"), data.get("grid_id"))
    if by is not None:
        require(by, "volunteers.manage", community)
    identity = parse_identity(data["id_type"], data["id_number"], data.get("birth_date"),
                              data.get("gender"))
    digest = ensure_id_unused(data["id_type"], identity.number)
    guardian = data.get("guardian") or None
    _check_age_and_guardian(identity.birth_date, guardian, self_registration=by is None)
    languages = list(dict.fromkeys(data.get("languages") or ["zh"]))  # each code once
    _validate_codes(languages, LANGUAGES, "languages", "LANGUAGE_UNKNOWN")
    user = accounts.create_user(display_name=data["real_name"], password=data["password"],
                                phone=data["phone"], email=data.get("email"),
                                locale=data.get("locale"))
    volunteer = Volunteer(
        user=user, volunteer_number=secrets.token_hex(8), real_name=data["real_name"].strip(),
        gender=identity.gender, birth_date=identity.birth_date, id_type=data["id_type"],
        id_number_encrypted=encrypt(identity.number), id_number_hash=digest,
        id_number_masked=idnumbers.mask(identity.number), phone=user.phone,
        community=community, grid=grid, org_path=(grid or community).path,
        lat=data.get("lat"), lon=data.get("lon"), languages=",".join(languages),
        status="pending" if community.requires_approval else "active",
    )
    db.session.add(volunteer)
    db.session.flush()
    volunteer.volunteer_number = f"{community.code}-{volunteer.id:06d}"
    version = current_app.config["CONSENT_TEXT_VERSION"]
    recorded_by = by.id if by else None
    from volunteer_hub.privacy.consents import current_version  # texts stored by version

    db.session.add_all([
        Consent(volunteer=volunteer, kind="service_terms",
                text_version=current_version("service_terms"), recorded_by_id=recorded_by),
        Consent(volunteer=volunteer, kind="sensitive_data",
                text_version=current_version("sensitive_data"), recorded_by_id=recorded_by),
    ])
    if guardian:
        db.session.add(Consent(
            volunteer=volunteer, kind="guardian", text_version=version,
            guardian_name=guardian["name"], guardian_phone=guardian["phone"],
            guardian_relationship=guardian.get("relationship"), recorded_by_id=recorded_by))
    if data.get("skills"):
        set_skills(volunteer, data["skills"], by=user)
    db.session.flush()
    return volunteer


# --- reading --------------------------------------------------------------------------------

def get_volunteer(volunteer_id: int, *, by) -> Volunteer:
    """A volunteer the caller may see: themself, or one in their organizer scope."""
    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or not can_view(by, volunteer):
        raise NotFound()  # out of scope looks like unknown: existence must not leak
    return volunteer


def can_view(user, volunteer: Volunteer) -> bool:
    return user.id == volunteer.user_id or can(user, "volunteers.read", volunteer.community)


def can_manage(user, volunteer: Volunteer) -> bool:
    return can(user, "volunteers.manage", volunteer.community)


def search_volunteers(user, *, org_id=None, status=None, skill=None, min_level=None,
                      team_id=None, certification=None, certification_expiring_before=None,
                      q=None):
    """A query over the volunteers in the caller's scope, narrowed by the filters."""
    query = select(Volunteer).where(
        path_filter(Volunteer.org_path, scope_paths(user, "volunteers.read")))
    if org_id:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.where(Volunteer.org_path.startswith(org.path))
    if status:
        query = query.where(Volunteer.status == status)
    if skill:
        skill_match = (VolunteerSkill.volunteer_id == Volunteer.id) & (
            VolunteerSkill.skill_code == skill)
        if min_level:
            skill_match &= db.func.coalesce(VolunteerSkill.confirmed_level,
                                            VolunteerSkill.level) >= min_level
        query = query.where(exists().where(skill_match))
    if team_id:
        query = query.where(exists().where(
            (TeamMember.volunteer_id == Volunteer.id) & (TeamMember.team_id == team_id)))
    if certification or certification_expiring_before:
        cert_match = Certification.volunteer_id == Volunteer.id
        if certification:
            cert_match &= Certification.kind == certification
        if certification_expiring_before:
            cert_match &= Certification.expires_on < certification_expiring_before
        query = query.where(exists().where(cert_match))
    if q:
        like = f"%{q.strip()}%"
        # ilike: SQLite's LIKE ignores the case of ASCII letters, PostgreSQL's does not.
        query = query.where(Volunteer.real_name.ilike(like) | Volunteer.phone.like(like)
                            | Volunteer.volunteer_number.ilike(like))
    return query.order_by(Volunteer.id)


# --- changes --------------------------------------------------------------------------------

def _require_self_or_manager(volunteer: Volunteer, by) -> None:
    if by is not None and by.id != volunteer.user_id:
        require(by, "volunteers.manage", volunteer.community, hide=not can_view(by, volunteer))


def _child_of(volunteer: Volunteer, model, child_id: int):
    """A row of `model` that belongs to this volunteer, else 404."""
    child = db.session.get(model, child_id)
    if child is None or child.volunteer_id != volunteer.id:
        raise NotFound()
    return child


def update_profile(volunteer: Volunteer, changes: dict, *, by) -> Volunteer:
    _require_self_or_manager(volunteer, by)
    if "real_name" in changes and (changes["real_name"] or "").strip():
        volunteer.real_name = changes["real_name"].strip()
    if "languages" in changes:
        _validate_codes(changes["languages"], LANGUAGES, "languages", "LANGUAGE_UNKNOWN")
        volunteer.languages = ",".join(dict.fromkeys(changes["languages"])) or "zh"
    if "lat" in changes or "lon" in changes:
        _move_home(volunteer, changes.get("lat", volunteer.lat), changes.get("lon", volunteer.lon),
                   by_self=by is not None and by.id == volunteer.user_id)
    if "phone" in changes and changes["phone"]:
        phone = accounts.normalize_phone(changes["phone"])
        if phone != volunteer.user.phone:
            other = accounts.find_user_by_login(phone)
            if other is not None and other.id != volunteer.user_id:
                raise Conflict(_l("This phone number already has an account."),
                               code="PHONE_TAKEN", field="phone")
            volunteer.user.phone = volunteer.phone = phone
    if "community_id" in changes or "grid_id" in changes:
        community, grid = _place(changes.get("community_id", volunteer.community_id),
                                 changes.get("grid_id"))
        if by is not None and by.id != volunteer.user_id:
            require(by, "volunteers.manage", community)
        volunteer.community, volunteer.grid = community, grid
        volunteer.org_path = (grid or community).path
    db.session.flush()
    return volunteer


def _move_home(volunteer: Volunteer, lat: float | None, lon: float | None, *,
               by_self: bool) -> None:
    """Change the home point; a volunteer may move it HOME_LOCATION_CHANGES_MAX times a window.

    The needs a volunteer is offered depend on the distance from home: moving it freely would
    let them locate a beneficiary by trying many homes. Organizers correcting it are trusted.
    """
    if (lat, lon) == (volunteer.lat, volunteer.lon):
        return
    if not by_self:
        volunteer.lat, volunteer.lon = lat, lon
        return
    config = current_app.config
    allowed, days = config["HOME_LOCATION_CHANGES_MAX"], config["HOME_LOCATION_CHANGE_WINDOW_DAYS"]
    recent = db.session.scalar(
        select(func.count(HomeLocationChange.id))
        .where(HomeLocationChange.volunteer_id == volunteer.id,
               HomeLocationChange.changed_at > utcnow() - timedelta(days=days)))
    if recent >= allowed:
        raise DomainError(
            _l("Your home location can change %(n)d times in %(days)d days: try again later, "
               "or ask your community.", n=allowed, days=days),
            code="HOME_LOCATION_CHANGE_LIMIT", status=429, field="lat")
    volunteer.lat, volunteer.lon = lat, lon
    db.session.add(HomeLocationChange(volunteer_id=volunteer.id))


def set_status(volunteer: Volunteer, status: str, *, reason: str | None = None, by) -> Volunteer:
    """Approve, suspend, reinstate or mark as left; a volunteer may only leave by themself."""
    if status not in STATUSES:
        raise ValidationFailed(_l("Unknown status."), code="STATUS_UNKNOWN", field="status")
    leaving_self = by is not None and by.id == volunteer.user_id and status == "left"
    if by is not None and not leaving_self:
        require(by, "volunteers.manage", volunteer.community, hide=not can_view(by, volunteer))
    if status not in STATUS_TRANSITIONS[volunteer.status]:
        raise Conflict(_l("A volunteer who is %(current)s cannot become %(new)s.",
                          current=STATUS_LABELS[volunteer.status], new=STATUS_LABELS[status]),
                       code="STATUS_TRANSITION",
                       field="status")
    if status == "suspended" and not (reason or "").strip():
        raise ValidationFailed(_l("Give a reason for the suspension."), code="REASON_REQUIRED",
                               field="reason")
    volunteer.status = status
    volunteer.status_reason = reason
    volunteer.status_changed_at = utcnow()
    volunteer.status_changed_by_id = by.id if by else None
    return volunteer


def _check_level(level, field="level") -> int:
    if not isinstance(level, int) or level not in (1, 2, 3):
        raise ValidationFailed(_l("A level is 1, 2 or 3."), code="SKILL_LEVEL", field=field)
    return level


def set_skills(volunteer: Volunteer, skills: list[dict], *, by) -> list[VolunteerSkill]:
    """Replace the declared skills; a confirmation stays while the declared level is unchanged."""
    _require_self_or_manager(volunteer, by)
    codes = [item["code"] for item in skills]
    _validate_codes(codes, SKILLS, "skills", "SKILL_UNKNOWN")
    if len(set(codes)) != len(codes):
        raise ValidationFailed(_l("Each skill can be listed once."), code="SKILL_DUPLICATE",
                               field="skills")
    current = {skill.skill_code: skill for skill in volunteer.skills}
    wanted = {item["code"]: _check_level(item["level"]) for item in skills}
    for code, skill in current.items():
        if code not in wanted:
            volunteer.skills.remove(skill)
    for code, level in wanted.items():
        skill = current.get(code)
        if skill is None:
            volunteer.skills.append(VolunteerSkill(skill_code=code, level=level))
        elif skill.level != level:
            skill.level, skill.confirmed_level, skill.confirmed_at = level, None, None
    db.session.flush()
    return volunteer.skills


def confirm_skill(volunteer: Volunteer, code: str, level: int, *, by) -> VolunteerSkill:
    require(by, "volunteers.manage", volunteer.community, hide=not can_view(by, volunteer))
    skill = next((s for s in volunteer.skills if s.skill_code == code), None)
    if skill is None:
        raise NotFound(_l("The volunteer has not declared this skill."))
    skill.confirmed_level = _check_level(level)
    skill.confirmed_by_id = by.id
    skill.confirmed_at = utcnow()
    return skill


def add_certification(volunteer: Volunteer, data: dict, *, by) -> Certification:
    _require_self_or_manager(volunteer, by)
    _validate_codes([data["kind"]], CERTIFICATION_KINDS, "kind", "CERTIFICATION_KIND")
    if data["issued_on"] > date.today():
        raise ValidationFailed(_l("The issue date cannot be in the future."),
                               code="CERT_ISSUED_FUTURE", field="issued_on")
    if data.get("expires_on") and data["expires_on"] < data["issued_on"]:
        raise ValidationFailed(_l("The expiry date must be after the issue date."),
                               code="CERT_DATES", field="expires_on")
    cert = Certification(volunteer=volunteer, kind=data["kind"], name=data.get("name"),
                         issuer=data["issuer"].strip(), number=data.get("number"),
                         issued_on=data["issued_on"], expires_on=data.get("expires_on"))
    db.session.add(cert)
    db.session.flush()
    return cert


def remove_certification(volunteer: Volunteer, cert_id: int, *, by) -> None:
    _require_self_or_manager(volunteer, by)
    volunteer.certifications.remove(_child_of(volunteer, Certification, cert_id))


def set_availability(volunteer: Volunteer, windows: list[dict], exceptions: list[dict], *,
                     by) -> Volunteer:
    """Replace weekly windows and dated exceptions; overlapping windows are refused."""
    _require_self_or_manager(volunteer, by)
    cleaned = sorted((w["weekday"], w["start_minute"], w["end_minute"]) for w in windows)
    for index, (weekday, start, end) in enumerate(cleaned):
        if not (0 <= weekday <= 6 and 0 <= start < end <= 24 * 60):
            raise ValidationFailed(_l("Each window needs a weekday and a start before its end."),
                                   code="AVAILABILITY_WINDOW", field="windows")
        if index and cleaned[index - 1][0] == weekday and cleaned[index - 1][2] > start:
            raise ValidationFailed(_l("Two windows on the same day overlap."),
                                   code="AVAILABILITY_OVERLAP", field="windows")
    days = [e["day"] for e in exceptions]
    if len(set(days)) != len(days):
        raise ValidationFailed(_l("Each date can have one exception."),
                               code="AVAILABILITY_EXCEPTION_DUPLICATE", field="exceptions")
    volunteer.availability.clear()
    volunteer.exceptions.clear()
    db.session.flush()
    volunteer.availability.extend(
        AvailabilityWindow(weekday=d, start_minute=s, end_minute=e) for d, s, e in cleaned)
    volunteer.exceptions.extend(
        AvailabilityException(day=e["day"], available=e.get("available", False),
                              note=e.get("note")) for e in exceptions)
    db.session.flush()
    return volunteer


def record_consent(volunteer: Volunteer, kind: str, *, guardian: dict | None = None,
                   by) -> Consent:
    _require_self_or_manager(volunteer, by)
    _validate_codes([kind], CONSENT_KINDS, "kind", "CONSENT_KIND")
    if kind == "guardian":
        if not guardian or not guardian.get("name") or not guardian.get("phone"):
            raise ValidationFailed(_l("A guardian's consent needs the guardian's name and phone."),
                                   code="GUARDIAN_DETAILS_REQUIRED", field="guardian")
        guardian["phone"] = accounts.normalize_phone(guardian["phone"])
    guardian = guardian or {}
    from volunteer_hub.privacy.consents import current_version

    consent = Consent(volunteer=volunteer, kind=kind, text_version=current_version(kind),
                      guardian_name=guardian.get("name"), guardian_phone=guardian.get("phone"),
                      guardian_relationship=guardian.get("relationship"),
                      recorded_by_id=by.id if by else None)
    db.session.add(consent)
    db.session.flush()
    return consent


def withdraw_consent(volunteer: Volunteer, consent_id: int, *, by) -> Consent:
    """Withdrawing consent to the ID processing ends active service: we cannot keep the ID."""
    _require_self_or_manager(volunteer, by)
    consent = _child_of(volunteer, Consent, consent_id)
    if consent.withdrawn_at is None:
        consent.withdrawn_at = utcnow()
        if consent.kind in ("service_terms", "sensitive_data") and volunteer.status != "left":
            volunteer.status = "left"
            volunteer.status_reason = "consent withdrawn"
            volunteer.status_changed_at = utcnow()
    return consent


def active_consents(volunteer: Volunteer) -> list[Consent]:
    return [c for c in volunteer.consents if c.withdrawn_at is None]
