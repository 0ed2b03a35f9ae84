"""Emergency API: plans, activations and stand-down (responses and the board attach below)."""
from __future__ import annotations

from dataclasses import asdict
from importlib import import_module
from importlib.util import find_spec

from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.accounts.permissions import require
from volunteer_hub.db import db, transaction
from volunteer_hub.emergency import activation as activations
from volunteer_hub.emergency import plans, settings
from volunteer_hub.emergency.schemas import (
    ActivateSchema,
    ActivationDetailSchema,
    ActivationPageSchema,
    ActivationQueryArgsSchema,
    EmergencySettingsSchema,
    PlanCreateSchema,
    PlanPageSchema,
    PlanQueryArgsSchema,
    PlanSchema,
    PlanWriteSchema,
    StandDownSchema,
)
from volunteer_hub.errors import NotFound
from volunteer_hub.idempotency import idempotent
from volunteer_hub.orgs.models import Org
from volunteer_hub.pagination import paginate

URL_PREFIX = "/emergency"
blp = Blueprint("emergency_api", __name__, description="Mobilization: emergency plans, "
                "activations, responses, roll call and the coordinator board")


def _org(org_id: int) -> Org:
    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound()
    return org


def with_counts(activation):
    activation.counts = activations.responder_counts(activation)  # not a column
    return activation


@blp.route("/plans")
class Plans(MethodView):
    @blp.arguments(PlanQueryArgsSchema, location="query")
    @blp.response(200, PlanPageSchema)
    def get(self, args):
        """Plans in the caller's scope, by name."""
        query = plans.plans_query(api_user(), org_id=args.get("org_id"),
                                  include_archived=args["include_archived"])
        return paginate(query, args["page"], args["page_size"])

    @idempotent
    @blp.arguments(PlanCreateSchema)
    @blp.response(201, PlanSchema)
    def post(self, data):
        """Create a plan for an organization (coordinator or admin in scope)."""
        with transaction():
            org = _org(data.pop("org_id"))
            return plans.create_plan(org, data, by=api_user())


@blp.route("/plans/<int:plan_id>")
class PlanItem(MethodView):
    @blp.response(200, PlanSchema)
    def get(self, plan_id):
        """One plan (404 outside the caller's scope)."""
        return plans.get_plan(plan_id, by=api_user())

    @blp.arguments(PlanWriteSchema)
    @blp.response(200, PlanSchema)
    def patch(self, data, plan_id):
        """Change parts of a plan; the result is validated whole. Running and past
        activations keep their own copy."""
        user = api_user()
        with transaction():
            return plans.update_plan(plans.get_plan(plan_id, by=user), data, by=user)

    @blp.response(204)
    def delete(self, plan_id):
        """Archive the plan: it can no longer be activated; its activations stay."""
        user = api_user()
        with transaction():
            plans.archive_plan(plans.get_plan(plan_id, by=user), by=user)


@blp.route("/plans/<int:plan_id>/activations")
class PlanActivations(MethodView):
    @idempotent
    @blp.arguments(ActivateSchema)
    @blp.response(201, ActivationDetailSchema)
    def post(self, data, plan_id):
        """Activate the plan at a level, for real or as a drill: every qualified member in
        the area is called on SMS, e-mail and the inbox in the same transaction."""
        user = api_user()
        with transaction():
            activation = activations.activate(plans.get_plan(plan_id, by=user), by=user,
                                              **data)
        return with_counts(activation)


@blp.route("/activations")
class Activations(MethodView):
    @blp.arguments(ActivationQueryArgsSchema, location="query")
    @blp.response(200, ActivationPageSchema)
    def get(self, args):
        """Activations in the caller's scope, newest first."""
        query = activations.activations_query(
            api_user(), status=args.get("status"), include_drills=args["include_drills"],
            plan_id=args.get("plan_id"))
        return paginate(query, args["page"], args["page_size"])


@blp.route("/activations/<int:activation_id>")
class ActivationItem(MethodView):
    @blp.response(200, ActivationDetailSchema)
    def get(self, activation_id):
        """One activation with its roles, escalation state and answer counts."""
        return with_counts(activations.get_activation(activation_id, by=api_user()))


@blp.route("/activations/<int:activation_id>/stand-down")
class StandDown(MethodView):
    @idempotent
    @blp.arguments(StandDownSchema)
    @blp.response(200, ActivationDetailSchema)
    def post(self, data, activation_id):
        """Stand down: everyone called is told; those who came get pending service records.
        A second stand-down answers 409."""
        user = api_user()
        with transaction():
            activation = activations.stand_down(
                activations.get_activation(activation_id, by=user), note=data["note"], by=user)
        return with_counts(activation)


@blp.route("/orgs/<int:org_id>/settings")
class Settings(MethodView):
    @blp.response(200, EmergencySettingsSchema)
    def get(self, org_id):
        """The organization's resolved settings (own, else inherited, else defaults)."""
        org = _org(org_id)
        require(api_user(), "emergency.read", org)
        return asdict(settings.emergency_settings(org))

    @blp.arguments(EmergencySettingsSchema)
    @blp.response(200, EmergencySettingsSchema)
    def patch(self, data, org_id):
        """Set the organization's own values (null: inherit again)."""
        with transaction():
            org = _org(org_id)
            settings.set_settings(org, data, by=api_user())
        return asdict(settings.emergency_settings(org))


def _attach_other_routes() -> None:
    """The responses and board modules add their routes to this same blueprint."""
    for name in ("api_responses", "api_board"):
        module = f"volunteer_hub.emergency.{name}"
        if find_spec(module) is not None:
            import_module(module)


_attach_other_routes()
