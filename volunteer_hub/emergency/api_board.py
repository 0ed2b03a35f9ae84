"""API: the board's snapshot (polling fallback and other clients) and the after-action
report as JSON or CSV. Attached to the emergency API blueprint by api.py."""
from __future__ import annotations

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.emergency import board, report
from volunteer_hub.emergency.api import blp


class BoardActivationSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    plan_name = fields.String()
    level = fields.Integer()
    colour = fields.String(allow_none=True)
    is_drill = fields.Boolean()
    status = fields.String()
    activated_at = fields.String(metadata={"description": "ISO 8601, UTC"})
    stood_down_at = fields.String(allow_none=True)
    incident_address = fields.String()


class BoardCountsSchema(Schema):
    notified = fields.Integer()
    delivered = fields.Integer(metadata={"description": "people an alert reached: SMS/push "
                                                        "receipt, e-mail accepted, inbox read"})
    coming = fields.Integer()
    cannot = fields.Integer()
    no_answer = fields.Integer()
    assigned = fields.Integer()
    arrived = fields.Integer()
    checked_out = fields.Integer()
    safe = fields.Integer()


class BoardRoleSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    label_zh = fields.String()
    label_en = fields.String()
    needed = fields.Integer()
    assigned = fields.Integer()
    arrived = fields.Integer()
    short = fields.Integer()
    filled_at = fields.String(allow_none=True)


class CurvePointSchema(Schema):
    minute = fields.Integer(metadata={"description": "end of the minute since activation"})
    coming = fields.Integer()
    cannot = fields.Integer()


class EscalationStepSchema(Schema):
    at = fields.String()
    action = fields.String()
    detail = fields.Dict()


class BoardSchema(Schema):
    activation = fields.Nested(BoardActivationSchema)
    counts = fields.Nested(BoardCountsSchema)
    channels = fields.Dict(keys=fields.String(), values=fields.Dict(),
                           metadata={"description": "per channel: queued, sent, delivered, "
                                                    "failed alert messages"})
    roles = fields.List(fields.Nested(BoardRoleSchema))
    curve = fields.List(fields.Nested(CurvePointSchema))
    escalations = fields.List(fields.Nested(EscalationStepSchema))
    version = fields.String(metadata={"description": "changes whenever the board would"})


class ReportSchema(Schema):
    """The after-action report; durations in seconds (see emergency/report.py)."""

    class Meta:
        unknown = "include"

    activation_id = fields.Integer()
    plan_name = fields.String()
    level = fields.Integer()
    is_drill = fields.Boolean()
    status = fields.String()
    activated_at = fields.String()
    stood_down_at = fields.String(allow_none=True)
    incident_address = fields.String()
    note = fields.String()
    summary = fields.Dict()
    timeline = fields.List(fields.Dict())
    delivery_sent = fields.Dict()
    delivery_reached = fields.Dict()
    ack = fields.Dict()
    arrival = fields.Dict()
    roles = fields.List(fields.Dict())
    no_shows = fields.List(fields.Dict())
    messages = fields.List(fields.Dict())
    comparison = fields.List(fields.Dict())
    curve = fields.List(fields.Nested(CurvePointSchema))
    hours = fields.Dict()
    generated_at = fields.String()


def _activation(activation_id: int):
    from volunteer_hub.emergency.activation import get_activation

    return get_activation(activation_id, by=api_user())


@blp.route("/activations/<int:activation_id>/board")
class Board(MethodView):
    @blp.response(200, BoardSchema)
    def get(self, activation_id):
        """The live board's snapshot: poll it (compare `version`) where SSE is not possible."""
        return board.cache.get(_activation(activation_id))


@blp.route("/activations/<int:activation_id>/report")
class AfterActionReport(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, activation_id):
        """The after-action report as JSON (durations in seconds)."""
        return report.as_dict(report.after_action(_activation(activation_id), with_names=True))


@blp.route("/activations/<int:activation_id>/report.csv")
class AfterActionCsv(MethodView):
    @blp.response(200, {"type": "string"}, content_type="text/csv")
    def get(self, activation_id):
        """The after-action report as one CSV table (section, group, metric, value)."""
        result = report.after_action(_activation(activation_id))
        return Response(report.to_csv(result), mimetype="text/csv",
                        headers={"Content-Disposition":
                                 f'attachment; filename="after-action-{activation_id}.csv"'})
