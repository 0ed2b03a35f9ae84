"""Service records: activities, check-in/out, hand records, verification and corrections.

Whoever organises records; whoever records certifies (MCA 2021). Hours count once an
organizer (or the activity lead) verifies them; verifying mints them into the time bank in
the same database transaction.
"""
from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from sqlalchemy import func, inspect, or_, select

from volunteer_hub import workdays
from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from volunteer_hub.orgs.models import Org
from volunteer_hub.orgs.services import inherited_settings
from volunteer_hub.records.models import (
    SERVICE_TYPES, Activity, CheckEvent, RecordSettings, ServiceRecord,
)
from volunteer_hub.timebank import services as timebank
from volunteer_hub.volunteers.models import Volunteer
from volunteer_hub.workdays import WorkingDayCount

# Deployment defaults ([local] in DOMAIN.md); override with VOLUNTEER_HUB_RECORDS_* or per org.
DEFAULTS = {
    "rounding_minutes": 30,
    "daily_cap_minutes": 8 * 60,
    "activity_cap_minutes": None,  # None: the activity's length
    "travel_excluded": True,
    "deadline_working_days": 10,
}
CHECK_IN_EARLY = timedelta(minutes=60)  # a volunteer may check in this long before the start
CHECK_OUT_LATE = timedelta(hours=6)  # after this, a missing check-out is for the organizer


def missing_checkout_grace() -> timedelta:
    """How long after the end a record without check-out is still "on duty", not missing."""
    return timedelta(minutes=int(current_app.config.get(
        "RECORDS_MISSING_CHECKOUT_GRACE_MINUTES", 120)))


@dataclass(frozen=True)
class Settings:
    rounding_minutes: int
    daily_cap_minutes: int
    activity_cap_minutes: int | None
    travel_excluded: bool
    deadline_working_days: int


def _config(name: str, default):
    value = current_app.config.get(f"RECORDS_{name.upper()}", default)
    if isinstance(value, str):
        if isinstance(default, bool):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        return int(value) if value.strip() else None
    return value


def settings_for(org: Org) -> Settings:
    """The org's rules: its own row, else the nearest ancestor's, else the defaults."""
    configured = {name: _config(name, default) for name, default in DEFAULTS.items()}
    return Settings(**inherited_settings(RecordSettings, org, configured))


def set_settings(org: Org, changes: dict, *, by) -> RecordSettings:
    if by is not None:
        require(by, "records.manage", org)
    row = db.session.get(RecordSettings, org.id) or RecordSettings(org_id=org.id)
    for name in DEFAULTS:
        if name in changes:
            setattr(row, name, changes[name])
    db.session.add(row)
    db.session.flush()
    return row


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def local_day(moment: datetime) -> date:
    return _aware(moment).astimezone(_zone()).date()


def deadline_count(activity: Activity) -> WorkingDayCount:
    """The recording deadline in China's working days, with the days counted and skipped."""
    return workdays.count_working_days(local_day(activity.ends_at),
                                       settings_for(activity.org).deadline_working_days)


def recording_deadline(activity: Activity) -> date:
    return deadline_count(activity).deadline


def _check_deadline(activity: Activity, now: datetime) -> None:
    deadline = recording_deadline(activity)
    if local_day(now) > deadline:
        raise ValidationFailed(
            _l("Hours must be recorded within %(days)d working days after the activity "
               "(by %(date)s): ask for a correction instead.",
               days=settings_for(activity.org).deadline_working_days, date=deadline.isoformat()),
            code="RECORDING_DEADLINE_PASSED")


def reminder_working_days() -> int:
    return int(current_app.config.get("RECORDS_DEADLINE_REMINDER_WORKING_DAYS", 2))


def _longest_deadline_calendar_days() -> int:
    """Calendar days that cover the longest deadline any org set: 7 per 5 working days plus
    the longest holiday run (春节 with its weekends stays under 12 days) and a margin."""
    longest = db.session.execute(select(func.max(RecordSettings.deadline_working_days))).scalar()
    working_days = max(longest or 0, int(_config("deadline_working_days",
                                                 DEFAULTS["deadline_working_days"]) or 0))
    return working_days * 7 // 5 + 30


def activities_to_remind(today: date) -> list[Activity]:
    """Ended activities still missing hours whose deadline is the set number of working
    days away. Sent on working days only, so each activity is reminded once."""
    calendar = workdays.calendar()
    ahead = reminder_working_days()
    if not calendar.is_working_day(today):
        return []
    recent = utcnow() - timedelta(days=_longest_deadline_calendar_days())
    has_records = select(ServiceRecord.id).where(ServiceRecord.activity_id == Activity.id)
    open_or_none = or_(~has_records.exists(),
                       has_records.where(ServiceRecord.check_out_at.is_(None)).exists())
    candidates = db.session.execute(select(Activity).where(
        Activity.ends_at >= recent, Activity.ends_at <= utcnow(), open_or_none)).scalars().all()
    return [activity for activity in candidates
            if calendar.working_days_between(today, recording_deadline(activity)) == ahead]


def remind_deadlines(today: date | None = None) -> int:
    """Tell each activity's lead (else its creator) that its recording deadline is near."""
    from volunteer_hub.accounts.models import User
    from volunteer_hub.needs.services import notify

    today = today or local_day(utcnow())
    sent = 0
    for activity in activities_to_remind(today):
        user_id = activity.lead_user_id or activity.created_by_id
        user = db.session.get(User, user_id) if user_id else None
        if user is None:
            continue
        deadline = recording_deadline(activity)
        notify(user, _l("Hours for %(name)s must be recorded by %(date)s "
                        "(%(days)d working days left).", name=activity.name,
                        date=deadline.isoformat(), days=reminder_working_days()),
               event_key=f"records:deadline:{activity.id}")
        sent += 1
    return sent


# --- activities -------------------------------------------------------------------------------

def create_activity(org: Org, data: dict, *, by) -> Activity:
    """An organizer posts an activity; it gets a random 6-digit check-in code."""
    if by is not None:
        require(by, "records.manage", org)
    starts_at, ends_at = _aware(data["starts_at"]), _aware(data["ends_at"])
    if ends_at <= starts_at:
        raise ValidationFailed(_l("The end must be after the start."), code="ACTIVITY_TIMES",
                               field="ends_at")
    if data.get("service_type", "community") not in SERVICE_TYPES:
        raise ValidationFailed(_l("Unknown service type."), code="SERVICE_TYPE",
                               field="service_type")
    fence = [data.get("geofence_lat"), data.get("geofence_lon"), data.get("geofence_radius_m")]
    if any(v is not None for v in fence) and not all(v is not None for v in fence):
        raise ValidationFailed(_l("A geofence needs a latitude, a longitude and a radius."),
                               code="GEOFENCE_INCOMPLETE", field="geofence_radius_m")
    activity = new_activity(
        org, name=data["name"].strip(), service_type=data.get("service_type", "community"),
        place=data.get("place", ""), content=data.get("content", ""),
        lead_user_id=data.get("lead_user_id"), starts_at=starts_at, ends_at=ends_at,
        geofence_lat=fence[0], geofence_lon=fence[1], geofence_radius_m=fence[2],
        group_service=bool(data.get("group_service")), created_by_id=by.id if by else None)
    db.session.add(activity)
    db.session.flush()
    return activity


def new_activity(org: Org, **fields) -> Activity:
    """An activity of the org with a fresh random 6-digit check-in code (not yet added)."""
    return Activity(org=org, org_path=org.path, checkin_code=f"{secrets.randbelow(10**6):06d}",
                    **fields)


def is_lead(user, activity: Activity) -> bool:
    return user is not None and (user.id == activity.lead_user_id
                                 or can(user, "records.manage", activity.org))


def get_activity(activity_id: int) -> Activity:
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise NotFound()
    return activity


def activities_query(user, *, org_id: int | None = None, upcoming_only: bool = False):
    """Activities of the caller's organizations (organizers) or all (a volunteer's list).

    A need's occurrences are left out: their volunteers reach them through their tasks."""
    query = select(Activity).where(Activity.need_id.is_(None))
    if org_id:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.where(Activity.org_path.startswith(org.path, autoescape=True))
    if upcoming_only:
        query = query.where(Activity.ends_at >= utcnow())
    return query.order_by(Activity.starts_at.desc(), Activity.id.desc())


# --- QR tokens ----------------------------------------------------------------------------------

class _Signer(TimestampSigner):
    def __init__(self, secret, now: datetime):
        super().__init__(secret, salt="volunteer_hub.records.checkin")
        self._now = now

    def get_timestamp(self) -> int:
        return int(self._now.timestamp())


def qr_valid_minutes() -> int:
    return int(current_app.config.get("RECORDS_QR_VALID_MINUTES", 5))


def issue_qr_token(activity: Activity, *, by, now: datetime | None = None) -> str:
    """A signed token for the lead's screen; the page fetches a new one every minute."""
    if by is not None and not is_lead(by, activity):
        raise Forbidden()
    now = _aware(now) if now else utcnow()
    window = int(now.timestamp()) // 60
    return _Signer(current_app.config["SECRET_KEY"], now).sign(
        f"{activity.id}.{window}").decode()


def _read_qr_token(token: str, activity: Activity, now: datetime) -> str:
    signer = _Signer(current_app.config["SECRET_KEY"], now)
    try:
        payload = signer.unsign(token, max_age=qr_valid_minutes() * 60).decode()
    except SignatureExpired:
        raise ValidationFailed(_l("This QR code has expired: scan the current one."),
                               code="QR_EXPIRED", field="token") from None
    except BadSignature:
        raise ValidationFailed(_l("This is not a valid check-in QR code."), code="QR_INVALID",
                               field="token") from None
    if payload.split(".")[0] != str(activity.id):
        raise ValidationFailed(_l("This QR code belongs to another activity."),
                               code="QR_WRONG_ACTIVITY", field="token")
    return hashlib.sha256(token.encode()).hexdigest()


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine, WGS-84 mean radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(a))


def _proof(activity: Activity, volunteer, method: str, proof: dict, now: datetime,
           direction: str) -> CheckEvent:
    """Check the proof of presence and return the event to store (no coordinates kept)."""
    event = CheckEvent(activity_id=activity.id, volunteer_id=volunteer.id, direction=direction,
                       method=method, at=now)
    if method == "qr":
        digest = _read_qr_token(proof.get("token") or "", activity, now)
        used = db.session.execute(select(CheckEvent.id).filter_by(
            volunteer_id=volunteer.id, token_digest=digest)).first()
        if used:
            raise Conflict(_l("This QR code was already used: scan the current one."),
                           code="QR_REPLAYED", field="token")
        event.token_digest = digest
    elif method == "code":
        if not secrets.compare_digest(str(proof.get("code") or ""), activity.checkin_code):
            raise ValidationFailed(_l("Wrong check-in code."), code="WRONG_CODE", field="code")
    elif method == "geofence":
        if activity.geofence_radius_m is None:
            raise ValidationFailed(_l("This activity has no location check."),
                                   code="NO_GEOFENCE", field="method")
        lat, lon = proof.get("lat"), proof.get("lon")
        passed = lat is not None and lon is not None and _distance_m(
            lat, lon, activity.geofence_lat, activity.geofence_lon) <= activity.geofence_radius_m
        if not passed:
            raise ValidationFailed(_l("You are not at the activity's place."),
                                   code="GEOFENCE_OUTSIDE", field="lat")
        event.geofence_passed = True
    else:
        raise ValidationFailed(_l("Choose how to check in."), code="METHOD", field="method")
    return event


# --- check-in / check-out -----------------------------------------------------------------------

def _require_self(volunteer, by) -> None:
    if by is not None and by.id != volunteer.user_id:
        raise Forbidden(_l("Volunteers check themselves in."))


def _open_record(activity: Activity, volunteer) -> ServiceRecord | None:
    return db.session.execute(select(ServiceRecord).where(
        ServiceRecord.activity_id == activity.id, ServiceRecord.volunteer_id == volunteer.id,
        ServiceRecord.check_in_at.is_not(None), ServiceRecord.check_out_at.is_(None),
        ServiceRecord.status == "pending", ServiceRecord.method.in_(("qr", "code", "geofence")),
    )).scalar_one_or_none()


def open_record_of(activity: Activity, volunteer) -> ServiceRecord | None:
    """The volunteer's record of the activity that waits for a check-out, if any."""
    return _open_record(activity, volunteer)


def check_in(activity: Activity, volunteer, method: str, proof: dict, *, by,
             now: datetime | None = None) -> ServiceRecord:
    """Check in by QR token, the 6-digit code or the geofence; opens a pending record."""
    _require_self(volunteer, by)
    now = _aware(now) if now else utcnow()
    if not (_aware(activity.starts_at) - CHECK_IN_EARLY <= now <= _aware(activity.ends_at)):
        raise ValidationFailed(_l("Check-in is open from an hour before the activity until "
                                  "its end."), code="CHECK_IN_CLOSED")
    if volunteer.status != "active":
        raise Forbidden(_l("Only active volunteers can check in."), code="VOLUNTEER_NOT_ACTIVE")
    if _open_record(activity, volunteer) is not None:
        raise Conflict(_l("You are already checked in."), code="ALREADY_CHECKED_IN")
    event = _proof(activity, volunteer, method, proof, now, "in")
    record = ServiceRecord(volunteer=volunteer, activity=activity, check_in_at=now,
                           method=method, recorded_by_id=by.id if by else None)
    db.session.add(record)
    db.session.flush()
    event.record_id = record.id
    db.session.add(event)
    db.session.flush()
    return record


def check_out(activity: Activity, volunteer, method: str, proof: dict, *, by,
              now: datetime | None = None) -> ServiceRecord:
    """Check out; the minutes are computed now (caps, rounding) and wait for verification."""
    _require_self(volunteer, by)
    now = _aware(now) if now else utcnow()
    record = _open_record(activity, volunteer)
    if record is None:
        raise Conflict(_l("You are not checked in to this activity."), code="NOT_CHECKED_IN")
    if now > _aware(activity.ends_at) + CHECK_OUT_LATE:
        raise ValidationFailed(_l("Check-out has closed: ask the organizer to record your "
                                  "hours."), code="CHECK_OUT_CLOSED")
    event = _proof(activity, volunteer, method, proof, now, "out")
    event.record_id = record.id
    db.session.add(event)
    record.check_out_at = now
    record.missing_checkout = False
    compute_minutes(record)
    db.session.flush()
    return record


def compute_minutes(record: ServiceRecord) -> ServiceRecord:
    """Minutes from check-in to check-out (+ travel when counted), capped at the activity's
    length (or the org's per-activity cap) and rounded down to the org's unit."""
    rules = settings_for(record.activity.org)
    raw = int((_aware(record.check_out_at) - _aware(record.check_in_at)).total_seconds() // 60)
    record.raw_minutes = max(0, raw)
    counted = record.raw_minutes + (0 if rules.travel_excluded else record.travel_minutes or 0)
    cap = record.activity.length_minutes
    if rules.activity_cap_minutes is not None:
        cap = min(cap, rules.activity_cap_minutes)
    counted = min(counted, cap)
    record.minutes = counted // rules.rounding_minutes * rules.rounding_minutes
    return record


def flag_missing_checkouts(now: datetime | None = None) -> int:
    """Flag records whose volunteer never checked out; minutes are never guessed."""
    now = _aware(now) if now else utcnow()
    records = db.session.execute(select(ServiceRecord).join(Activity).where(
        ServiceRecord.check_out_at.is_(None), ServiceRecord.check_in_at.is_not(None),
        ServiceRecord.status == "pending", ServiceRecord.missing_checkout.is_(False),
        Activity.ends_at < now - missing_checkout_grace())).scalars().all()
    for record in records:
        record.missing_checkout = True
    db.session.flush()
    return len(records)


# What the verifier should notice about a record, in the order shown.
FLAG_LABELS = {
    "on_duty": _l("Still on duty"),
    "missing_checkout": _l("Check-out missing: record by hand"),
    "claimed": _l("Claimed by the volunteer"),
    "manual": _l("Recorded by organizer"),
    "correction": _l("Correction"),
    "capped": _l("Capped at the task's length"),
    "rounded": _l("Rounded down"),
}


def record_flags(record: ServiceRecord, now: datetime | None = None) -> list[str]:
    """The flags of a record: a missing check-out only once the end plus the grace period
    has passed (before that the volunteer is still on duty)."""
    now = _aware(now) if now else utcnow()
    flags = []
    if record.check_out_at is None:
        overdue = now > _aware(record.activity.ends_at) + missing_checkout_grace()
        flags.append("missing_checkout" if overdue or record.missing_checkout else "on_duty")
    flags += [flag for flag, present in (
        ("claimed", record.method == "declared"), ("manual", record.method == "manual"),
        ("correction", record.corrects_id is not None),
        ("capped", record.raw_minutes is not None
         and record.raw_minutes > record.activity.length_minutes),
        ("rounded", record.minutes is not None and record.raw_minutes is not None
         and record.minutes < min(record.raw_minutes, record.activity.length_minutes)),
    ) if present]
    return flags


# --- hand records, declarations, corrections ----------------------------------------------------

def _times(activity: Activity, data: dict) -> tuple[datetime, datetime]:
    start = _aware(data.get("check_in_at")) or _aware(activity.starts_at)
    end = _aware(data.get("check_out_at"))
    if end is None and data.get("minutes") is not None:
        end = start + timedelta(minutes=int(data["minutes"]))
    if end is None or end <= start:
        raise ValidationFailed(_l("Give the hours: a check-out after the check-in."),
                               code="RECORD_TIMES", field="check_out_at")
    if (end - start).total_seconds() // 60 > activity.length_minutes:
        raise ValidationFailed(_l("Hours cannot exceed the activity's length."),
                               code="ABOVE_ACTIVITY_LENGTH", field="minutes")
    return start, end


def reason_of(data: dict) -> str:
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give a reason."), code="REASON_REQUIRED", field="reason")
    return reason


def record_manually(activity: Activity, volunteer, data: dict, *, by,
                    now: datetime | None = None) -> ServiceRecord:
    """An organizer records hours by hand (missed check-out, paper sheet), with a reason."""
    if by is not None and not is_lead(by, activity):
        raise Forbidden()
    now = _aware(now) if now else utcnow()
    reason = reason_of(data)
    _check_deadline(activity, now)
    start, end = _times(activity, data)
    record = ServiceRecord(volunteer=volunteer, activity=activity, check_in_at=start,
                           check_out_at=end, method="manual", reason=reason,
                           travel_minutes=int(data.get("travel_minutes") or 0),
                           recorded_by_id=by.id if by else None)
    db.session.add(record)
    compute_minutes(record)
    db.session.flush()
    return record


def declare_hours(activity: Activity, volunteer, data: dict, *, by,
                  now: datetime | None = None) -> ServiceRecord:
    """A volunteer declares hours afterwards; they count only once the lead confirms."""
    _require_self(volunteer, by)
    now = _aware(now) if now else utcnow()
    _check_deadline(activity, now)
    start, end = _times(activity, data)
    record = ServiceRecord(volunteer=volunteer, activity=activity, check_in_at=start,
                           check_out_at=end, method="declared", reason=data.get("reason"),
                           travel_minutes=int(data.get("travel_minutes") or 0),
                           recorded_by_id=by.id if by else None)
    db.session.add(record)
    compute_minutes(record)
    db.session.flush()
    return record


def request_correction(record: ServiceRecord, data: dict, *, by) -> ServiceRecord:
    """A new record linked to the old one; it replaces it once verified (no deadline)."""
    own = by is not None and by.id == record.volunteer.user_id
    if by is not None and not own and not is_lead(by, record.activity):
        raise NotFound()
    if record.status in ("rejected", "corrected"):
        raise Conflict(_l("Only a pending or verified record can be corrected."),
                       code="RECORD_NOT_CORRECTABLE")
    reason = reason_of(data)
    start, end = _times(record.activity, {"check_in_at": data.get("check_in_at")
                                          or record.check_in_at, **data})
    correction = ServiceRecord(
        volunteer=record.volunteer, activity=record.activity, check_in_at=start,
        check_out_at=end, method="declared" if own else "manual", reason=reason,
        travel_minutes=int(data.get("travel_minutes") or 0), corrects_id=record.id,
        recorded_by_id=by.id if by else None)
    db.session.add(correction)
    compute_minutes(correction)
    db.session.flush()
    return correction


# --- verification -------------------------------------------------------------------------------

def get_record(record_id: int, *, by) -> ServiceRecord:
    """A record its volunteer, the activity lead or an organizer in scope may see."""
    record = db.session.get(ServiceRecord, record_id)
    if record is None or not can_view_record(by, record):
        raise NotFound()
    return record


def can_view_record(user, record: ServiceRecord) -> bool:
    return user is not None and (user.id == record.volunteer.user_id
                                 or is_lead(user, record.activity)
                                 or can(user, "records.verify", record.activity.org))


def can_verify(user, record: ServiceRecord) -> bool:
    return user is not None and (user.id == record.activity.lead_user_id
                                 or can(user, "records.verify", record.activity.org))


def verification_queue(user):
    """Pending records (corrections included) the caller may verify, oldest first."""
    scope = path_filter(Activity.org_path, scope_paths(user, "records.verify"))
    return (select(ServiceRecord).join(Activity, Activity.id == ServiceRecord.activity_id)
            .where(ServiceRecord.status == "pending",
                   or_(scope, Activity.lead_user_id == user.id))
            .order_by(ServiceRecord.created_at, ServiceRecord.id))


def _verified_same_day(record: ServiceRecord) -> int:
    """Minutes already verified for this volunteer on the record's local day."""
    zone = _zone()
    day = local_day(record.check_in_at)
    start = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
    end = start + timedelta(days=1)
    query = select(func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
        ServiceRecord.volunteer_id == record.volunteer_id, ServiceRecord.status == "verified",
        ServiceRecord.check_in_at >= start, ServiceRecord.check_in_at < end,
        ServiceRecord.id != record.id)
    if record.corrects_id:
        query = query.where(ServiceRecord.id != record.corrects_id)
    return int(db.session.execute(query).scalar() or 0)


def verify_record(record: ServiceRecord, *, by, now: datetime | None = None) -> ServiceRecord:
    """Verify a pending record: apply the daily cap, mark it, mint its minutes.

    Verifying a correction of a verified record reverses the old record's mint first.
    """
    if by is not None and not can_verify(by, record):
        raise NotFound() if not can_view_record(by, record) else Forbidden()
    if record.status != "pending":
        raise Conflict(_l("This record is not waiting for verification."),
                       code="RECORD_NOT_PENDING")
    if record.minutes is None:
        raise Conflict(_l("The check-out is missing: record the hours by hand with a reason."),
                       code="MISSING_CHECKOUT")
    rules = settings_for(record.activity.org)
    _serialize_daily_caps({record.volunteer_id})
    room = max(0, rules.daily_cap_minutes - _verified_same_day(record))
    record.minutes = min(record.minutes, room)
    original = record.corrects
    if original is not None and original.status == "verified" \
            and original.ledger_transaction_id is not None:
        timebank.reverse_unchecked(original.ledger_transaction_id,
                                   f"corrected by record {record.id}", by=by,
                                   key=f"record:{original.id}:reverse")
    if original is not None and original.status in ("pending", "verified"):
        original.status = "corrected"
        original.status_reason = f"corrected by record {record.id}"
    record.status = "verified"
    record.verified_by_id = by.id if by else None
    record.verified_at = now or utcnow()
    db.session.flush()
    if record.minutes > 0:
        outcome = timebank.mint_for_records([timebank.mint_request(record)], by=by)
        if record.id in outcome.refused:
            raise outcome.refused[record.id]
        record.ledger_transaction_id = outcome.transaction_ids[record.id]
    db.session.flush()
    return record


def verify_records(record_ids: list[int], *, by, now: datetime | None = None) -> dict:
    """Bulk approval, with the rules of `verify_record` for each record.

    Plain pending records are checked in memory and minted together
    (`timebank.mint_for_records`: one lock set, multi-row inserts). Corrections go one by
    one after them, each in its own savepoint, because they reverse the record they replace.
    A refused record stays pending and is reported with its error code.
    """
    now = now or utcnow()
    loaded = {record.id: record for record in db.session.execute(
        select(ServiceRecord).where(ServiceRecord.id.in_(set(record_ids)))).unique().scalars()}
    gate = _VerificationGate(by)
    refused: list[dict] = []
    plain: list[ServiceRecord] = []
    corrections: list[int] = []
    seen: set[int] = set()
    for record_id in record_ids:
        record = loaded.get(record_id)
        error = gate.refusal(record, duplicate=record_id in seen)
        seen.add(record_id)
        if error is not None:
            refused.append(_refused(record_id, error))
        elif record.corrects_id is not None:
            corrections.append(record_id)
        else:
            plain.append(record)
    verified = _verify_plain_records(plain, by=by, now=now, refused=refused)
    for record_id in corrections:
        try:
            with db.session.begin_nested():
                verified.append(verify_record(loaded[record_id], by=by, now=now))
        except DomainError as error:
            refused.append(_refused(record_id, error))
    return {"verified": verified, "refused": refused}


def reload_records(records: list[ServiceRecord]) -> list[ServiceRecord]:
    """The records again after a commit expired them: one query instead of one each."""
    ids = [inspect(record).identity[0] for record in records]  # reading .id would load it
    if ids:
        db.session.execute(select(ServiceRecord).where(ServiceRecord.id.in_(ids))) \
            .unique().scalars().all()
    return records


def _refused(record_id: int, error: DomainError) -> dict:
    return {"id": record_id, "error": error.code, "message": str(error.message)}


class _VerificationGate:
    """`get_record` + `verify_record`'s checks for many records, permissions cached per org."""

    def __init__(self, user) -> None:
        self.user = user
        self.allowed: dict[tuple[str, int], bool] = {}

    def _can(self, permission: str, org) -> bool:
        key = (permission, org.id)
        if key not in self.allowed:
            self.allowed[key] = can(self.user, permission, org)
        return self.allowed[key]

    def refusal(self, record: ServiceRecord | None, *, duplicate: bool) -> DomainError | None:
        user = self.user
        if record is None:
            return NotFound()
        if user is not None:
            lead = user.id == record.activity.lead_user_id
            verifier = lead or self._can("records.verify", record.activity.org)
            viewer = verifier or user.id == record.volunteer.user_id \
                or self._can("records.manage", record.activity.org)
            if not viewer:
                return NotFound()
            if not verifier:
                return Forbidden()
        if duplicate or record.status != "pending":
            return Conflict(_l("This record is not waiting for verification."),
                            code="RECORD_NOT_PENDING")
        if record.minutes is None:
            return Conflict(_l("The check-out is missing: record the hours by hand with a "
                               "reason."), code="MISSING_CHECKOUT")
        return None


def _verify_plain_records(records: list[ServiceRecord], *, by, now: datetime,
                          refused: list[dict]) -> list[ServiceRecord]:
    """Daily caps in memory, then one batched mint; only what minted is marked verified."""
    if not records:
        return []
    _serialize_daily_caps({record.volunteer_id for record in records})
    minutes = _minutes_within_daily_caps(records)
    requests = [timebank.MintRequest(
        record_id=record.id, volunteer_id=record.volunteer_id,
        community_id=record.volunteer.community_id, org_id=record.activity.org_id,
        activity_id=record.activity_id, minutes=minutes[record.id],
        group_earned=bool(record.activity.group_service), method=record.method,
        verified_at=now) for record in records if minutes[record.id] > 0]
    outcome = timebank.mint_for_records(requests, by=by)
    verified = []
    for record in records:
        if record.id in outcome.refused:
            refused.append(_refused(record.id, outcome.refused[record.id]))
            continue
        if record.id in outcome.replayed:
            db.session.refresh(record)  # a concurrent request verified it while we waited
            if record.status != "pending":
                refused.append(_refused(record.id, Conflict(
                    _l("This record is not waiting for verification."),
                    code="RECORD_NOT_PENDING")))
                continue
        record.minutes = minutes[record.id]
        record.status = "verified"
        record.verified_by_id = by.id if by else None
        record.verified_at = now
        record.ledger_transaction_id = outcome.transaction_ids.get(record.id)
        verified.append(record)
    db.session.flush()
    return verified


def _serialize_daily_caps(volunteer_ids: set[int]) -> None:
    """Lock the volunteers' rows (id order, before any ledger lock) until commit, so that two
    verifications of one person's day cannot both read the room left under the daily cap
    before either is written. SQLite serializes writers anyway."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(select(Volunteer.id).where(Volunteer.id.in_(volunteer_ids))
                           .order_by(Volunteer.id).with_for_update())


def _minutes_within_daily_caps(records: list[ServiceRecord]) -> dict[int, int]:
    """Each record's minutes clipped to what its organization's daily cap leaves of the
    volunteer's local day, counting verified records and the earlier ones of this batch."""
    day_of = {record.id: local_day(record.check_in_at) for record in records}
    used = _verified_minutes_by_day({record.volunteer_id for record in records},
                                    min(day_of.values()), max(day_of.values()))
    caps: dict[int, int] = {}
    result = {}
    for record in records:
        org = record.activity.org
        if org.id not in caps:
            caps[org.id] = settings_for(org).daily_cap_minutes
        key = (record.volunteer_id, day_of[record.id])
        room = max(0, caps[org.id] - used.get(key, 0))
        result[record.id] = min(record.minutes, room)
        used[key] = used.get(key, 0) + result[record.id]
    return result


def _verified_minutes_by_day(volunteer_ids: set[int], first: date,
                             last: date) -> dict[tuple[int, date], int]:
    """Verified minutes per (volunteer, local day) between two local days (inclusive)."""
    zone = _zone()
    start = datetime.combine(first, datetime.min.time(), zone).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone).astimezone(UTC)
    rows = db.session.execute(select(
        ServiceRecord.volunteer_id, ServiceRecord.check_in_at, ServiceRecord.minutes).where(
        ServiceRecord.volunteer_id.in_(volunteer_ids), ServiceRecord.status == "verified",
        ServiceRecord.check_in_at >= start, ServiceRecord.check_in_at < end))
    used: dict[tuple[int, date], int] = {}
    for volunteer_id, check_in_at, minutes in rows:
        key = (volunteer_id, local_day(check_in_at))
        used[key] = used.get(key, 0) + (minutes or 0)
    return used


def reject_record(record: ServiceRecord, reason: str, *, by) -> ServiceRecord:
    if by is not None and not can_verify(by, record):
        raise NotFound() if not can_view_record(by, record) else Forbidden()
    if record.status != "pending":
        raise Conflict(_l("This record is not waiting for verification."),
                       code="RECORD_NOT_PENDING")
    record.status = "rejected"
    record.status_reason = reason_of({"reason": reason})
    record.verified_by_id = by.id if by else None
    record.verified_at = utcnow()
    db.session.flush()
    return record


def records_of(volunteer):
    return (select(ServiceRecord).where(ServiceRecord.volunteer_id == volunteer.id)
            .order_by(ServiceRecord.created_at.desc(), ServiceRecord.id.desc()))
