"""Matching API: /api/v1/matching-runs, /assignments, sign-ups and the volunteer's views."""
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.accounts.permissions import require
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import NotFound
from volunteer_hub.idempotency import idempotent
from volunteer_hub.matching import services, why_not
from volunteer_hub.matching.schemas import (
    AssignmentEditSchema, AssignmentPageSchema, AssignmentQueryArgsSchema, AssignmentSchema,
    MatchingPreferenceSchema, MatchingRunCreateSchema, MatchingRunPageSchema, MatchingRunSchema,
    OpenNeedArgsSchema,
    OpenNeedSchema, ReasonSchema, SignupSchema,
)
from volunteer_hub.common_schemas import PageArgsSchema
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.schemas import BeneficiaryViewSchema, PublicNeedSchema
from volunteer_hub.orgs.models import Org
from volunteer_hub.pagination import paginate

URL_PREFIX = ""
blp = Blueprint("matching_api", __name__,
                description="Matching runs, proposals, confirmations and sign-ups")


def _volunteer(user):
    if user.volunteer is None:
        raise NotFound()
    return user.volunteer


@blp.route("/me/matching-preferences")
class MyMatchingPreferences(MethodView):
    @blp.response(200, MatchingPreferenceSchema)
    def get(self):
        """The caller's matching preferences (empty lists: no preference)."""
        return services.get_preferences(_volunteer(api_user()))

    @blp.arguments(MatchingPreferenceSchema)
    @blp.response(200, MatchingPreferenceSchema)
    def put(self, data):
        """Set the caller's preferences; fields left out keep their value."""
        user = api_user()
        with transaction():
            return services.update_preferences(_volunteer(user), data, by=user)


@blp.route("/matching-runs")
class MatchingRuns(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, MatchingRunPageSchema)
    def get(self, args):
        """Matching runs in the caller's scope, newest first."""
        return paginate(services.search_runs(api_user()), args["page"], args["page_size"])

    @idempotent
    @blp.arguments(MatchingRunCreateSchema)
    @blp.response(201, MatchingRunSchema)
    def post(self, data):
        """Run matching for an org's subtree and a date range; returns the proposals."""
        org = db.session.get(Org, data["org_id"])
        if org is None:
            raise NotFound()
        with transaction():
            run = services.run_matching(org, data["start"], data["end"], by=api_user())
        return services.run_view(run)


@blp.route("/matching-runs/<int:run_id>")
class MatchingRunItem(MethodView):
    @blp.response(200, MatchingRunSchema)
    def get(self, run_id):
        """One run with its proposals and the reasons slots stayed empty."""
        return services.run_view(services.get_run(run_id, by=api_user()))


@blp.route("/assignments")
class Assignments(MethodView):
    @blp.arguments(AssignmentQueryArgsSchema, location="query")
    @blp.response(200, AssignmentPageSchema)
    def get(self, args):
        """Assignments of needs in the caller's scope."""
        user = api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.search_assignments(user, **args), page, page_size)


def assignment_for_caller(assignment, user) -> dict:
    """The assignment, its need as volunteers see it, and the person as the caller may."""
    data = AssignmentSchema().dump(assignment)
    need = assignment.need
    data["need"] = PublicNeedSchema().dump(need)
    if assignment.state != "accepted" and assignment.volunteer.user_id == user.id:
        # Before acceptance: type, time, community and a distance band only (as the page).
        data["need"].update(description=None, location_note=None)
    data["beneficiary"] = None
    if need.beneficiary is not None:
        with transaction():
            data["beneficiary"] = BeneficiaryViewSchema().dump(needs.beneficiary_view(
                need.beneficiary, by=user, purpose=f"assignment:{assignment.id}"))
    return data


@blp.route("/assignments/<int:assignment_id>")
class AssignmentItem(MethodView):
    @blp.response(200)
    @blp.doc(responses={"200": {"description": "AssignmentSchema plus need and beneficiary"}})
    def get(self, assignment_id):
        """One assignment, for its volunteer or an organizer in scope (reads are logged)."""
        user = api_user()
        return assignment_for_caller(services.get_assignment(assignment_id, by=user), user)

    @blp.arguments(AssignmentEditSchema)
    @blp.response(200, AssignmentSchema)
    def patch(self, data, assignment_id):
        """Put another volunteer on a proposal."""
        user = api_user()
        with transaction():
            return services.replace_volunteer(services.get_assignment(assignment_id, by=user),
                                              data["volunteer_id"], by=user)


class WhyNotArgsSchema(Schema):
    person = fields.String(required=True, validate=validate.Length(min=1, max=60),
                           metadata={"description": "Volunteer code, phone or full name"})


class WhyNotReasonSchema(Schema):
    code = fields.String(metadata={"description": "The rule (an unfilled reason), or outside_area"})
    text = fields.String()


class WhyNotSchema(Schema):
    slot_id = fields.Integer()
    volunteer = fields.Dict(metadata={"description": "code and name"})
    feasible = fields.Boolean()
    in_pool = fields.Boolean(metadata={"description": "Matching of the need's org considers them"})
    reasons = fields.List(fields.Nested(WhyNotReasonSchema))
    comparison = fields.Dict(allow_none=True, metadata={
        "description": "When feasible: cost terms of this volunteer and of the proposed one"})


@blp.route("/need-slots/<int:slot_id>/why-not")
class WhyNot(MethodView):
    @blp.arguments(WhyNotArgsSchema, location="query")
    @blp.response(200, WhyNotSchema)
    def get(self, args, slot_id):
        """Why a volunteer (by code, phone or name) was not proposed for this slot: the rules
        they break in words, or how their cost compares with the proposed volunteer's."""
        return why_not.why_not(slot_id, args["person"], by=api_user())


@blp.route("/assignments/<int:assignment_id>/confirm")
class AssignmentConfirm(MethodView):
    @idempotent
    @blp.response(200, AssignmentSchema)
    def post(self, assignment_id):
        """An organizer confirms a proposal (the volunteer is notified) or approves a sign-up."""
        user = api_user()
        with transaction():
            return services.confirm_assignment(services.get_assignment(assignment_id, by=user),
                                               by=user)


@blp.route("/assignments/<int:assignment_id>/accept")
class AssignmentAccept(MethodView):
    @idempotent
    @blp.response(200, AssignmentSchema)
    def post(self, assignment_id):
        """The volunteer accepts a confirmed task."""
        user = api_user()
        with transaction():
            return services.accept_assignment(services.get_assignment(assignment_id, by=user),
                                              by=user)


@blp.route("/assignments/<int:assignment_id>/decline")
class AssignmentDecline(MethodView):
    @idempotent
    @blp.arguments(ReasonSchema)
    @blp.response(200, AssignmentSchema)
    def post(self, data, assignment_id):
        """The volunteer declines; only this slot is matched again."""
        user = api_user()
        with transaction():
            return services.decline_assignment(services.get_assignment(assignment_id, by=user),
                                               reason=data.get("reason"), by=user)


@blp.route("/assignments/<int:assignment_id>/cancel")
class AssignmentCancel(MethodView):
    @idempotent
    @blp.arguments(ReasonSchema)
    @blp.response(200, AssignmentSchema)
    def post(self, data, assignment_id):
        """Drop a proposal or task (organizer) or withdraw (volunteer); the slot is re-matched."""
        user = api_user()
        with transaction():
            return services.cancel_assignment(services.get_assignment(assignment_id, by=user),
                                              reason=data.get("reason"), by=user)


@blp.route("/needs/<int:need_id>/signups")
class Signups(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AssignmentPageSchema)
    def get(self, args, need_id):
        """Self sign-ups for a need (organizers in scope)."""
        user = api_user()
        need = needs.get_need(need_id, by=user)
        require(user, "needs.read", need.org, hide=True)
        query = services.search_assignments(user, need_id=need.id).where(
            services.Assignment.source == "signup")
        return paginate(query, args["page"], args["page_size"])

    @idempotent
    @blp.arguments(SignupSchema)
    @blp.response(201, AssignmentSchema)
    def post(self, data, need_id):
        """Sign up for a free slot (the first free one, or `slot_id`) under the match rules."""
        user = api_user()
        with transaction():
            need = needs.get_need(need_id, by=user)
            return services.sign_up(need, _volunteer(user), slot_id=data.get("slot_id"),
                                    accept_risk=data["accept_risk"], by=user)


@blp.route("/me/open-needs")
class OpenNeeds(MethodView):
    @blp.arguments(OpenNeedArgsSchema, location="query")
    @blp.response(200, OpenNeedSchema(many=True))
    def get(self, args):
        """Open needs the caller could take, nearest first."""
        return services.open_needs_for(_volunteer(api_user()), **args)


@blp.route("/me/assignments")
class MyAssignments(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AssignmentPageSchema)
    def get(self, args):
        """The caller's tasks, soonest first."""
        return paginate(services.my_assignments(_volunteer(api_user())), args["page"],
                        args["page_size"])
