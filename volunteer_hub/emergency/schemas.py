"""Emergency API schemas: plans, activations, stand-down.

Plan documents are checked for shape here and for meaning in plans.validate_plan, which
names each problem's field ("levels.3.roles.0.count").
"""
from marshmallow import Schema, fields, validate

from volunteer_hub.common_schemas import (
    Id, Instant, Latitude, Longitude, PageArgsSchema, bounded_list, page_of,
)
from volunteer_hub.emergency.models import ACTIVATION_STATUSES, CATEGORIES, ESCALATION_ACTIONS
from volunteer_hub.emergency.plans import MAX_LIST_ITEMS as MAX_PLAN_LIST_ITEMS
from volunteer_hub.geo.schemas import WGS84Input


class PlanRoleSchema(Schema):
    code = fields.String(required=True, metadata={"example": "rescue"})
    label_zh = fields.String(required=True)
    label_en = fields.String()
    count = fields.Integer(required=True)
    skill = fields.String(allow_none=True, metadata={"description": "volunteers/catalogue code"})
    min_level = fields.Integer(load_default=1)
    certification = fields.String(allow_none=True)


class PlanEscalationStepSchema(Schema):
    after_minutes = fields.Integer(required=True)
    action = fields.String(required=True, validate=validate.OneOf(tuple(ESCALATION_ACTIONS)))
    value = fields.Raw(allow_none=True, metadata={
        "description": "widen_radius: the new radius in km; next_team: filled at activation"})


class PlanLevelSchema(Schema):
    roles = bounded_list(fields.Nested(PlanRoleSchema), max_items=MAX_PLAN_LIST_ITEMS, required=True)
    team_ids = bounded_list(Id(), max_items=MAX_PLAN_LIST_ITEMS, required=True,
                           metadata={"description": "emergency teams, in call order"})
    radius_km = fields.Float(allow_none=True)
    area_org_id = Id(allow_none=True)
    initial_teams = fields.Integer(allow_none=True,
                                   metadata={"description": "how many teams to call at once"})
    escalation = bounded_list(fields.Nested(PlanEscalationStepSchema),
                              max_items=MAX_PLAN_LIST_ITEMS, load_default=list)


class PlanAssemblyPointSchema(WGS84Input):  # coord_system: stored as WGS-84
    name = fields.String(required=True)
    address = fields.String(load_default="")
    lat = Latitude(required=True)
    lon = Longitude(required=True)


class PlanTemplateSetSchema(Schema):
    alert = fields.String(required=True)
    assigned = fields.String(required=True)
    stand_down = fields.String(required=True)


LEVELS_DESCRIPTION = 'Per level "1" (I, red) to "4" (IV, blue).'


class PlanWriteSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    category = fields.String(validate=validate.OneOf(tuple(CATEGORIES)))
    description = fields.String()
    levels = fields.Dict(keys=fields.String(), values=fields.Nested(PlanLevelSchema),
                         metadata={"description": LEVELS_DESCRIPTION})
    assembly_points = bounded_list(fields.Nested(PlanAssemblyPointSchema),
                                   max_items=MAX_PLAN_LIST_ITEMS)
    templates = fields.Dict(keys=fields.String(), values=fields.Nested(PlanTemplateSetSchema),
                            metadata={"description": "zh_Hans and en: alert, assigned, "
                                                     "stand_down with {placeholders}"})


class PlanCreateSchema(PlanWriteSchema):
    org_id = Id(required=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    category = fields.String(required=True, validate=validate.OneOf(tuple(CATEGORIES)))
    levels = fields.Dict(keys=fields.String(), values=fields.Nested(PlanLevelSchema), required=True,
                         metadata={"description": LEVELS_DESCRIPTION})
    assembly_points = bounded_list(fields.Nested(PlanAssemblyPointSchema),
                                   max_items=MAX_PLAN_LIST_ITEMS, required=True)


class PlanSchema(Schema):
    id = fields.Integer()
    org_id = fields.Integer()
    name = fields.String()
    category = fields.String()
    description = fields.String()
    levels = fields.Dict()
    assembly_points = fields.List(fields.Dict())
    templates = fields.Dict()
    archived_at = Instant(allow_none=True)
    created_at = Instant()
    updated_at = Instant()


PlanPageSchema = page_of(PlanSchema)


class PlanQueryArgsSchema(PageArgsSchema):
    org_id = Id()
    include_archived = fields.Boolean(load_default=False)


class ActivateSchema(WGS84Input):  # coord_system: stored as WGS-84
    level = fields.Integer(required=True, validate=validate.Range(min=1, max=4))
    is_drill = fields.Boolean(required=True)
    lat = Latitude(allow_none=True, load_default=None)
    lon = Longitude(allow_none=True, load_default=None)
    address = fields.String(load_default="", validate=validate.Length(max=200))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class ActivationRoleSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    label_zh = fields.String()
    label_en = fields.String()
    needed = fields.Integer()
    skill_code = fields.String(allow_none=True)
    min_level = fields.Integer()
    certification_kind = fields.String(allow_none=True)
    filled_at = Instant(allow_none=True)


class ActivationSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    plan_name = fields.Function(lambda a: a.plan.name)
    org_id = fields.Integer()
    level = fields.Integer()
    is_drill = fields.Boolean()
    status = fields.String()
    incident_lat = fields.Float(allow_none=True)
    incident_lon = fields.Float(allow_none=True)
    incident_address = fields.String()
    note = fields.String()
    activated_by_id = fields.Integer(allow_none=True)
    activated_at = Instant()
    stood_down_at = Instant(allow_none=True)


ActivationPageSchema = page_of(ActivationSchema)


class ActivationCountsSchema(Schema):
    notified = fields.Integer()
    none = fields.Integer(metadata={"description": "no answer yet"})
    coming = fields.Integer()
    cannot = fields.Integer()


class ActivationDetailSchema(ActivationSchema):
    radius_km = fields.Float(allow_none=True)
    area_org_id = fields.Integer(allow_none=True)
    team_ids_called = fields.List(fields.Integer())
    skill_level_relaxed_by = fields.Integer()
    escalation = fields.List(fields.Dict())
    escalation_steps_taken = fields.Integer()
    assembly_points = fields.List(fields.Dict())
    drill_hours_count = fields.Boolean()
    roles = fields.List(fields.Nested(ActivationRoleSchema))
    stood_down_by_id = fields.Integer(allow_none=True)
    stand_down_note = fields.String()
    activity_id = fields.Integer(allow_none=True,
                                 metadata={"description": "holds responders' hours"})
    counts = fields.Nested(ActivationCountsSchema)


class ActivationQueryArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(tuple(ACTIVATION_STATUSES)))
    include_drills = fields.Boolean(load_default=True)
    plan_id = Id()


class StandDownSchema(Schema):
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class EmergencySettingsSchema(Schema):
    drill_hours_count = fields.Boolean(allow_none=True)
    link_valid_hours = fields.Integer(allow_none=True)
    fatigue_window_days = fields.Integer(allow_none=True)
