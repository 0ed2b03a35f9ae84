"""Account API schemas."""
from marshmallow import Schema, fields, validate

from volunteer_hub.accounts.models import ROLES
from volunteer_hub.common_schemas import Id, Instant


class LoginSchema(Schema):
    login = fields.String(required=True, metadata={"description": "phone or e-mail"})
    password = fields.String(required=True, load_only=True)
    token_name = fields.String(load_default="api", validate=validate.Length(max=100))


class TokenSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    prefix = fields.String(dump_only=True)
    created_at = Instant(dump_only=True)
    last_used_at = Instant(dump_only=True, allow_none=True)
    revoked_at = Instant(dump_only=True, allow_none=True)


class NewTokenSchema(TokenSchema):
    token = fields.String(dump_only=True, metadata={"description": "shown once"})


class GrantSchema(Schema):
    id = fields.Integer(dump_only=True)
    user_id = Id(required=True)
    org_id = fields.Integer(dump_only=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class MeSchema(Schema):
    id = fields.Integer()
    display_name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    locale = fields.String(allow_none=True)
    must_change_password = fields.Boolean()
    volunteer_id = fields.Function(lambda u: u.volunteer.id if u.volunteer else None)
    grants = fields.List(fields.Nested(GrantSchema))


class MeUpdateSchema(Schema):
    locale = fields.String(validate=validate.OneOf(("zh_Hans", "en")))
    display_name = fields.String(validate=validate.Length(min=1, max=100))


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True)


class PasswordResetSchema(Schema):
    temporary_password = fields.String(dump_only=True)
