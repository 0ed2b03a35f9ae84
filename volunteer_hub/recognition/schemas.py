"""Recognition API schemas: trainings, evaluations, awards."""
from marshmallow import Schema, ValidationError, fields, validate

from volunteer_hub.common_schemas import Id, Instant, PageArgsSchema, page_of
from volunteer_hub.recognition.models import (
    AWARD_LEVELS, SCORE_MAX, SCORE_MIN, TRAINING_KINDS, TRAINING_STATUSES,
)
from volunteer_hub.recognition.services import (
    MAX_GROUP_SIZE, MAX_TRAINING_MINUTES, score_in_range, score_message,
)


def _validate_score(value: int) -> None:
    if not score_in_range(value):
        raise ValidationError(str(score_message()))  # in the request's language


class TrainingCreateSchema(Schema):
    org_id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    kind = fields.String(required=True, validate=validate.OneOf(tuple(TRAINING_KINDS)))
    content = fields.String(load_default="", validate=validate.Length(max=2000))
    trained_on = fields.Date(required=True)
    minutes = fields.Integer(required=True,
                             validate=validate.Range(min=1, max=MAX_TRAINING_MINUTES))
    trainer = fields.String(load_default="", validate=validate.Length(max=120))
    certification_id = Id(allow_none=True, load_default=None)


class GroupTrainingSchema(TrainingCreateSchema):
    """One course held for a group: the same training recorded for each volunteer."""

    volunteer_ids = fields.List(Id(), required=True,
                                validate=validate.Length(min=1, max=MAX_GROUP_SIZE))


class TrainingSchema(Schema):
    id = fields.Integer()
    volunteer_id = fields.Integer()
    org_id = fields.Integer()
    title = fields.String()
    kind = fields.String()
    content = fields.String()
    trained_on = fields.Date()
    minutes = fields.Integer(metadata={"description": "Training time; never service hours."})
    trainer = fields.String()
    certification_id = fields.Integer(allow_none=True)
    status = fields.String(validate=validate.OneOf(TRAINING_STATUSES))
    revoked_reason = fields.String(allow_none=True)
    revoked_at = Instant(allow_none=True)
    created_at = Instant()


TrainingPageSchema = page_of(TrainingSchema)


class TrainingQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    kind = fields.String(validate=validate.OneOf(tuple(TRAINING_KINDS)))
    status = fields.String(validate=validate.OneOf(TRAINING_STATUSES))
    volunteer_id = Id()


class TrainingRefusalSchema(Schema):
    id = fields.Integer()
    error = fields.String()
    message = fields.String()


class GroupTrainingResultSchema(Schema):
    recorded = fields.List(fields.Nested(TrainingSchema))
    refused = fields.List(fields.Nested(TrainingRefusalSchema))


class RevocationSchema(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255))


class EvaluationCreateSchema(Schema):
    score = fields.Integer(required=True, strict=True, validate=_validate_score,
                           metadata={"minimum": SCORE_MIN, "maximum": SCORE_MAX})
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class EvaluationSchema(Schema):
    id = fields.Integer()
    service_record_id = fields.Integer()
    volunteer_id = fields.Integer()
    activity_name = fields.Function(lambda e: e.service_record.activity.name)
    evaluator_id = fields.Integer()
    evaluator_name = fields.Function(lambda e: e.evaluator.display_name)
    score = fields.Integer()
    comment = fields.String()
    created_at = Instant()


EvaluationPageSchema = page_of(EvaluationSchema)


class AwardCreateSchema(Schema):
    org_id = Id(required=True)
    title = fields.String(required=True, validate=validate.Length(min=1, max=120))
    level = fields.String(required=True, validate=validate.OneOf(tuple(AWARD_LEVELS)))
    awarded_on = fields.Date(required=True)
    issuer = fields.String(load_default="", validate=validate.Length(max=200))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class AwardSchema(Schema):
    id = fields.Integer()
    volunteer_id = fields.Integer()
    org_id = fields.Integer()
    title = fields.String()
    level = fields.String()
    awarded_on = fields.Date()
    issuer = fields.String()
    reason = fields.String()
    status = fields.String()
    revoked_reason = fields.String(allow_none=True)
    revoked_at = Instant(allow_none=True)
    created_at = Instant()


AwardPageSchema = page_of(AwardSchema)


class AwardQueryArgsSchema(PageArgsSchema):
    include_revoked = fields.Boolean(load_default=False)
