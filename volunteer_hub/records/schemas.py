"""Records API schemas."""
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Id, Instant, Latitude, Longitude, PageArgsSchema, page_of
from volunteer_hub.geo.schemas import WGS84Input
from volunteer_hub.records.models import METHODS, SERVICE_TYPES


class ActivityCreateSchema(WGS84Input):  # coord_system: stored as WGS-84
    org_id = Id(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    service_type = fields.String(load_default="community",
                                 validate=validate.OneOf(tuple(SERVICE_TYPES)))
    place = fields.String(load_default="", validate=validate.Length(max=200))
    content = fields.String(load_default="")
    lead_user_id = Id(allow_none=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    geofence_lat = Latitude(allow_none=True)
    geofence_lon = Longitude(allow_none=True)
    geofence_radius_m = fields.Integer(allow_none=True, validate=validate.Range(min=10,
                                                                               max=5000))
    group_service = fields.Boolean(load_default=False)


class ActivitySchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    service_type = fields.String()
    place = fields.String()
    content = fields.String()
    lead_user_id = fields.Integer(allow_none=True)
    starts_at = Instant()
    ends_at = Instant()
    length_minutes = fields.Integer()
    has_geofence = fields.Function(lambda a: a.geofence_radius_m is not None)
    group_service = fields.Boolean()


class ActivityLeadSchema(ActivitySchema):
    """An activity; `checkin_code` is filled only for its lead and organizers."""

    checkin_code = fields.String(attribute="visible_code", allow_none=True)
    geofence_lat = fields.Float(allow_none=True)
    geofence_lon = fields.Float(allow_none=True)
    geofence_radius_m = fields.Integer(allow_none=True)


ActivityPageSchema = page_of(ActivitySchema)


class ActivityQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    upcoming = fields.Boolean(load_default=False)


class QrTokenSchema(Schema):
    token = fields.String()
    valid_minutes = fields.Integer()


class CheckSchema(WGS84Input):  # coord_system: stored as WGS-84
    method = fields.String(required=True, validate=validate.OneOf(("qr", "code", "geofence")))
    token = fields.String(load_only=True)
    code = fields.String(load_only=True, validate=validate.Length(max=6))
    # Used once to compute pass/fail, never stored.
    lat = Latitude(load_only=True)
    lon = Longitude(load_only=True)


class HandRecordSchema(Schema):
    volunteer_id = Id()
    check_in_at = fields.AwareDateTime()
    check_out_at = fields.AwareDateTime()
    minutes = fields.Integer(validate=validate.Range(min=1, max=24 * 60))
    travel_minutes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=600))
    reason = fields.String(validate=validate.Length(max=255))


class RecordSchema(Schema):
    id = fields.Integer()
    volunteer_id = fields.Integer()
    activity_id = fields.Integer()
    activity_name = fields.Function(lambda r: r.activity.name)
    check_in_at = Instant(allow_none=True)
    check_out_at = Instant(allow_none=True)
    method = fields.String(validate=validate.OneOf(METHODS))
    raw_minutes = fields.Integer(allow_none=True)
    minutes = fields.Integer(allow_none=True)
    missing_checkout = fields.Boolean()
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    corrects_id = fields.Integer(allow_none=True)
    verified_at = Instant(allow_none=True)
    ledger_transaction_id = fields.Integer(allow_none=True)
    created_at = Instant()
    # The matched task the hours were given to; all None for a standalone activity.
    assignment_id = fields.Integer(allow_none=True)
    slot_id = fields.Function(lambda r: r.slot.id if r.slot is not None else None,
                              allow_none=True)
    need_id = fields.Integer(attribute="activity.need_id", allow_none=True)
    beneficiary_id = fields.Integer(allow_none=True)


RecordPageSchema = page_of(RecordSchema)


class ClaimSchema(Schema):
    """A missed check-in or check-out: the times worked and why."""

    check_in_at = fields.AwareDateTime(metadata={
        "description": "needed when the volunteer never checked in"})
    check_out_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class TaskHandRecordSchema(Schema):
    volunteer = fields.String(required=True, validate=validate.Length(min=1, max=50),
                              metadata={"description": "the volunteer's code or name"})
    check_in_at = fields.AwareDateTime(required=True)
    check_out_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class TaskDaySchema(Schema):
    """Where the volunteer stands with the task: what they can do now."""

    stage = fields.String(metadata={"description": "not_open, check_in, on_duty, "
                                    "checked_out, claim_hours or claim_check_out"})
    opens_at = Instant()
    ends_at = Instant()
    has_geofence = fields.Boolean()
    may_claim = fields.Boolean(metadata={"description": "after the end: claim hours instead"})
    record = fields.Nested(RecordSchema, allow_none=True)


class DoorSchema(Schema):
    """What the organizer shows at the door of an occurrence."""

    activity = fields.Nested(ActivitySchema)
    checkin_code = fields.String()
    qr_token = fields.String()
    qr_url = fields.String()
    valid_minutes = fields.Integer()


class CommunitySchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    grids = fields.List(fields.Nested(lambda: GridSchema()))


class GridSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name_zh = fields.String()
    name_en = fields.String(allow_none=True)


class VerificationSchema(Schema):
    record_ids = fields.List(Id(), required=True,
                             validate=validate.Length(min=1, max=200))


class RefusalSchema(Schema):
    id = fields.Integer()
    error = fields.String()
    message = fields.String()


class VerificationResultSchema(Schema):
    verified = fields.List(fields.Nested(RecordSchema))
    refused = fields.List(fields.Nested(RefusalSchema))


class RejectionSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))
