"""Volunteer API schemas."""
from marshmallow import Schema, fields, validate

from volunteer_hub.accounts.auth import bearer_user
from volunteer_hub.common_schemas import (
    Id, Instant, Latitude, Longitude, PageArgsSchema, bounded_list, page_of,
)
from volunteer_hub.geo.schemas import WGS84Input
from volunteer_hub.volunteers import services
from volunteer_hub.volunteers.catalogue import STATUSES
from volunteer_hub.volunteers.idnumbers import ID_TYPES


class SkillInSchema(Schema):
    code = fields.String(required=True)
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=3))


class GuardianSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    phone = fields.String(required=True)
    relationship = fields.String(validate=validate.Length(max=30))


class RegistrationSchema(WGS84Input):  # coord_system: stored as WGS-84
    real_name = fields.String(required=True, validate=validate.Length(min=1, max=50))
    gender = fields.String(validate=validate.OneOf(("male", "female")))
    birth_date = fields.Date()
    id_type = fields.String(load_default="mainland_id", validate=validate.OneOf(ID_TYPES))
    id_number = fields.String(required=True, load_only=True)
    phone = fields.String(required=True)
    email = fields.String(validate=validate.Length(max=254))
    password = fields.String(required=True, load_only=True)
    community_id = Id(required=True)
    grid_id = Id(allow_none=True)
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)
    languages = bounded_list(fields.String())
    skills = bounded_list(fields.Nested(SkillInSchema))
    guardian = fields.Nested(GuardianSchema, allow_none=True)
    agree_terms = fields.Boolean(required=True)
    agree_sensitive_data = fields.Boolean(required=True)
    locale = fields.String(validate=validate.OneOf(("zh_Hans", "en")))


class ProfileUpdateSchema(WGS84Input):  # coord_system: stored as WGS-84
    real_name = fields.String(validate=validate.Length(min=1, max=50))
    phone = fields.String()
    community_id = Id()
    grid_id = Id(allow_none=True)
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)
    languages = bounded_list(fields.String())


class SkillSchema(Schema):
    code = fields.String(attribute="skill_code")
    level = fields.Integer()
    confirmed_level = fields.Integer(allow_none=True)
    effective_level = fields.Integer()
    confirmed_at = Instant(allow_none=True)


class SkillsSchema(Schema):
    skills = bounded_list(fields.Nested(SkillInSchema), required=True)


class SkillConfirmationSchema(Schema):
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=3))


class CertificationSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True)
    name = fields.String(allow_none=True, validate=validate.Length(max=100))
    issuer = fields.String(required=True, validate=validate.Length(min=1, max=100))
    number = fields.String(allow_none=True, validate=validate.Length(max=60))
    issued_on = fields.Date(required=True)
    expires_on = fields.Date(allow_none=True)


class WindowSchema(Schema):
    weekday = fields.Integer(required=True, validate=validate.Range(min=0, max=6))
    start_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1440))
    end_minute = fields.Integer(required=True, validate=validate.Range(min=0, max=1440))


class ExceptionSchema(Schema):
    day = fields.Date(required=True)
    available = fields.Boolean(load_default=False)
    note = fields.String(allow_none=True, validate=validate.Length(max=200))


class AvailabilitySchema(Schema):
    windows = bounded_list(fields.Nested(WindowSchema), required=True)
    exceptions = bounded_list(fields.Nested(ExceptionSchema), load_default=list)


class ConsentSchema(Schema):
    id = fields.Integer(dump_only=True)
    kind = fields.String(required=True)
    text_version = fields.String(dump_only=True)
    granted_at = Instant(dump_only=True)
    withdrawn_at = Instant(dump_only=True, allow_none=True)
    guardian_name = fields.String(dump_only=True, allow_none=True)
    guardian = fields.Nested(GuardianSchema, load_only=True, allow_none=True)


class StatusChangeSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    reason = fields.String(allow_none=True, validate=validate.Length(max=255))


class VolunteerSchema(Schema):
    id = fields.Integer()
    volunteer_number = fields.String()
    real_name = fields.String()
    gender = fields.String()
    birth_date = fields.Method(
        "dump_birth_date", allow_none=True,
        metadata={"type": "string", "format": "date",
                  "description": "null unless the caller may reveal the ID number"})
    age = fields.Method("dump_age", metadata={"type": "integer"})
    id_type = fields.String()
    id_number_masked = fields.String()
    phone = fields.String()
    community_id = fields.Integer()
    grid_id = fields.Integer(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    languages = fields.List(fields.String(), attribute="language_list")
    status = fields.String()
    status_reason = fields.String(allow_none=True)
    created_at = Instant()
    skills = fields.List(fields.Nested(SkillSchema))
    certifications = fields.List(fields.Nested(CertificationSchema))
    availability = fields.Method("dump_availability")

    def dump_birth_date(self, volunteer):
        birth = services.visible_birth_date(bearer_user(), volunteer)
        return birth.isoformat() if birth else None

    def dump_age(self, volunteer):
        return services.age_of(volunteer)

    def dump_availability(self, volunteer):
        return AvailabilitySchema().dump(
            {"windows": volunteer.availability, "exceptions": volunteer.exceptions})


class VolunteerSummarySchema(Schema):
    id = fields.Integer()
    volunteer_number = fields.String()
    real_name = fields.String()
    gender = fields.String()
    phone = fields.String()
    community_id = fields.Integer()
    grid_id = fields.Integer(allow_none=True)
    status = fields.String()
    created_at = Instant()


VolunteerPageSchema = page_of(VolunteerSummarySchema)


class VolunteerQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    status = fields.String(validate=validate.OneOf(STATUSES))
    skill = fields.String()
    min_level = fields.Integer(validate=validate.Range(min=1, max=3))
    team_id = Id()
    certification = fields.String()
    certification_expiring_before = fields.Date()
    q = fields.String(validate=validate.Length(max=50))


class IdRevealSchema(Schema):
    id_number = fields.String()


class CatalogueEntrySchema(Schema):
    code = fields.String()
    label = fields.String()
