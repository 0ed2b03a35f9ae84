"""Needs API schemas: beneficiaries (views by access level), needs, slots, the inbox."""
from zoneinfo import ZoneInfo

from flask import current_app
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import (
    Id, Instant, Latitude, Longitude, PageArgsSchema, bounded_list, page_of,
)
from volunteer_hub.geo.schemas import WGS84Input
from volunteer_hub.needs.catalogue import (
    BENEFICIARY_CATEGORIES, NEED_STATES, NEED_TYPES, PRIORITIES,
)


class LocalDateTime(fields.DateTime):
    """A naive station-local time (needs.models), dumped ISO 8601 with its offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))
        return value.isoformat()


class BeneficiaryGuardianSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True)
    relationship = fields.String(allow_none=True, validate=validate.Length(max=30))


class BeneficiaryCreateSchema(WGS84Input):  # coord_system: stored as WGS-84
    category = fields.String(required=True, validate=validate.OneOf(BENEFICIARY_CATEGORIES))
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    gender = fields.String(allow_none=True, validate=validate.OneOf(("male", "female")))
    community_id = Id(required=True)
    grid_id = Id(allow_none=True)
    birth_date = fields.Date(allow_none=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True)
    care_notes = fields.String(allow_none=True, validate=validate.Length(max=2000))
    guardian = fields.Nested(BeneficiaryGuardianSchema, allow_none=True)
    guardian_consent = fields.Boolean(load_default=False)
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)


class BeneficiaryUpdateSchema(WGS84Input):  # coord_system: stored as WGS-84
    name = fields.String(validate=validate.Length(min=1, max=50))
    gender = fields.String(allow_none=True, validate=validate.OneOf(("male", "female")))
    birth_date = fields.Date(allow_none=True)
    address = fields.String(allow_none=True, validate=validate.Length(max=200))
    phone = fields.String(allow_none=True)
    care_notes = fields.String(allow_none=True, validate=validate.Length(max=2000))
    guardian = fields.Nested(BeneficiaryGuardianSchema, allow_none=True)
    guardian_consent = fields.Boolean()
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)
    active = fields.Boolean()


class BeneficiarySummarySchema(Schema):
    """A list row for organizers: no clear personal data, nothing to log."""

    id = fields.Integer()
    category = fields.String()
    name_masked = fields.String()
    gender = fields.String(allow_none=True)
    community_id = fields.Integer()
    grid_id = fields.Integer(allow_none=True)
    under_14 = fields.Boolean()
    active = fields.Boolean()
    created_at = Instant()


BeneficiaryPageSchema = page_of(BeneficiarySummarySchema)


class BeneficiaryViewSchema(Schema):
    """What the caller may see (`access`: full, task or summary); absent fields are hidden."""

    id = fields.Integer()
    access = fields.String()
    community_id = fields.Integer()
    community_name_zh = fields.String()
    community_name_en = fields.String(allow_none=True)
    distance_km = fields.Float(allow_none=True, metadata={
        "description": "on a confirmed or accepted task only"})
    distance_band = fields.String(allow_none=True, metadata={
        "description": "before a task: under_1_km, 1_to_3_km, 3_to_5_km or over_5_km from the "
                       "centre of the person's grid or community"})
    category = fields.String()
    name_masked = fields.String()
    gender = fields.String(allow_none=True)
    grid_id = fields.Integer(allow_none=True)
    under_14 = fields.Boolean()
    active = fields.Boolean()
    approx_lat = fields.Float(allow_none=True)
    approx_lon = fields.Float(allow_none=True)
    name = fields.String()
    birth_date = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    care_notes = fields.String(allow_none=True)
    guardian_name = fields.String(allow_none=True)
    guardian_phone = fields.String(allow_none=True)
    guardian_relationship = fields.String(allow_none=True)
    guardian_consent_at = Instant(allow_none=True)


class BeneficiaryQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    category = fields.String(validate=validate.OneOf(BENEFICIARY_CATEGORIES))


class AccessLogSchema(Schema):
    id = fields.Integer()
    user_id = fields.Integer(allow_none=True)
    user_name = fields.String(attribute="user.display_name", allow_none=True)
    accessed_at = Instant()
    fields_read = fields.List(fields.String(), attribute="field_list")
    purpose = fields.String()
    assignment_id = fields.Integer(allow_none=True)


AccessLogPageSchema = page_of(AccessLogSchema)


class RequiredSkillSchema(Schema):
    code = fields.String(required=True)
    min_level = fields.Integer(load_default=1, validate=validate.Range(min=1, max=3))


class NeedCreateSchema(WGS84Input):  # coord_system: stored as WGS-84
    org_id = Id()
    beneficiary_id = Id(allow_none=True)
    type = fields.String(required=True, validate=validate.OneOf(NEED_TYPES))
    custom_type = fields.String(allow_none=True, validate=validate.Length(max=100))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=4000))
    required_skills = bounded_list(fields.Nested(RequiredSkillSchema), load_default=list)
    required_certifications = bounded_list(fields.String(), load_default=list)
    volunteers_per_occurrence = fields.Integer(load_default=1,
                                               validate=validate.Range(min=1, max=50))
    first_date = fields.Date(required=True)
    start_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1440))
    end_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1440))
    recurrence = fields.String(load_default="none", validate=validate.OneOf(("none", "weekly")))
    weekdays = bounded_list(fields.Integer(validate=validate.Range(min=0, max=6)),
                           load_default=list)
    until = fields.Date(allow_none=True)
    location_note = fields.String(allow_none=True, validate=validate.Length(max=200))
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)
    max_distance_km = fields.Float(allow_none=True, validate=validate.Range(min=0, max=200))
    priority = fields.String(load_default="normal", validate=validate.OneOf(PRIORITIES))
    same_gender = fields.Boolean(load_default=False)
    adults_only = fields.Boolean(load_default=False)
    background_check = fields.Boolean(load_default=False)
    risk_disclosure = fields.String(allow_none=True, validate=validate.Length(max=2000))
    insurance_required = fields.Boolean(load_default=False)
    requires_approval = fields.Boolean(load_default=False)
    publish = fields.Boolean(load_default=False, load_only=True)


class NeedUpdateSchema(NeedCreateSchema):
    class Meta:
        exclude = ("org_id", "beneficiary_id", "publish")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, partial=True, **kwargs)


class NeedStateSchema(Schema):
    state = fields.String(required=True, validate=validate.OneOf(NEED_STATES))
    reason = fields.String(allow_none=True, validate=validate.Length(max=255))


class SlotSchema(Schema):
    id = fields.Integer()
    need_id = fields.Integer()
    start = LocalDateTime()
    end = LocalDateTime()
    position = fields.Integer()
    status = fields.String()


class NeedSchema(Schema):
    """A need as organizers see it (the beneficiary by id and masked name only)."""

    id = fields.Integer()
    org_id = fields.Integer()
    community_id = fields.Integer(allow_none=True)
    grid_id = fields.Integer(allow_none=True)
    beneficiary_id = fields.Integer(allow_none=True)
    beneficiary_name_masked = fields.String(attribute="beneficiary.name_masked",
                                            allow_none=True)
    type = fields.String()
    custom_type = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String(allow_none=True)
    required_skills = fields.Method("dump_skills")
    required_certifications = fields.List(fields.String())
    volunteers_per_occurrence = fields.Integer()
    first_date = fields.Date()
    start_minute = fields.Integer()
    end_minute = fields.Integer()
    recurrence = fields.String()
    weekdays = fields.List(fields.Integer())
    until = fields.Date(allow_none=True)
    location_note = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    max_distance_km = fields.Float(allow_none=True)
    priority = fields.String()
    same_gender = fields.Boolean()
    adults_only = fields.Boolean()
    background_check = fields.Boolean()
    risk_disclosure = fields.String(allow_none=True)
    insurance_required = fields.Boolean()
    requires_approval = fields.Boolean()
    state = fields.String()
    cancel_reason = fields.String(allow_none=True)
    created_at = Instant()
    slot_count = fields.Function(lambda need: len(need.slots))

    def dump_skills(self, need):
        return [{"code": code, "min_level": level}
                for code, level in sorted((need.required_skills or {}).items())]


NeedPageSchema = page_of(NeedSchema)


class PublicNeedSchema(Schema):
    """A need as a volunteer sees it: no beneficiary identity, no exact location."""

    id = fields.Integer()
    type = fields.String()
    custom_type = fields.String(allow_none=True)
    title = fields.String()
    description = fields.String(allow_none=True)
    required_skills = fields.Method("dump_skills")
    required_certifications = fields.List(fields.String())
    community_id = fields.Integer(allow_none=True)
    location_note = fields.String(allow_none=True)
    max_distance_km = fields.Float(allow_none=True)
    priority = fields.String()
    same_gender = fields.Boolean()
    adults_only = fields.Boolean()
    background_check = fields.Boolean()
    risk_disclosure = fields.String(allow_none=True)
    insurance_required = fields.Boolean()
    requires_approval = fields.Boolean()
    state = fields.String()
    # The API adds "beneficiary": the caller's beneficiary_view (community, distance).

    def dump_skills(self, need):
        return NeedSchema.dump_skills(self, need)


class NeedQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    state = fields.String(validate=validate.OneOf(NEED_STATES))
    type = fields.String(validate=validate.OneOf(NEED_TYPES))
    beneficiary_id = Id()


class NotificationSchema(Schema):
    """An inbox message (the notify feature's OutboxMessage on the "inbox" channel)."""

    id = fields.Integer()
    text = fields.String(attribute="body")
    link = fields.String(allow_none=True)
    created_at = Instant()
    read_at = Instant(allow_none=True)


NotificationPageSchema = page_of(NotificationSchema)
