"""Notify API schemas."""
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Instant, PageArgsSchema, page_of
from volunteer_hub.notify.models import CHANNELS, STATUSES

MINUTE_OF_DAY = validate.Range(min=0, max=1439)


class InboxMessageSchema(Schema):
    id = fields.Integer()
    event_key = fields.String()
    subject = fields.String()
    body = fields.String()
    locale = fields.String()
    urgent = fields.Boolean()
    created_at = Instant()
    read_at = Instant(allow_none=True)


InboxPageSchema = page_of(InboxMessageSchema)


class InboxQueryArgsSchema(PageArgsSchema):
    unread = fields.Boolean(load_default=None)


class OutboxMessageSchema(Schema):
    id = fields.Integer()
    event_key = fields.String()
    recipient_id = fields.Integer()
    channel = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    next_attempt_at = Instant(allow_none=True)
    last_error = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    created_at = Instant()
    sent_at = Instant(allow_none=True)
    delivered_at = Instant(allow_none=True)
    fallback_of_id = fields.Integer(allow_none=True)


OutboxMessagePageSchema = page_of(OutboxMessageSchema)


class OutboxQueryArgsSchema(PageArgsSchema):
    status = fields.String(load_default="dead", validate=validate.OneOf(STATUSES))
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    event_key = fields.String()


class PreferenceSchema(Schema):
    sms = fields.Boolean()
    email = fields.Boolean()
    webpush = fields.Boolean()
    wechat = fields.Boolean()
    quiet_start = fields.Integer(allow_none=True, validate=MINUTE_OF_DAY,
                                 metadata={"description": "minutes after local midnight"})
    quiet_end = fields.Integer(allow_none=True, validate=MINUTE_OF_DAY)
    timezone = fields.String(validate=validate.Length(min=1, max=40))


class ReceiptSchema(Schema):
    """A delivery receipt from the SMS gateway."""

    id = fields.String(metadata={"description": "the idempotency key we sent (vh-<id>)"})
    message_id = fields.String(metadata={"description": "the gateway's message id"})
    status = fields.String(required=True, validate=validate.OneOf(("delivered", "failed")))
    error = fields.String(allow_none=True)


class ReceiptResultSchema(Schema):
    id = fields.Integer()
    status = fields.String()


class InboundSmsInSchema(Schema):
    message_id = fields.String(allow_none=True, validate=validate.Length(max=100))
    # "from" is a Python keyword: data_key maps it
    from_phone = fields.String(required=True, data_key="from",
                               validate=validate.Length(min=3, max=32))
    text = fields.String(required=True, validate=validate.Length(max=2000))
    received_at = Instant(allow_none=True)


class InboundSmsSchema(Schema):
    id = fields.Integer()
    handled_by = fields.String(allow_none=True)
    reply = fields.String(allow_none=True)


class PushKeySchema(Schema):
    public_key = fields.String(metadata={"description": "VAPID application server key "
                                                        "(base64url), for pushManager.subscribe"})


class PushKeysSchema(Schema):
    p256dh = fields.String(required=True, validate=validate.Length(min=80, max=100))
    auth = fields.String(required=True, validate=validate.Length(min=16, max=50))


class PushSubscriptionInSchema(Schema):
    """What `PushSubscription.toJSON()` gives in the browser, plus an optional label."""

    endpoint = fields.Url(required=True, require_tld=False, schemes={"https", "http"},
                          validate=validate.Length(max=1000))
    keys = fields.Nested(PushKeysSchema, required=True)
    user_agent = fields.String(load_default="", validate=validate.Length(max=200))


class PushSubscriptionSchema(Schema):
    id = fields.Integer()
    endpoint = fields.String()
    user_agent = fields.String()
    created_at = Instant()
    last_success_at = Instant(allow_none=True)
    failure_count = fields.Integer()
    live = fields.Boolean()


class PushEndpointSchema(Schema):
    endpoint = fields.String(required=True, validate=validate.Length(min=1, max=1000))


class PushReceiptSchema(Schema):
    """Sent by the service worker when it shows an urgent push."""

    id = fields.String(required=True, validate=validate.Length(max=60))
    sig = fields.String(required=True, validate=validate.Length(max=60))


class ChannelOrderInSchema(Schema):
    channels = fields.List(fields.String(validate=validate.OneOf(CHANNELS)), required=True,
                           validate=validate.Length(min=1, max=len(CHANNELS)),
                           metadata={"description": "tried in this order; the inbox always "
                                                    "comes last"})


class ChannelChoiceSchema(Schema):
    name = fields.String()
    label = fields.String()


class ChannelOrderSchema(Schema):
    org_id = fields.Integer()
    channels = fields.List(fields.String())
    set_by_org_id = fields.Integer(allow_none=True, metadata={
        "description": "the organization whose order this is (itself or an ancestor); "
                       "null: the default order"})
    available = fields.List(fields.Nested(ChannelChoiceSchema))
