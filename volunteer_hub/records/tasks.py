"""Check-in, check-out and hours of matched tasks.

One occurrence of a need (its slots sharing a start) is an `Activity`, made the first time
anyone needs it (the organizer opens its code, or a volunteer checks in): the rotating QR
token, the 6-digit code, the geofence, the caps, the deadline and the verification queue
then work exactly as for a standalone activity. A record made here also names the
assignment, which leads to the slot, the need and the person served.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from volunteer_hub.accounts.permissions import can, require
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.matching.models import COMMITTED_STATES, Assignment
from volunteer_hub.needs.models import NeedSlot
from volunteer_hub.records import services
from volunteer_hub.records.models import Activity, ServiceRecord

# The closest service type of each kind of need, for reports and certificates.
NEED_SERVICE_TYPES = {
    "home_visit": "elderly_care", "meal_delivery": "elderly_care",
    "escort_hospital": "medical", "psychological_support": "medical",
    "tutoring": "child_care", "child_companionship": "child_care",
    "cleaning_repairs": "community", "event_support": "community",
    "legal_aid": "legal", "emergency_post": "emergency",
}
CHECKABLE_STATE = "accepted"  # the volunteer said yes: the task is theirs to check in to


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def local_to_utc(moment: datetime) -> datetime:
    """A slot's naive local wall-clock time as an aware UTC timestamp."""
    return moment.replace(tzinfo=_zone()).astimezone(UTC)


def geofence_radius_m() -> int:
    return int(current_app.config.get("RECORDS_TASK_GEOFENCE_RADIUS_M", 300))


# --- the occurrence's activity ------------------------------------------------------------------

def _find_occurrence(need_id: int, start: datetime) -> Activity | None:
    return db.session.execute(select(Activity).where(
        Activity.need_id == need_id, Activity.occurrence_start == start)).scalar_one_or_none()


def occurrence_activity(slot: NeedSlot) -> Activity:
    """The activity of the slot's occurrence, made on first use (one per need and start)."""
    need = slot.need
    found = _find_occurrence(need.id, slot.start)
    if found is not None:
        return found
    fence = need.lat is not None and need.lon is not None
    # Only the public meeting place: the description stays with the need, for its volunteers.
    name_length = Activity.__table__.c.name.type.length  # a need's title may be longer
    activity = services.new_activity(
        need.org, name=need.title[:name_length], service_type=NEED_SERVICE_TYPES.get(need.type, "community"),
        place=need.location_note or "",
        starts_at=local_to_utc(slot.start), ends_at=local_to_utc(slot.end),
        geofence_lat=need.lat if fence else None, geofence_lon=need.lon if fence else None,
        geofence_radius_m=geofence_radius_m() if fence else None)
    activity.need_id, activity.occurrence_start = need.id, slot.start
    try:
        with db.session.begin_nested():
            db.session.add(activity)
    except IntegrityError:  # made meanwhile by someone checking in to the same occurrence
        return _find_occurrence(need.id, slot.start)
    return activity


def occurrence_for_organizer(slot: NeedSlot, *, by) -> Activity:
    """The occurrence's activity for the organizer's door screen (code and QR)."""
    if by is not None:
        org = slot.need.org
        require(by, "records.manage", org, hide=not can(by, "needs.read", org))
    return occurrence_activity(slot)


def occurrence_slots(activity: Activity) -> list[NeedSlot]:
    return db.session.execute(select(NeedSlot).where(
        NeedSlot.need_id == activity.need_id, NeedSlot.start == activity.occurrence_start)
        .order_by(NeedSlot.position)).scalars().all()


def occurrence_roster(activity: Activity) -> list[dict]:
    """Who is on each place of the occurrence and how far their day went."""
    slot_ids = [slot.id for slot in occurrence_slots(activity)]
    assignments = db.session.execute(select(Assignment).where(
        Assignment.slot_id.in_(slot_ids or [-1]), Assignment.state.in_(COMMITTED_STATES))
        .order_by(Assignment.slot_id)).scalars().all()
    return [{"assignment": a, "record": latest_record(a)} for a in assignments]


# --- the volunteer's task -----------------------------------------------------------------------

def _task_volunteer(assignment: Assignment, by):
    if by is not None and by.id != assignment.volunteer.user_id:
        raise NotFound()
    if assignment.state != CHECKABLE_STATE or assignment.slot.status == "cancelled":
        raise Conflict(_l("Accept the task first: only an accepted task can be checked in to."),
                       code="TASK_NOT_ACCEPTED")
    return assignment.volunteer


def check_in_task(assignment: Assignment, method: str, proof: dict, *, by,
                  now: datetime | None = None) -> ServiceRecord:
    """Check in to an accepted task by its QR token, code or geofence (once: a second scan
    after the check-out must not open a new record that would then lack a check-out)."""
    volunteer = _task_volunteer(assignment, by)
    done = latest_record(assignment)
    if done is not None and done.check_out_at is not None and done.status != "rejected":
        raise Conflict(_l("You have already checked out of this task."),
                       code="ALREADY_CHECKED_OUT")
    record = services.check_in(occurrence_activity(assignment.slot), volunteer, method, proof,
                               by=by, now=now)
    record.assignment_id = assignment.id
    db.session.flush()
    return record


def check_out_task(assignment: Assignment, method: str, proof: dict, *, by,
                   now: datetime | None = None) -> ServiceRecord:
    volunteer = _task_volunteer(assignment, by)
    return services.check_out(occurrence_activity(assignment.slot), volunteer, method, proof,
                              by=by, now=now)


def latest_record(assignment: Assignment) -> ServiceRecord | None:
    return db.session.execute(select(ServiceRecord).where(
        ServiceRecord.assignment_id == assignment.id, ServiceRecord.status != "corrected")
        .order_by(ServiceRecord.id.desc()).limit(1)).scalar_one_or_none()


def open_record(assignment: Assignment) -> ServiceRecord | None:
    record = latest_record(assignment)
    if record is not None and record.check_out_at is None and record.status == "pending" \
            and record.corrects_id is None and not _has_pending_correction(record):
        return record
    return None


def _has_pending_correction(record: ServiceRecord) -> bool:
    return db.session.execute(select(ServiceRecord.id).where(
        ServiceRecord.corrects_id == record.id, ServiceRecord.status == "pending")
        .limit(1)).first() is not None


@dataclass(frozen=True)
class TaskDay:
    """Where the volunteer stands with today's task, for the task page and the API."""

    stage: str  # not_open / check_in / on_duty / checked_out / claim_hours / claim_check_out
    record: ServiceRecord | None
    opens_at: datetime
    ends_at: datetime
    has_geofence: bool
    may_claim: bool  # after the end, hours not checked in or out are claimed instead


def task_day(assignment: Assignment, now: datetime | None = None) -> TaskDay:
    """The stage of the task: check-in opens an hour before the start; after the end, a
    missed check-in or check-out is claimed with a reason instead."""
    now = now or utcnow()
    slot, need = assignment.slot, assignment.slot.need
    starts, ends = local_to_utc(slot.start), local_to_utc(slot.end)
    record = latest_record(assignment)
    opened = open_record(assignment)
    if opened is not None:
        stage = "on_duty" if now <= ends + services.CHECK_OUT_LATE else "claim_check_out"
    elif record is not None:
        stage = "checked_out"
    elif now < starts - services.CHECK_IN_EARLY:
        stage = "not_open"
    elif now <= ends:
        stage = "check_in"
    else:
        stage = "claim_hours"
    return TaskDay(stage=stage, record=record, opens_at=starts - services.CHECK_IN_EARLY,
                   ends_at=ends, has_geofence=need.lat is not None and need.lon is not None,
                   may_claim=stage in ("claim_hours", "claim_check_out")
                   or (stage == "on_duty" and now > ends))


def current_stages(assignments, now: datetime | None = None) -> dict[int, str]:
    """The stage of each accepted task happening now (for the task list's 签到 buttons)."""
    now = now or utcnow()
    stages = {}
    for assignment in assignments:
        slot = assignment.slot
        if assignment.state != CHECKABLE_STATE or not (
                local_to_utc(slot.start) - services.CHECK_IN_EARLY <= now
                <= local_to_utc(slot.end) + services.CHECK_OUT_LATE):
            continue
        stages[assignment.id] = task_day(assignment, now).stage
    return stages


def _claim_times(assignment: Assignment, data: dict) -> dict:
    """Aware times from the claim: API callers send timestamps, the page sends HH:MM."""
    return {field: local_to_utc(_on_slot_day(assignment.slot.start, data[field]))
            if isinstance(data.get(field), time) else data.get(field)
            for field in ("check_in_at", "check_out_at")}


def _on_slot_day(start: datetime, clock: time) -> datetime:
    """A wall-clock time of the occurrence starting at `start`: the next day when it is
    earlier than the start (a task that runs past midnight)."""
    moment = datetime.combine(start.date(), clock)
    return moment + timedelta(days=1) if moment < start - timedelta(hours=1) else moment


def claim_hours(assignment: Assignment, data: dict, *, by,
                now: datetime | None = None) -> ServiceRecord:
    """A volunteer claims hours they could not check in or out for, with a reason.

    Checked in but not out: a correction of the open record with the check-out time.
    Never checked in: declared hours for the task. Either waits for the organizer.
    """
    volunteer = _task_volunteer(assignment, by)
    reason = services.reason_of(data)
    times = _claim_times(assignment, data)
    opened = open_record(assignment)
    if opened is not None:
        claim = services.request_correction(
            opened, {"check_out_at": times["check_out_at"], "reason": reason}, by=by)
    else:
        if _pending_claim(assignment) is not None:
            raise Conflict(_l("Your claim for this task is waiting for the organizer."),
                           code="CLAIM_PENDING")
        done = latest_record(assignment)
        if done is not None and done.status == "verified":
            raise Conflict(_l("Your hours for this task are already recorded."),
                           code="TASK_HOURS_RECORDED")
        if times["check_in_at"] is None:
            raise ValidationFailed(_l("Give the time you started."), code="RECORD_TIMES",
                                   field="check_in_at")
        claim = services.declare_hours(
            occurrence_activity(assignment.slot), volunteer,
            {**times, "reason": reason}, by=by, now=now)
    claim.assignment_id = assignment.id
    db.session.flush()
    return claim


def _pending_claim(assignment: Assignment) -> ServiceRecord | None:
    return db.session.execute(select(ServiceRecord).where(
        ServiceRecord.assignment_id == assignment.id, ServiceRecord.status == "pending")
        .limit(1)).scalar_one_or_none()


# --- the organizer records hours for someone -------------------------------------------------

def find_volunteer(who: str, activity: Activity, *, by):
    """The volunteer an organizer means by a code (CY-JX-01-002002) or a name.

    The occurrence's own volunteers are looked at first, so a common name still finds the
    person on the task; a name shared by several people in scope asks for the code.
    """
    from volunteer_hub.volunteers.models import Volunteer
    from volunteer_hub.volunteers.services import search_volunteers

    who = (who or "").strip()
    if not who:
        raise ValidationFailed(_l("Enter the volunteer's name or code."),
                               code="VOLUNTEER_REQUIRED", field="volunteer")
    on_task = [row["assignment"].volunteer for row in occurrence_roster(activity)]
    # A code is matched whatever the case it was typed in (a phone keyboard types cy-jx-...).
    matches = [v for v in on_task
               if who == v.real_name or who.upper() == (v.volunteer_number or "").upper()]
    if not matches:
        query = search_volunteers(by, q=None).where(
            (func.upper(Volunteer.volunteer_number) == who.upper())
            | (Volunteer.real_name == who)).limit(3)
        matches = db.session.execute(query).scalars().all()
    if not matches:
        raise ValidationFailed(_l("No volunteer with this name or code."),
                               code="VOLUNTEER_NOT_FOUND", field="volunteer")
    if len({v.id for v in matches}) > 1:
        raise ValidationFailed(_l("Several volunteers have this name: enter the code."),
                               code="VOLUNTEER_AMBIGUOUS", field="volunteer")
    return matches[0]


def record_for_volunteer(activity: Activity, who: str, data: dict, *, by,
                         now: datetime | None = None) -> ServiceRecord:
    """The organizer enters hours for a volunteer named by name or code, with a reason.

    When the volunteer checked in and never out, the hours correct that open record (which
    could never be verified), so the queue does not keep a record without a check-out."""
    volunteer = find_volunteer(who, activity, by=by)
    start = activity.occurrence_start or activity.starts_at.astimezone(_zone()).replace(
        tzinfo=None)
    data = {**data, **{field: local_to_utc(_on_slot_day(start, data[field]))
                       for field in ("check_in_at", "check_out_at")
                       if isinstance(data.get(field), time)}}
    opened = services.open_record_of(activity, volunteer)
    if opened is not None:
        record = services.request_correction(opened, data, by=by)
    else:
        record = services.record_manually(activity, volunteer, data, by=by, now=now)
    assignment = next((row["assignment"] for row in occurrence_roster(activity)
                       if row["assignment"].volunteer_id == volunteer.id), None)
    record.assignment_id = assignment.id if assignment else None
    db.session.flush()
    return record


def assignment_of_volunteer(activity: Activity, volunteer) -> Assignment | None:
    """The volunteer's accepted place in the occurrence, for a scanned QR code."""
    if activity.need_id is None or volunteer is None:
        return None
    slot_ids = [slot.id for slot in occurrence_slots(activity)]
    return db.session.execute(select(Assignment).where(
        Assignment.slot_id.in_(slot_ids or [-1]), Assignment.volunteer_id == volunteer.id,
        Assignment.state == CHECKABLE_STATE)).scalars().first()


def task_window_end(slot: NeedSlot) -> datetime:
    """Until when a task lasts for its volunteer (the slot's end plus the grace period), in
    the slot's local wall-clock time."""
    return slot.end + services.missing_checkout_grace()


def for_slot_id(slot_id: int) -> NeedSlot:
    slot = db.session.get(NeedSlot, slot_id)
    if slot is None:
        raise NotFound()
    return slot
