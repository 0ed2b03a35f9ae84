"""Training records, quality evaluations and awards.

Who may do what (docs/ARCHITECTURE.md): organizers whose scope covers the volunteer's
community record and revoke trainings and awards (`recognition.manage`); coordinators may
read them (`recognition.read`, emergency teams need trained people); the activity lead or an
organizer who may verify a service record evaluates it. A volunteer reads their own.
Anyone else gets 404 for a volunteer's data, exactly like an unknown id; organizations are
public, so an organization outside the caller's scope answers 403.

Training time is not service time: nothing here touches the time-bank ledger.
"""
from __future__ import annotations

from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.exc import IntegrityError

from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from volunteer_hub.orgs.models import Org
from volunteer_hub.recognition.models import (
    AWARD_LEVELS, SCORE_MAX, SCORE_MIN, TRAINING_KINDS, Award, Evaluation, TrainingRecord,
)
from volunteer_hub.records.models import Activity, ServiceRecord
from volunteer_hub.records.services import can_verify, can_view_record
from volunteer_hub.volunteers.models import Certification, Volunteer

MAX_TRAINING_MINUTES = 200 * 60  # a long course spread over weeks; more is a typing slip
MAX_GROUP_SIZE = 500


# --- who may see and change ---------------------------------------------------------------------

def is_self(user, volunteer: Volunteer) -> bool:
    return user is not None and user.id == volunteer.user_id


def can_read(user, volunteer: Volunteer) -> bool:
    """The volunteer themself, or staff whose scope covers the volunteer's community."""
    return is_self(user, volunteer) or can(user, "recognition.read", volunteer.community)


def can_manage(user, volunteer: Volunteer) -> bool:
    return can(user, "recognition.manage", volunteer.community)


def readable_volunteer(volunteer_id: int, *, by) -> Volunteer:
    """A volunteer whose recognition the caller may read; anyone else gets 404."""
    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or (by is not None and not can_read(by, volunteer)):
        raise NotFound()
    return volunteer


def _require_manager(volunteer: Volunteer, by) -> None:
    """404 when the caller may not even see the volunteer, 403 when they may only read."""
    if by is None:
        return
    if not can_manage(by, volunteer):
        raise NotFound() if not can_read(by, volunteer) else Forbidden()


def _org(org_id, *, by) -> Org:
    org = db.session.get(Org, org_id) if org_id else None
    if org is None:
        raise ValidationFailed(_l("Choose an organization."), code="ORG_UNKNOWN", field="org_id")
    if by is not None:
        require(by, "recognition.manage", org)
    return org


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_l("Give a reason."), code="REASON_REQUIRED", field="reason")
    return reason[:255]


def _text(value: str | None, field: str, *, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(_l("This field is required."), code="FIELD_REQUIRED",
                               field=field)
    if len(value) > max_length:
        raise ValidationFailed(_l("At most %(num)d characters.", num=max_length),
                               code="FIELD_TOO_LONG", field=field)
    return value


def _not_future(day: date, field: str) -> date:
    if day > date.today():
        raise ValidationFailed(_l("The date cannot be in the future."), code="DATE_IN_FUTURE",
                               field=field)
    return day


def _revoke_kept_on_file(entry: TrainingRecord | Award, reason: str | None, *, by,
                         in_force: str, already_revoked: str, code: str):
    """Mark a training or an award revoked with who, when and why; the row stays on file.

    `already_revoked` and `code` make the 409 when the entry is no longer `in_force`."""
    _require_manager(entry.volunteer, by)
    if entry.status != in_force:
        raise Conflict(already_revoked, code=code)
    entry.revoked_reason = _reason(reason)
    entry.status = "revoked"
    entry.revoked_by_id = by.id if by else None
    entry.revoked_at = utcnow()
    db.session.flush()
    return entry


# --- training records ---------------------------------------------------------------------------

def _check_training(data: dict) -> None:
    if data.get("kind") not in TRAINING_KINDS:
        raise ValidationFailed(_l("Choose a kind of training."), code="TRAINING_KIND",
                               field="kind")
    minutes = data.get("minutes")
    if not isinstance(minutes, int) or not 1 <= minutes <= MAX_TRAINING_MINUTES:
        raise ValidationFailed(
            _l("Training time must be between 1 minute and %(hours)d hours.",
               hours=MAX_TRAINING_MINUTES // 60), code="TRAINING_MINUTES", field="minutes")
    _not_future(data["trained_on"], "trained_on")


def _certification(volunteer: Volunteer, certification_id: int | None) -> Certification | None:
    if certification_id is None:
        return None
    cert = db.session.get(Certification, certification_id)
    if cert is None or cert.volunteer_id != volunteer.id:
        raise ValidationFailed(_l("This certification is not one of the volunteer's."),
                               code="CERTIFICATION_UNKNOWN", field="certification_id")
    return cert


def _duplicate_training(volunteer: Volunteer, org: Org, title: str, day: date) -> bool:
    return db.session.execute(select(TrainingRecord.id).where(
        TrainingRecord.volunteer_id == volunteer.id, TrainingRecord.org_id == org.id,
        TrainingRecord.title == title, TrainingRecord.trained_on == day,
        TrainingRecord.status == "recorded")).first() is not None


def _add_training(volunteer: Volunteer, org: Org, data: dict, by) -> TrainingRecord:
    _require_manager(volunteer, by)
    title = _text(data.get("title"), "title", max_length=120)
    if _duplicate_training(volunteer, org, title, data["trained_on"]):
        raise Conflict(_l("This training is already recorded for this volunteer."),
                       code="TRAINING_DUPLICATE")
    training = TrainingRecord(
        volunteer=volunteer, org=org, title=title, kind=data["kind"],
        content=(data.get("content") or "").strip(), trained_on=data["trained_on"],
        minutes=data["minutes"], trainer=(data.get("trainer") or "").strip()[:120],
        certification=_certification(volunteer, data.get("certification_id")),
        recorded_by_id=by.id if by else None)
    db.session.add(training)
    db.session.flush()
    return training


def record_training(volunteer: Volunteer, data: dict, *, by) -> TrainingRecord:
    """Record one course a volunteer attended (organizer over the volunteer's community)."""
    _require_manager(volunteer, by)
    org = _org(data.get("org_id"), by=by)
    _check_training(data)
    return _add_training(volunteer, org, data, by)


def record_group_training(volunteer_ids: list[int], data: dict, *, by) -> dict:
    """One course held for a group: a record per volunteer, each in its own savepoint.

    Volunteers the caller may not manage, unknown ids and duplicates are reported as refused
    (out of scope looks like unknown); the others are recorded.
    """
    org = _org(data.get("org_id"), by=by)
    _check_training(data)
    if data.get("certification_id") is not None:
        raise ValidationFailed(_l("Link certifications one volunteer at a time."),
                               code="CERTIFICATION_IN_GROUP", field="certification_id")
    ids = list(dict.fromkeys(volunteer_ids))
    if not ids or len(ids) > MAX_GROUP_SIZE:
        raise ValidationFailed(_l("Choose between 1 and %(num)d volunteers.",
                                  num=MAX_GROUP_SIZE), code="GROUP_SIZE", field="volunteer_ids")
    recorded, refused = [], []
    for volunteer_id in ids:
        try:
            with db.session.begin_nested():
                volunteer = readable_volunteer(volunteer_id, by=by)
                recorded.append(_add_training(volunteer, org, data, by))
        except DomainError as error:
            refused.append({"id": volunteer_id, "error": error.code,
                            "message": str(error.message)})
    return {"recorded": recorded, "refused": refused}


def get_training(training_id: int, *, by) -> TrainingRecord:
    training = db.session.get(TrainingRecord, training_id)
    if training is None or (by is not None and not can_read(by, training.volunteer)):
        raise NotFound()
    return training


def revoke_training(training: TrainingRecord, reason: str | None, *, by) -> TrainingRecord:
    """Revoke a training recorded in error; it stays on file but no longer counts."""
    return _revoke_kept_on_file(
        training, reason, by=by, in_force="recorded",
        already_revoked=_l("This training is already revoked."), code="TRAINING_REVOKED")


def trainings_of(volunteer: Volunteer, *, include_revoked: bool = True) -> Select:
    query = select(TrainingRecord).where(TrainingRecord.volunteer_id == volunteer.id)
    if not include_revoked:
        query = query.where(TrainingRecord.status == "recorded")
    return query.order_by(TrainingRecord.trained_on.desc(), TrainingRecord.id.desc())


def trainings_in_scope(user, *, org_id: int | None = None, kind: str | None = None,
                       status: str | None = None, volunteer_id: int | None = None) -> Select:
    """Trainings of the volunteers in the caller's scope, newest first."""
    query = select(TrainingRecord).join(Volunteer, Volunteer.id == TrainingRecord.volunteer_id) \
        .where(path_filter(Volunteer.org_path, scope_paths(user, "recognition.read")))
    if org_id:
        org = db.session.get(Org, org_id)
        if org is None:
            raise NotFound()
        query = query.join(Org, Org.id == TrainingRecord.org_id) \
            .where(Org.path.startswith(org.path, autoescape=True))
    if kind:
        query = query.where(TrainingRecord.kind == kind)
    if status:
        query = query.where(TrainingRecord.status == status)
    if volunteer_id:
        query = query.where(TrainingRecord.volunteer_id == volunteer_id)
    return query.order_by(TrainingRecord.trained_on.desc(), TrainingRecord.id.desc())


# --- queries for other features (no authorization: callers decide who sees the result) ---------

def _training_match(kinds, since: date | None):
    unknown = set(kinds) - set(TRAINING_KINDS)
    if unknown:
        raise ValueError(f"unknown training kinds: {sorted(unknown)}")
    condition = (TrainingRecord.kind.in_(list(kinds))) & (TrainingRecord.status == "recorded")
    if since is not None:
        condition &= TrainingRecord.trained_on >= since
    return condition


def has_training(volunteer_id: int, kind: str, since: date | None = None) -> bool:
    """True when the volunteer has a recorded (not revoked) training of `kind` on or after
    `since` (any date when None)."""
    return bool(db.session.execute(select(exists().where(
        (TrainingRecord.volunteer_id == volunteer_id) & _training_match([kind], since))))
        .scalar())


def trained_volunteer_ids(kinds, since: date | None = None, *,
                          require_all: bool = False) -> Select:
    """A select of volunteer ids with a recorded training of any of `kinds` (or of every
    one of them with require_all), for use in `Volunteer.id.in_(...)`."""
    kinds = list(dict.fromkeys(kinds))
    query = select(TrainingRecord.volunteer_id).where(_training_match(kinds, since))
    if require_all:
        return query.group_by(TrainingRecord.volunteer_id).having(
            func.count(func.distinct(TrainingRecord.kind)) == len(kinds))
    return query.distinct()


# --- evaluations --------------------------------------------------------------------------------

def score_message():
    return _l("The score must be a whole number from %(min)d to %(max)d.",
              min=SCORE_MIN, max=SCORE_MAX)


def score_in_range(score) -> bool:
    return isinstance(score, int) and not isinstance(score, bool) \
        and SCORE_MIN <= score <= SCORE_MAX


def _check_score(score) -> int:
    if not score_in_range(score):
        raise ValidationFailed(score_message(), code="SCORE_RANGE", field="score")
    return score


def get_service_record(record_id: int, *, by) -> ServiceRecord:
    record = db.session.get(ServiceRecord, record_id)
    if record is None or (by is not None and not can_view_record(by, record)):
        raise NotFound()
    return record


def _existing_evaluation(record: ServiceRecord, evaluator_id: int) -> Evaluation | None:
    return db.session.execute(select(Evaluation).filter_by(
        service_record_id=record.id, evaluator_id=evaluator_id)).scalar_one_or_none()


def can_evaluate(user, record: ServiceRecord) -> bool:
    """The activity lead or an organizer who may verify it, never the volunteer themself."""
    return user is not None and can_verify(user, record) and not is_self(user, record.volunteer)


def evaluate(record: ServiceRecord, score, comment: str | None, *, by) -> Evaluation:
    """Rate a verified service record 1-5 with a comment: once per record and evaluator."""
    if by is None:
        raise Forbidden(_l("An evaluation needs a person who gives it."))
    if not can_view_record(by, record):
        raise NotFound()
    if not can_evaluate(by, record):
        raise Forbidden(_l("Only the activity lead or an organizer can evaluate this service."))
    score = _check_score(score)
    if record.status != "verified":
        raise Conflict(_l("Only verified service can be evaluated."),
                       code="RECORD_NOT_VERIFIED")
    duplicate = Conflict(_l("You have already evaluated this service."),
                         code="EVALUATION_EXISTS")
    if _existing_evaluation(record, by.id) is not None:
        raise duplicate
    evaluation = Evaluation(service_record=record, volunteer_id=record.volunteer_id,
                            evaluator_id=by.id, score=score,
                            comment=(comment or "").strip()[:2000])
    try:
        with db.session.begin_nested():  # a concurrent double submit meets the unique index
            db.session.add(evaluation)
    except IntegrityError:
        raise duplicate from None
    return evaluation


def can_read_evaluation(user, evaluation: Evaluation) -> bool:
    return user is not None and (
        user.id == evaluation.evaluator_id or is_self(user, evaluation.volunteer)
        or can(user, "recognition.manage", evaluation.volunteer.community)
        or can_verify(user, evaluation.service_record))


def get_evaluation(evaluation_id: int, *, by) -> Evaluation:
    evaluation = db.session.get(Evaluation, evaluation_id)
    if evaluation is None or (by is not None and not can_read_evaluation(by, evaluation)):
        raise NotFound()
    return evaluation


def evaluations_of(volunteer: Volunteer, *, by) -> Select:
    """A volunteer's evaluations, newest first: for themself or an organizer over them
    (coordinators read trainings, not quality ratings)."""
    if by is not None and not (is_self(by, volunteer) or can_manage(by, volunteer)):
        raise NotFound() if not can_read(by, volunteer) else Forbidden()
    return (select(Evaluation).where(Evaluation.volunteer_id == volunteer.id)
            .order_by(Evaluation.created_at.desc(), Evaluation.id.desc()))


def evaluations_of_record(record: ServiceRecord, *, by) -> Select:
    """The evaluations of one record: its volunteer, its lead or an organizer over it."""
    if by is not None and not can_view_record(by, record):
        raise NotFound()
    return (select(Evaluation).where(Evaluation.service_record_id == record.id)
            .order_by(Evaluation.created_at, Evaluation.id))


def records_to_evaluate(user) -> Select:
    """Verified records the caller may evaluate and has not yet, newest first."""
    scope = path_filter(Activity.org_path, scope_paths(user, "records.verify"))
    evaluated = exists().where((Evaluation.service_record_id == ServiceRecord.id)
                               & (Evaluation.evaluator_id == user.id))
    return (select(ServiceRecord).join(Activity, Activity.id == ServiceRecord.activity_id)
            .where(ServiceRecord.status == "verified", ~evaluated,
                   or_(scope, Activity.lead_user_id == user.id))
            .order_by(ServiceRecord.verified_at.desc(), ServiceRecord.id.desc()))


def average_score(volunteer: Volunteer) -> float | None:
    value = db.session.execute(select(func.avg(Evaluation.score)).where(
        Evaluation.volunteer_id == volunteer.id)).scalar()
    return round(float(value), 1) if value is not None else None


# --- awards -------------------------------------------------------------------------------------

def grant_award(volunteer: Volunteer, data: dict, *, by) -> Award:
    """Record an award (e.g. 优秀志愿者) given to a volunteer; it shows on the profile."""
    _require_manager(volunteer, by)
    org = _org(data.get("org_id"), by=by)
    if data.get("level") not in AWARD_LEVELS:
        raise ValidationFailed(_l("Choose the award's level."), code="AWARD_LEVEL",
                               field="level")
    award = Award(
        volunteer=volunteer, org=org, title=_text(data.get("title"), "title", max_length=120),
        level=data["level"], awarded_on=_not_future(data["awarded_on"], "awarded_on"),
        issuer=(data.get("issuer") or "").strip()[:200] or org.name_zh,
        reason=(data.get("reason") or "").strip(), recorded_by_id=by.id if by else None)
    db.session.add(award)
    db.session.flush()
    return award


def get_award(award_id: int, *, by) -> Award:
    award = db.session.get(Award, award_id)
    if award is None or (by is not None and not can_read(by, award.volunteer)):
        raise NotFound()
    return award


def revoke_award(award: Award, reason: str | None, *, by) -> Award:
    """Withdraw an award recorded in error or rescinded; it no longer shows on the profile."""
    return _revoke_kept_on_file(
        award, reason, by=by, in_force="granted",
        already_revoked=_l("This award is already revoked."), code="AWARD_REVOKED")


def awards_of(volunteer: Volunteer, *, include_revoked: bool = False) -> Select:
    query = select(Award).where(Award.volunteer_id == volunteer.id)
    if not include_revoked:
        query = query.where(Award.status == "granted")
    return query.order_by(Award.awarded_on.desc(), Award.id.desc())


def awards_in_scope(user) -> Select:
    return (select(Award).join(Volunteer, Volunteer.id == Award.volunteer_id)
            .where(path_filter(Volunteer.org_path, scope_paths(user, "recognition.read")))
            .order_by(Award.awarded_on.desc(), Award.id.desc()))
