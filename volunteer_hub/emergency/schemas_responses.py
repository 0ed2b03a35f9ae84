"""Schemas of answers, assignment, roll call and the well-being roll call.

They dump the plain dicts that `views` below builds inside the transaction, so that nothing
is read again from the database after the commit (the answer endpoint is the hot path)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import Id, Instant, page_of
from volunteer_hub.emergency.responses import ANSWER_CODES, MAX_ETA_MINUTES
from volunteer_hub.emergency.wellbeing import MAX_NOTE_LENGTH, OUTCOMES


class AnswerSchema(Schema):
    answer = fields.String(required=True, validate=validate.OneOf(ANSWER_CODES))
    eta_minutes = fields.Integer(load_default=None, allow_none=True,
                                 validate=validate.Range(min=0, max=MAX_ETA_MINUTES))


class AssemblyPointSchema(Schema):
    index = fields.Integer()
    name = fields.String()
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)


class RoleRefSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    label_zh = fields.String()
    label_en = fields.String()


class AnswerResultSchema(Schema):
    """What a responder sees of their own answer (also after a one-tap answer)."""

    id = fields.Integer()
    activation_id = fields.Integer()
    answer = fields.String()
    eta_minutes = fields.Integer(allow_none=True)
    answered_at = Instant(allow_none=True)
    answer_channel = fields.String(allow_none=True)
    role = fields.Nested(RoleRefSchema, allow_none=True)
    assembly_point = fields.Nested(AssemblyPointSchema, allow_none=True)
    arrived_at = Instant(allow_none=True)
    checked_out_at = Instant(allow_none=True)
    safe_confirmed_at = Instant(allow_none=True)


class CallOutSchema(Schema):
    """The call-out as its responders see it."""

    id = fields.Integer()
    is_drill = fields.Boolean()
    status = fields.String()
    level = fields.Integer()
    plan_name = fields.String()
    incident_address = fields.String()
    note = fields.String()
    activated_at = Instant()
    stood_down_at = Instant(allow_none=True)


class MyAlertSchema(AnswerResultSchema):
    activation = fields.Nested(CallOutSchema)


MyAlertPageSchema = page_of(MyAlertSchema)


class RespondPageSchema(Schema):
    activation = fields.Nested(CallOutSchema)
    responder = fields.Nested(AnswerResultSchema)


class ResponderSchema(AnswerResultSchema):
    """A responder as the coordinator sees them."""

    volunteer_id = fields.Integer()
    name = fields.String()
    phone = fields.String()
    team_id = fields.Integer(allow_none=True)
    distance_km = fields.Float(allow_none=True)
    notified_at = Instant()
    first_answered_at = Instant(allow_none=True)
    assigned_at = Instant(allow_none=True)
    arrival_method = fields.String(allow_none=True)


class ChangeSchema(Schema):
    responder_id = fields.Integer()
    role_id = fields.Integer(allow_none=True)
    assembly_point = fields.Integer(allow_none=True)


class ReplanResultSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema))


class HandAssignSchema(Schema):
    role_id = Id(required=True)
    assembly_point = fields.Integer(load_default=None, allow_none=True)


class ArrivalTokenSchema(Schema):
    token = fields.String()
    url = fields.String()
    valid_minutes = fields.Integer()


class ArriveSchema(Schema):
    t = fields.String(required=True, validate=validate.Length(min=1, max=300))


class UnaccountedSchema(Schema):
    responder = fields.Nested(ResponderSchema)
    missing = fields.List(fields.String())


class RollCallSchema(Schema):
    responders = fields.List(fields.Nested(ResponderSchema))
    unaccounted = fields.List(fields.Nested(UnaccountedSchema))


class WellbeingSummarySchema(Schema):
    id = fields.Integer()
    activation_id = fields.Integer()
    beneficiary_id = fields.Integer()
    name_masked = fields.String()
    category = fields.String()
    community_id = fields.Integer()
    responder_id = fields.Integer(allow_none=True)
    status = fields.String()
    recorded_at = Instant(allow_none=True)


class WellbeingContactSchema(WellbeingSummarySchema):
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    guardian_name = fields.String(allow_none=True)
    guardian_phone = fields.String(allow_none=True)
    note = fields.String(allow_none=True)


class WellbeingListSchema(Schema):
    items = fields.List(fields.Nested(WellbeingSummarySchema))
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())


class WellbeingOutcomeSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE_LENGTH))


class WellbeingAssignSchema(Schema):
    responder_id = Id(required=True, allow_none=True)


# --- views: dicts built before the commit ---------------------------------------------------

def role_view(role) -> dict | None:
    if role is None:
        return None
    return {"id": role.id, "code": role.code, "label_zh": role.label_zh,
            "label_en": role.label_en}


def answer_view(responder) -> dict:
    from volunteer_hub.emergency.assignment import point_of

    point = None
    if responder.role_id is not None:
        found = point_of(responder.activation, responder.assembly_point)
        point = None if found is None else dict(found, index=responder.assembly_point)
    return {
        "id": responder.id, "activation_id": responder.activation_id,
        "answer": responder.answer, "eta_minutes": responder.eta_minutes,
        "answered_at": responder.answered_at, "answer_channel": responder.answer_channel,
        "role": role_view(responder.role) if responder.role_id else None,
        "assembly_point": point, "arrived_at": responder.arrived_at,
        "checked_out_at": responder.checked_out_at,
        "safe_confirmed_at": responder.safe_confirmed_at,
    }


def call_out_view(activation) -> dict:
    return {"id": activation.id, "is_drill": activation.is_drill, "status": activation.status,
            "level": activation.level, "plan_name": activation.plan.name,
            "incident_address": activation.incident_address, "note": activation.note,
            "activated_at": activation.activated_at, "stood_down_at": activation.stood_down_at}


def my_alert_view(responder) -> dict:
    return dict(answer_view(responder), activation=call_out_view(responder.activation))


def responder_view(responder) -> dict:
    volunteer = responder.volunteer
    return dict(answer_view(responder), volunteer_id=responder.volunteer_id,
                name=volunteer.real_name, phone=volunteer.phone, team_id=responder.team_id,
                distance_km=responder.distance_km, notified_at=responder.notified_at,
                first_answered_at=responder.first_answered_at,
                assigned_at=responder.assigned_at, arrival_method=responder.arrival_method)
