"""Organization and team API schemas."""
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Id, Instant, Latitude, Longitude, PageArgsSchema, page_of
from volunteer_hub.geo.schemas import WGS84Input
from volunteer_hub.orgs.models import ORG_LEVELS, TEAM_ROLES, TEAM_TYPES


class OrgSchema(WGS84Input):  # coord_system: stored as WGS-84
    id = fields.Integer(dump_only=True)
    parent_id = Id(allow_none=True)
    level = fields.String(required=True, validate=validate.OneOf(ORG_LEVELS))
    code = fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name_zh = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=100))
    requires_approval = fields.Boolean()
    resident_population = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)


class OrgUpdateSchema(WGS84Input):  # coord_system: stored as WGS-84
    name_zh = fields.String(validate=validate.Length(min=1, max=100))
    name_en = fields.String(allow_none=True, validate=validate.Length(max=100))
    requires_approval = fields.Boolean()
    resident_population = fields.Integer(allow_none=True, validate=validate.Range(min=0))
    lat = Latitude(allow_none=True)
    lon = Longitude(allow_none=True)


OrgPageSchema = page_of(OrgSchema)


class OrgQueryArgsSchema(PageArgsSchema):
    level = fields.String(validate=validate.OneOf(ORG_LEVELS))
    within = Id(metadata={"description": "only this node's subtree"})


class TeamMemberSchema(Schema):
    volunteer_id = fields.Integer()
    real_name = fields.Function(lambda m: m.volunteer.real_name)
    role = fields.String()
    joined_at = Instant()


class TeamSchema(Schema):
    id = fields.Integer(dump_only=True)
    org_id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    type = fields.String(required=True, validate=validate.OneOf(TEAM_TYPES))
    custom_type = fields.String(allow_none=True, validate=validate.Length(max=100))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    members = fields.List(fields.Nested(TeamMemberSchema), dump_only=True)


class TeamUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    custom_type = fields.String(allow_none=True, validate=validate.Length(max=100))
    description = fields.String(allow_none=True, validate=validate.Length(max=500))


TeamPageSchema = page_of(TeamSchema)


class TeamQueryArgsSchema(PageArgsSchema):
    type = fields.String(validate=validate.OneOf(TEAM_TYPES))


class MembershipSchema(Schema):
    role = fields.String(load_default="member", validate=validate.OneOf(TEAM_ROLES))


class IssuerSchema(Schema):
    """What certificates this org issues print; `missing` lists what blocks issuing."""

    person_in_charge = fields.String(allow_none=True, validate=validate.Length(max=50),
                                     metadata={"description": "负责人"})
    handler = fields.String(allow_none=True, validate=validate.Length(max=50),
                            metadata={"description": "经办人"})
    contact = fields.String(allow_none=True, validate=validate.Length(max=100),
                            metadata={"description": "联系方式"})
    credit_code = fields.String(allow_none=True, validate=validate.Length(max=18), metadata={
        "description": "统一社会信用代码 (GB 32100-2015, 18 characters with check digit)"})
    has_seal = fields.Function(lambda org: org.seal_mime is not None, dump_only=True)
    missing = fields.Function(lambda org: org.missing_issuer_fields(), dump_only=True)
