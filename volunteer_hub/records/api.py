"""Records API: activities, check-in/out, service records and the verification queue."""
from flask import url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.common_schemas import PageArgsSchema
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import NotFound
from volunteer_hub.extensions import limiter
from volunteer_hub.orgs.models import Org
from volunteer_hub.pagination import paginate
from volunteer_hub.records import services
from volunteer_hub.idempotency import idempotent
from volunteer_hub.records import tasks
from volunteer_hub.records.limits import check_in_limit, check_in_limit_key
from volunteer_hub.records.schemas import (
    ActivityCreateSchema, ActivityLeadSchema, ActivityPageSchema, ActivityQueryArgsSchema,
    CheckSchema, ClaimSchema, CommunitySchema, DoorSchema, HandRecordSchema, QrTokenSchema,
    RecordPageSchema, RecordSchema, RejectionSchema, TaskDaySchema, TaskHandRecordSchema,
    VerificationResultSchema, VerificationSchema,
)
from volunteer_hub.timebank.services import ledger_volunteer, run_in_transaction

URL_PREFIX = ""
blp = Blueprint("records_api", __name__, description="Service records: check-in/out, "
                "hand records, verification")


def _me():
    volunteer = api_user().volunteer
    if volunteer is None:
        raise NotFound()
    return volunteer


def _activity(activity_id: int):
    """An activity through the generic endpoints. A need's occurrence (its geofence is the
    need's point, often a beneficiary's home) exists only for its lead/organizers and the
    volunteers accepted on it: anyone else gets 404, as for an unknown id."""
    activity = services.get_activity(activity_id)
    if activity.need_id is not None:
        user = api_user()
        if not services.is_lead(user, activity) and \
                tasks.assignment_of_volunteer(activity, user.volunteer) is None:
            raise NotFound()
    return activity


def _check(activity_id: int, method: str, data: dict, *, checking_out: bool):
    """A check-in/out; on an occurrence it is the caller's task's (the record names it)."""
    activity, volunteer = _activity(activity_id), _me()
    assignment = tasks.assignment_of_volunteer(activity, volunteer)
    if assignment is not None:
        verb = tasks.check_out_task if checking_out else tasks.check_in_task
        return verb(assignment, method, data, by=api_user())
    verb = services.check_out if checking_out else services.check_in
    return verb(activity, volunteer, method, data, by=api_user())


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityQueryArgsSchema, location="query")
    @blp.response(200, ActivityPageSchema)
    def get(self, args):
        """Activities, newest first (any logged-in user: volunteers look for them)."""
        user = api_user()
        query = services.activities_query(user, org_id=args.get("org_id"),
                                          upcoming_only=args["upcoming"])
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(ActivityCreateSchema)
    @blp.response(201, ActivityLeadSchema)
    def post(self, data):
        """Post an activity (organizer); it gets a 6-digit check-in code."""
        with transaction():
            org = db.session.get(Org, data.pop("org_id"))
            if org is None:
                raise NotFound()
            activity = services.create_activity(org, data, by=api_user())
            activity.visible_code = activity.checkin_code
            return activity


@blp.route("/activities/<int:activity_id>")
class ActivityItem(MethodView):
    @blp.response(200, ActivityLeadSchema)
    def get(self, activity_id):
        """One activity; only its lead (or an organizer over it) sees the check-in code."""
        activity = _activity(activity_id)
        lead = services.is_lead(api_user(), activity)
        activity.visible_code = activity.checkin_code if lead else None  # not a column
        return activity


@blp.route("/activities/<int:activity_id>/qr-token")
class QrToken(MethodView):
    @blp.response(200, QrTokenSchema)
    def get(self, activity_id):
        """A fresh signed check-in token for the lead's screen (valid a few minutes)."""
        token = services.issue_qr_token(services.get_activity(activity_id), by=api_user())
        return {"token": token, "valid_minutes": services.qr_valid_minutes()}


@blp.route("/activities/<int:activity_id>/check-in")
class CheckIn(MethodView):
    # A 6-digit code must not be guessable by trying: a few attempts a minute per client.
    @limiter.limit(check_in_limit, key_func=check_in_limit_key)
    @blp.arguments(CheckSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, activity_id):
        """Check in by QR token, 6-digit code or geofence (only pass/fail is kept)."""
        with transaction():
            method = data.pop("method")
            return _check(activity_id, method, data, checking_out=False)


@blp.route("/activities/<int:activity_id>/check-out")
class CheckOut(MethodView):
    @limiter.limit(check_in_limit, key_func=check_in_limit_key)
    @blp.arguments(CheckSchema)
    @blp.response(200, RecordSchema)
    def post(self, data, activity_id):
        """Check out; the minutes wait for verification."""
        with transaction():
            method = data.pop("method")
            return _check(activity_id, method, data, checking_out=True)


@blp.route("/activities/<int:activity_id>/records")
class HandRecords(MethodView):
    @blp.arguments(HandRecordSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, activity_id):
        """Record hours by hand with a reason (organizer or lead); never above the length."""
        from volunteer_hub.volunteers.services import get_volunteer

        user = api_user()
        with transaction():
            volunteer = get_volunteer(data.pop("volunteer_id", 0), by=user)
            return services.record_manually(services.get_activity(activity_id), volunteer,
                                            data, by=user)


@blp.route("/activities/<int:activity_id>/declarations")
class Declarations(MethodView):
    @blp.arguments(HandRecordSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, activity_id):
        """A volunteer declares hours afterwards; they count once the lead confirms."""
        with transaction():
            activity, volunteer = _activity(activity_id), _me()
            if activity.need_id is not None:
                # A need's occurrence: the hours are the task's claim (once, linked to it).
                assignment = tasks.assignment_of_volunteer(activity, volunteer)
                if assignment is None:
                    raise NotFound()
                return tasks.claim_hours(assignment, data, by=api_user())
            return services.declare_hours(activity, volunteer, data, by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/records")
class VolunteerRecords(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    def get(self, args, volunteer_id):
        """A volunteer's service records, newest first (themself or an organizer in scope)."""
        volunteer = ledger_volunteer(volunteer_id, by=api_user())
        return paginate(services.records_of(volunteer), args["page"], args["page_size"])


@blp.route("/records/<int:record_id>")
class RecordItem(MethodView):
    @blp.response(200, RecordSchema)
    def get(self, record_id):
        """One record (its volunteer, the lead, or an organizer in scope)."""
        return services.get_record(record_id, by=api_user())


@blp.route("/records/<int:record_id>/corrections")
class Corrections(MethodView):
    @blp.arguments(HandRecordSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, record_id):
        """Ask for a correction: a new record linked to this one, verified like any other."""
        user = api_user()
        with transaction():
            return services.request_correction(services.get_record(record_id, by=user), data,
                                               by=user)


@blp.route("/records/<int:record_id>/rejection")
class Rejection(MethodView):
    @blp.arguments(RejectionSchema)
    @blp.response(200, RecordSchema)
    def post(self, data, record_id):
        """Reject a pending record with a reason."""
        user = api_user()
        with transaction():
            return services.reject_record(services.get_record(record_id, by=user),
                                          data["reason"], by=user)


@blp.route("/verification-queue")
class Queue(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, RecordPageSchema)
    def get(self, args):
        """Pending records and corrections the caller may verify, oldest first."""
        return paginate(services.verification_queue(api_user()), args["page"],
                        args["page_size"])


@blp.route("/verifications")
class Verifications(MethodView):
    @blp.arguments(VerificationSchema)
    @blp.response(200, VerificationResultSchema)
    def post(self, data):
        """Verify records in bulk; each verified record mints its minutes into the time bank.
        Safe to retry: a record is minted once."""
        user = api_user()
        result = run_in_transaction(lambda: services.verify_records(data["record_ids"], by=user))
        services.reload_records(result["verified"])
        return result


# --- matched tasks ------------------------------------------------------------------------------

def _my_assignment(assignment_id: int):
    from volunteer_hub.matching.services import get_assignment

    user = api_user()
    assignment = get_assignment(assignment_id, by=user)
    if assignment.volunteer.user_id != user.id:
        raise NotFound()
    return assignment


@blp.route("/assignments/<int:assignment_id>/check-in")
class TaskCheckIn(MethodView):
    @blp.response(200, TaskDaySchema)
    def get(self, assignment_id):
        """Where the volunteer stands with the task: check-in open, on duty, claims."""
        return tasks.task_day(_my_assignment(assignment_id))

    @limiter.limit(check_in_limit, key_func=check_in_limit_key)
    @idempotent
    @blp.arguments(CheckSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, assignment_id):
        """Check in to an accepted task by the QR token, the 6-digit code or the geofence
        (only pass/fail is kept). Send an Idempotency-Key to retry safely."""
        with transaction():
            method = data.pop("method")
            return tasks.check_in_task(_my_assignment(assignment_id), method, data,
                                       by=api_user())


@blp.route("/assignments/<int:assignment_id>/check-out")
class TaskCheckOut(MethodView):
    @limiter.limit(check_in_limit, key_func=check_in_limit_key)
    @idempotent
    @blp.arguments(CheckSchema)
    @blp.response(200, RecordSchema)
    def post(self, data, assignment_id):
        """Check out of the task; the minutes wait for verification."""
        with transaction():
            method = data.pop("method")
            return tasks.check_out_task(_my_assignment(assignment_id), method, data,
                                        by=api_user())


@blp.route("/assignments/<int:assignment_id>/hours-claims")
class TaskClaims(MethodView):
    @idempotent
    @blp.arguments(ClaimSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, assignment_id):
        """Claim a missed check-out (the open record is corrected) or hours without a
        check-in, with a reason; it counts once the organizer verifies it."""
        with transaction():
            return tasks.claim_hours(_my_assignment(assignment_id), data, by=api_user())


@blp.route("/slots/<int:slot_id>/check-in")
class SlotDoor(MethodView):
    @blp.response(200, DoorSchema)
    def get(self, slot_id):
        """The occurrence's code and a fresh QR token and link, for the organizer's screen."""
        user = api_user()
        with transaction():
            activity = tasks.occurrence_for_organizer(tasks.for_slot_id(slot_id), by=user)
        token = services.issue_qr_token(activity, by=user)
        return {"activity": activity, "checkin_code": activity.checkin_code,
                "qr_token": token, "valid_minutes": services.qr_valid_minutes(),
                "qr_url": url_for("records.scan", activity_id=activity.id, t=token,
                                  _external=True)}


@blp.route("/slots/<int:slot_id>/records")
class SlotHandRecords(MethodView):
    @idempotent
    @blp.arguments(TaskHandRecordSchema)
    @blp.response(201, RecordSchema)
    def post(self, data, slot_id):
        """Enter hours for a volunteer named by code or name, with a reason (organizer)."""
        user = api_user()
        with transaction():
            activity = tasks.occurrence_for_organizer(tasks.for_slot_id(slot_id), by=user)
            return tasks.record_for_volunteer(activity, data.pop("volunteer"), data, by=user)


@blp.route("/communities")
class Communities(MethodView):
    @blp.doc(security=[])
    @blp.response(200, CommunitySchema(many=True))
    def get(self):
        """Communities and their grids, for registration (public: no login)."""
        from volunteer_hub.orgs.services import communities_and_grids

        nodes = communities_and_grids()
        communities = [{"id": o.id, "code": o.code, "name_zh": o.name_zh, "name_en": o.name_en,
                        "parent_id": o.parent_id, "grids": []}
                       for o in nodes if o.level == "community"]
        by_id = {c["id"]: c for c in communities}
        for grid in (o for o in nodes if o.level == "grid" and o.parent_id in by_id):
            by_id[grid.parent_id]["grids"].append(grid)
        return communities
