"""Needs API: /api/v1/beneficiaries, /api/v1/needs, the caller's inbox."""
from flask.views import MethodView
from flask_babel import get_locale
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.accounts.permissions import can
from volunteer_hub.db import transaction
from volunteer_hub.idempotency import idempotent
from volunteer_hub.needs import services
from volunteer_hub.notify import fanout
from volunteer_hub.needs.schemas import (
    AccessLogPageSchema, BeneficiaryCreateSchema, BeneficiaryPageSchema,
    BeneficiaryQueryArgsSchema, BeneficiaryUpdateSchema, BeneficiaryViewSchema,
    NeedCreateSchema, NeedPageSchema, NeedQueryArgsSchema, NeedSchema, NeedStateSchema,
    NeedUpdateSchema, NotificationPageSchema, NotificationSchema, PublicNeedSchema, SlotSchema,
)
from volunteer_hub.common_schemas import PageArgsSchema
from volunteer_hub.pagination import paginate

URL_PREFIX = ""
blp = Blueprint("needs_api", __name__, description="Beneficiaries, needs and their slots")


# --- beneficiaries --------------------------------------------------------------------------

@blp.route("/beneficiaries")
class Beneficiaries(MethodView):
    @blp.arguments(BeneficiaryQueryArgsSchema, location="query")
    @blp.response(200, BeneficiaryPageSchema)
    def get(self, args):
        """Beneficiaries in the caller's organizer scope (masked names only)."""
        user = api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.search_beneficiaries(user, **args), page, page_size)

    @idempotent
    @blp.arguments(BeneficiaryCreateSchema)
    @blp.response(201, BeneficiaryViewSchema)
    def post(self, data):
        """Record a beneficiary; personal fields are encrypted at rest."""
        user = api_user()
        with transaction():
            beneficiary = services.create_beneficiary(data, by=user)
            return services.beneficiary_view(beneficiary, by=user, purpose="create")


@blp.route("/beneficiaries/<int:beneficiary_id>")
class BeneficiaryItem(MethodView):
    @blp.response(200, BeneficiaryViewSchema)
    def get(self, beneficiary_id):
        """What the caller may see of one person; every read is logged."""
        with transaction():
            return services.beneficiary_view(services.get_beneficiary(beneficiary_id),
                                             by=api_user(), purpose="api")

    @blp.arguments(BeneficiaryUpdateSchema)
    @blp.response(200, BeneficiaryViewSchema)
    def patch(self, changes, beneficiary_id):
        """Change a beneficiary (organizers of the community)."""
        user = api_user()
        with transaction():
            beneficiary = services.update_beneficiary(
                services.get_beneficiary(beneficiary_id), changes, by=user)
            return services.beneficiary_view(beneficiary, by=user, purpose="update")


@blp.route("/beneficiaries/<int:beneficiary_id>/access-log")
class BeneficiaryAccessLog(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AccessLogPageSchema)
    def get(self, args, beneficiary_id):
        """Who read this person's record, when, which fields and why (newest first)."""
        query = services.access_log(services.get_beneficiary(beneficiary_id), by=api_user())
        return paginate(query, args["page"], args["page_size"])


# --- needs ----------------------------------------------------------------------------------

@blp.route("/needs")
class Needs(MethodView):
    @blp.arguments(NeedQueryArgsSchema, location="query")
    @blp.response(200, NeedPageSchema)
    def get(self, args):
        """Needs in the caller's scope, soonest first."""
        user = api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.search_needs(user, **args), page, page_size)

    @idempotent
    @blp.arguments(NeedCreateSchema)
    @blp.response(201, NeedSchema)
    def post(self, data):
        """Post a need (a draft, or open at once with "publish": true)."""
        with transaction():
            return services.create_need(data, by=api_user())


def need_for_caller(need, user) -> dict:
    """Organizers get the full need; volunteers the public one with a logged summary."""
    if can(user, "needs.read", need.org):
        return NeedSchema().dump(need)
    data = PublicNeedSchema().dump(need)
    data["beneficiary"] = None
    if need.beneficiary is not None:
        with transaction():
            data["beneficiary"] = BeneficiaryViewSchema().dump(services.beneficiary_view(
                need.beneficiary, by=user, purpose=f"need:{need.id}"))
    return data


@blp.route("/needs/<int:need_id>")
class NeedItem(MethodView):
    @blp.response(200)
    @blp.doc(responses={"200": {"description": "NeedSchema for organizers in scope, "
                                               "PublicNeedSchema for volunteers"}})
    def get(self, need_id):
        """One need, as the caller may see it."""
        user = api_user()
        return need_for_caller(services.get_need(need_id, by=user), user)

    @blp.arguments(NeedUpdateSchema)
    @blp.response(200, NeedSchema)
    def patch(self, changes, need_id):
        """Change a draft need."""
        user = api_user()
        with transaction():
            return services.update_need(services.get_need(need_id, by=user), changes, by=user)


@blp.route("/needs/<int:need_id>/state")
class NeedState(MethodView):
    @idempotent
    @blp.arguments(NeedStateSchema)
    @blp.response(200, NeedSchema)
    def put(self, data, need_id):
        """Publish (open), start (in_progress), finish (done) or cancel (with a reason)."""
        user = api_user()
        with transaction():
            return services.set_need_state(services.get_need(need_id, by=user), data["state"],
                                           reason=data.get("reason"), by=user)


@blp.route("/needs/<int:need_id>/slots")
class NeedSlots(MethodView):
    @blp.response(200, SlotSchema(many=True))
    def get(self, need_id):
        """The need's slots: one per volunteer place and occurrence."""
        return services.get_need(need_id, by=api_user()).slots


# --- inbox ----------------------------------------------------------------------------------

@blp.route("/me/notifications")
class Inbox(MethodView):
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, NotificationPageSchema)
    def get(self, args):
        """The caller's in-app messages, newest first."""
        page = paginate(services.inbox(api_user()), args["page"], args["page_size"])
        fanout.filled(page["items"], reader_locale=str(get_locale()))
        return page


@blp.route("/me/notifications/<int:notification_id>/read")
class NotificationRead(MethodView):
    @blp.response(200, NotificationSchema)
    def post(self, notification_id):
        """Mark a message as read."""
        with transaction():
            message = services.mark_read(notification_id, by=api_user())
        # after the commit, which expires it
        return fanout.filled([message], reader_locale=str(get_locale()))[0]

