"""Time-bank API schemas."""
import json

from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Id, Instant, PageArgsSchema, page_of
from volunteer_hub.timebank.ledger import Relationship


class BalanceSchema(Schema):
    volunteer_id = fields.Integer()
    individual_minutes = fields.Integer()
    group_minutes = fields.Integer()
    total_minutes = fields.Integer()
    service_minutes = fields.Integer()
    star_level = fields.Integer(metadata={"description": "the level the hours reach"})
    final_star_level = fields.Integer(metadata={
        "description": "the highest level whose public notice period (公示) is over"})
    star_notice_ends_at = Instant(allow_none=True, metadata={
        "description": "while a new level is in its notice period: when it becomes final"})


class HistoryEntrySchema(Schema):
    transaction_id = fields.Integer(attribute="transaction.id")
    kind = fields.String(attribute="transaction.kind")
    created_at = Instant(attribute="transaction.created_at")
    minutes = fields.Integer()
    earned_as_group = fields.Boolean()
    reverses_id = fields.Integer(attribute="transaction.reverses_id", allow_none=True)
    record_id = fields.Integer(attribute="transaction.record_id", allow_none=True)
    provenance = fields.Dict()
    hash = fields.String(attribute="transaction.hash")


HistoryPageSchema = page_of(HistoryEntrySchema)


class PostingSchema(Schema):
    account_kind = fields.String(attribute="account.kind")
    account_owner = fields.String(attribute="account.owner_id")
    minutes = fields.Integer()
    earned_as_group = fields.Boolean()


class TransactionSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    created_at = Instant()
    reverses_id = fields.Integer(allow_none=True)
    record_id = fields.Integer(allow_none=True)
    provenance = fields.Function(lambda tx: json.loads(tx.provenance or "{}"))
    prev_hash = fields.String()
    hash = fields.String()
    postings = fields.List(fields.Nested(PostingSchema))


class GiftSchema(Schema):
    recipient_id = Id(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=1500 * 60))


class DonationSchema(Schema):
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=1500 * 60))


class RedemptionSchema(Schema):
    provider_id = Id(required=True)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1, max=24 * 60))
    service = fields.String(load_default="", validate=validate.Length(max=100))
    pool_org_id = Id(allow_none=True)  # the pool pays on a beneficiary's behalf


class RelativeSchema(Schema):
    id = fields.Integer(dump_only=True)
    relative_id = Id(required=True)
    relationship = fields.String(required=True,
                                 validate=validate.OneOf([r.value for r in Relationship]))
    confirmed_at = Instant(dump_only=True, allow_none=True)


class ReversalSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class StarNoticeArgsSchema(Schema):
    since = fields.Date(required=True)


class StarNoticeSchema(Schema):
    volunteer_id = fields.Integer(attribute="volunteer.id")
    real_name = fields.String(attribute="volunteer.real_name")
    volunteer_number = fields.String(attribute="volunteer.volunteer_number")
    level = fields.Integer()
    service_minutes = fields.Integer(attribute="minutes")


class HistoryArgsSchema(PageArgsSchema):
    pass


class CertificateIssuerSchema(Schema):
    org_id = fields.Integer(attribute="org.id")
    organization = fields.String(attribute="org.name_zh")
    organization_en = fields.String(attribute="org.name_en", allow_none=True)
    verified_minutes = fields.Integer(attribute="minutes")
    missing = fields.Function(lambda row: row["org"].missing_issuer_fields(),
                              metadata={"description": "fields the org must fill in first"})
