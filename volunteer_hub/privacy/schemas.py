"""Schemas of the personal-data API."""
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Instant


class ClosureSchema(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=200),
                             metadata={"description": "the account's password, typed again"})


class ClosedSchema(Schema):
    pseudonym = fields.String(metadata={"description": "the name the kept records now carry"})
    closed_at = Instant()


class PendingConsentSchema(Schema):
    kind = fields.String()
    version = fields.String()
    title = fields.String()
    text = fields.String()


class GivenConsentSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    text_version = fields.String(metadata={"description": "the version of the text accepted"})
    granted_at = Instant()
    withdrawn_at = Instant(allow_none=True)


class ConsentStatusSchema(Schema):
    pending = fields.List(fields.Nested(PendingConsentSchema),
                          metadata={"description": "texts to accept before going on"})
    given = fields.List(fields.Nested(GivenConsentSchema))


class ConsentAcceptSchema(Schema):
    accepted = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                           values=fields.String(validate=validate.Length(max=20)),
                           required=True, validate=validate.Length(max=10),
                           metadata={"description": "kind -> the version the person read"})


class AccessEntrySchema(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"description": "id_reveal or data_export"})
    subject_user_id = fields.Integer()
    actor_user_id = fields.Integer(allow_none=True)
    actor_name = fields.String(allow_none=True)
    route = fields.String()
    reason = fields.String(allow_none=True)
    at = Instant()


class RetentionRunSchema(Schema):
    id = fields.Integer()
    started_at = Instant()
    finished_at = Instant(allow_none=True)
    dry_run = fields.Boolean()
    trigger = fields.String()
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
