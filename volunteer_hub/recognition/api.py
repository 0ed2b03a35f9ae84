"""Recognition API: training records, quality evaluations and awards."""
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.common_schemas import PageArgsSchema
from volunteer_hub.db import transaction
from volunteer_hub.idempotency import idempotent
from volunteer_hub.pagination import paginate
from volunteer_hub.recognition import services
from volunteer_hub.recognition.schemas import (
    AwardCreateSchema, AwardPageSchema, AwardQueryArgsSchema, AwardSchema,
    EvaluationCreateSchema, EvaluationPageSchema, EvaluationSchema, GroupTrainingResultSchema,
    GroupTrainingSchema, RevocationSchema, TrainingCreateSchema, TrainingPageSchema,
    TrainingQueryArgsSchema, TrainingSchema,
)

URL_PREFIX = ""
blp = Blueprint("recognition_api", __name__,
                description="Recognition: training records, quality evaluations, awards")


def _volunteer(volunteer_id: int):
    return services.readable_volunteer(volunteer_id, by=api_user())


# --- trainings ----------------------------------------------------------------------------------

@blp.route("/volunteers/<int:volunteer_id>/trainings")
class VolunteerTrainings(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TrainingPageSchema)
    def get(self, args, volunteer_id):
        """A volunteer's trainings, revoked ones included, newest first."""
        return paginate(services.trainings_of(_volunteer(volunteer_id)), args["page"],
                        args["page_size"])

    @idempotent
    @blp.arguments(TrainingCreateSchema)
    @blp.response(201, TrainingSchema)
    def post(self, data, volunteer_id):
        """Record a training for one volunteer (organizer over the volunteer)."""
        with transaction():
            return services.record_training(_volunteer(volunteer_id), data, by=api_user())


@blp.route("/trainings")
class Trainings(MethodView):
    @blp.arguments(TrainingQueryArgsSchema, location="query")
    @blp.response(200, TrainingPageSchema)
    def get(self, args):
        """Trainings of the volunteers in the caller's scope, filtered, newest first."""
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.trainings_in_scope(api_user(), **args), page, page_size)

    @idempotent
    @blp.arguments(GroupTrainingSchema)
    @blp.response(200, GroupTrainingResultSchema)
    def post(self, data):
        """Record one course for a group; volunteers that cannot be recorded are listed in
        `refused` (unknown or out of scope: NOT_FOUND; already recorded: TRAINING_DUPLICATE)."""
        with transaction():
            return services.record_group_training(data.pop("volunteer_ids"), data,
                                                  by=api_user())


@blp.route("/trainings/<int:training_id>")
class TrainingItem(MethodView):
    @blp.response(200, TrainingSchema)
    def get(self, training_id):
        """One training record."""
        return services.get_training(training_id, by=api_user())


@blp.route("/trainings/<int:training_id>/revocation")
class TrainingRevocation(MethodView):
    @idempotent
    @blp.arguments(RevocationSchema)
    @blp.response(200, TrainingSchema)
    def post(self, data, training_id):
        """Revoke a training with a reason; it no longer counts as training."""
        user = api_user()
        with transaction():
            return services.revoke_training(services.get_training(training_id, by=user),
                                            data["reason"], by=user)


# --- evaluations --------------------------------------------------------------------------------

@blp.route("/records/<int:record_id>/evaluations")
class RecordEvaluations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, EvaluationPageSchema)
    def get(self, args, record_id):
        """The evaluations of one service record."""
        user = api_user()
        record = services.get_service_record(record_id, by=user)
        return paginate(services.evaluations_of_record(record, by=user), args["page"],
                        args["page_size"])

    @idempotent
    @blp.arguments(EvaluationCreateSchema)
    @blp.response(201, EvaluationSchema)
    def post(self, data, record_id):
        """Evaluate a verified record, 1-5 with a comment (its lead or an organizer; once)."""
        user = api_user()
        with transaction():
            record = services.get_service_record(record_id, by=user)
            return services.evaluate(record, data["score"], data["comment"], by=user)


@blp.route("/volunteers/<int:volunteer_id>/evaluations")
class VolunteerEvaluations(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, EvaluationPageSchema)
    def get(self, args, volunteer_id):
        """A volunteer's evaluations, newest first (themself or an organizer over them)."""
        user = api_user()
        query = services.evaluations_of(_volunteer(volunteer_id), by=user)
        return paginate(query, args["page"], args["page_size"])


@blp.route("/evaluations/<int:evaluation_id>")
class EvaluationItem(MethodView):
    @blp.response(200, EvaluationSchema)
    def get(self, evaluation_id):
        """One evaluation."""
        return services.get_evaluation(evaluation_id, by=api_user())


# --- awards -------------------------------------------------------------------------------------

@blp.route("/volunteers/<int:volunteer_id>/awards")
class VolunteerAwards(MethodView):
    @blp.arguments(AwardQueryArgsSchema, location="query")
    @blp.response(200, AwardPageSchema)
    def get(self, args, volunteer_id):
        """A volunteer's awards, newest first; revoked ones with include_revoked=true."""
        query = services.awards_of(_volunteer(volunteer_id),
                                   include_revoked=args["include_revoked"])
        return paginate(query, args["page"], args["page_size"])

    @idempotent
    @blp.arguments(AwardCreateSchema)
    @blp.response(201, AwardSchema)
    def post(self, data, volunteer_id):
        """Grant an award (organizer over the volunteer)."""
        with transaction():
            return services.grant_award(_volunteer(volunteer_id), data, by=api_user())


@blp.route("/awards/<int:award_id>")
class AwardItem(MethodView):
    @blp.response(200, AwardSchema)
    def get(self, award_id):
        """One award."""
        return services.get_award(award_id, by=api_user())


@blp.route("/awards/<int:award_id>/revocation")
class AwardRevocation(MethodView):
    @idempotent
    @blp.arguments(RevocationSchema)
    @blp.response(200, AwardSchema)
    def post(self, data, award_id):
        """Revoke an award with a reason."""
        user = api_user()
        with transaction():
            return services.revoke_award(services.get_award(award_id, by=user),
                                         data["reason"], by=user)
