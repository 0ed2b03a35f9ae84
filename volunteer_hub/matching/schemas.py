"""Matching API schemas: runs, assignments (with explanations), sign-ups, open needs."""
from marshmallow import Schema, fields, post_dump, validate

from volunteer_hub.common_schemas import Id, Instant, PageArgsSchema, bounded_list, page_of
from volunteer_hub.matching.models import ASSIGNMENT_STATES
from volunteer_hub.needs.schemas import LocalDateTime, PublicNeedSchema, SlotSchema


class MatchingRunCreateSchema(Schema):
    org_id = Id(required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)


class AssignmentSchema(Schema):
    id = fields.Integer()
    slot_id = fields.Integer()
    need_id = fields.Integer(attribute="slot.need_id")
    need_title = fields.String(attribute="slot.need.title")
    start = LocalDateTime(attribute="slot.start")
    end = LocalDateTime(attribute="slot.end")
    volunteer_id = fields.Integer()
    volunteer_name = fields.String(attribute="volunteer.real_name")
    run_id = fields.Integer(allow_none=True)
    source = fields.String()
    state = fields.String()
    cost = fields.Integer(allow_none=True)
    explanation = fields.Dict()
    reason = fields.String(allow_none=True)
    created_at = Instant()
    confirmed_at = Instant(allow_none=True)
    responded_at = Instant(allow_none=True)

    @post_dump(pass_original=True)
    def no_distance_before_acceptance(self, data, assignment, **kwargs):
        """The volunteer reads no exact distance to the need's point until they accept (the
        task page shows a band): read from a few homes, it would locate the person."""
        explanation = data.get("explanation") or {}
        if isinstance(assignment, dict):  # a run read back for its organizer (one query)
            return data
        if assignment.state != "accepted" and explanation.get("distance_km") is not None \
                and _read_by_its_volunteer(assignment):
            data["explanation"] = {**explanation, "distance_km": None}
        return data


def _read_by_its_volunteer(assignment) -> bool:
    from flask import has_request_context
    from flask_login import current_user

    from volunteer_hub.accounts.auth import bearer_user

    if not has_request_context():
        return False
    user = bearer_user() or (current_user if current_user.is_authenticated else None)
    return user is not None and assignment.volunteer is not None \
        and assignment.volunteer.user_id == user.id


AssignmentPageSchema = page_of(AssignmentSchema)


class ReadBackProposals(fields.List):
    """A run's proposals, as AssignmentSchema dumps them (the OpenAPI document says so).
    Those read back in one query (services.run_view: plain dicts, for their organizer) go
    through each of AssignmentSchema's fields directly: marshmallow's per-object machinery
    took about 0.5 ms a proposal, more than the matching itself for a city's 5,000."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None or not all(isinstance(item, dict) for item in value):
            return super()._serialize(value, attr, obj, **kwargs)
        plan = [(name, (field.attribute or name).split("."), _memoized(field, name))
                for name, field in AssignmentSchema().dump_fields.items()]
        return [{name: dump(_dotted(item, path), item) for name, path, dump in plan} for item in value]


def _memoized(field, name: str):
    """The field's own serializer, once per distinct time (a run's proposals share their
    creation time and a few hundred slot times); other values go straight through."""
    if not isinstance(field, fields.DateTime):
        return lambda value, item: field._serialize(value, name, item)
    seen: dict = {}

    def dump(value, item):
        if value not in seen:
            seen[value] = field._serialize(value, name, item)
        return seen[value]

    return dump


def _dotted(item: dict, path: list[str]):
    for key in path:
        if item is None:
            return None
        item = item.get(key)
    return item


class MatchingRunSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    kind = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    created_by_id = fields.Integer(allow_none=True)
    created_at = Instant()
    stats = fields.Dict()
    proposals = ReadBackProposals(fields.Nested(AssignmentSchema), attribute="assignments")


class MatchingRunSummarySchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    kind = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    created_at = Instant()
    stats = fields.Dict()


MatchingRunPageSchema = page_of(MatchingRunSummarySchema)


class AssignmentQueryArgsSchema(PageArgsSchema):
    run_id = Id()
    need_id = Id()
    state = fields.String(validate=validate.OneOf(ASSIGNMENT_STATES))
    volunteer_id = Id()


class AssignmentEditSchema(Schema):
    volunteer_id = Id(required=True)


class ReasonSchema(Schema):
    reason = fields.String(allow_none=True, load_default=None,
                           validate=validate.Length(max=255))


class SignupSchema(Schema):
    slot_id = Id(allow_none=True, load_default=None)
    accept_risk = fields.Boolean(load_default=False)


class OpenNeedSchema(Schema):
    need = fields.Nested(PublicNeedSchema)
    slot = fields.Nested(SlotSchema)
    open_slots = fields.Integer()
    relation = fields.String()
    distance_band = fields.String(allow_none=True, metadata={
        "description": "under_1_km, 1_to_3_km, 3_to_5_km or over_5_km from the need's grid "
                       "or community centre"})
    distance_label = fields.String(allow_none=True)


class OpenNeedArgsSchema(Schema):
    skill = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class MatchingPreferenceSchema(Schema):
    """A volunteer's matching preferences: max_travel_km is a hard limit, the rest are soft."""

    need_types = bounded_list(fields.String())
    max_travel_km = fields.Float(allow_none=True)
    weekdays = bounded_list(fields.Integer(), metadata={"description": "0 = Monday"})
    day_parts = bounded_list(fields.String(), metadata={"description": "morning/afternoon/evening"})
    categories = bounded_list(fields.String(), metadata={"description": "beneficiary categories"})
    updated_at = Instant(dump_only=True, allow_none=True)
