"""Volunteer API: /api/v1/volunteers."""
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user, bearer_user
from volunteer_hub.db import transaction
from volunteer_hub.idempotency import idempotent
from volunteer_hub.pagination import paginate
from volunteer_hub.volunteers import services
from volunteer_hub.volunteers.catalogue import CERTIFICATION_KINDS, SKILLS
from volunteer_hub.volunteers.schemas import (
    AvailabilitySchema, CatalogueEntrySchema, CertificationSchema, ConsentSchema,
    IdRevealSchema, ProfileUpdateSchema, RegistrationSchema, SkillConfirmationSchema,
    SkillSchema, SkillsSchema, StatusChangeSchema, VolunteerPageSchema, VolunteerQueryArgsSchema,
    VolunteerSchema,
)

URL_PREFIX = ""
blp = Blueprint("volunteers_api", __name__, description="Volunteers: registration and profiles")


@blp.route("/volunteers")
class Volunteers(MethodView):
    @blp.arguments(VolunteerQueryArgsSchema, location="query")
    @blp.response(200, VolunteerPageSchema)
    def get(self, args):
        """List volunteers in the caller's scope, filtered and paginated."""
        user = api_user()
        page, page_size = args.pop("page"), args.pop("page_size")
        return paginate(services.search_volunteers(user, **args), page, page_size)

    @idempotent
    @blp.arguments(RegistrationSchema)
    @blp.response(201, VolunteerSchema)
    def post(self, data):
        """Register a volunteer: anonymously for oneself, or as an organizer for someone."""
        with transaction():
            return services.register_volunteer(data, by=bearer_user())


def _volunteer(volunteer_id: int):
    return services.get_volunteer(volunteer_id, by=api_user())


@blp.route("/volunteers/me")
class Me(MethodView):
    @blp.response(200, VolunteerSchema)
    def get(self):
        """The caller's own volunteer profile."""
        user = api_user()
        if user.volunteer is None:
            from volunteer_hub.errors import NotFound

            raise NotFound()
        return user.volunteer


@blp.route("/volunteers/<int:volunteer_id>")
class VolunteerItem(MethodView):
    @blp.response(200, VolunteerSchema)
    def get(self, volunteer_id):
        """One volunteer (the masked ID number only)."""
        return _volunteer(volunteer_id)

    @blp.arguments(ProfileUpdateSchema)
    @blp.response(200, VolunteerSchema)
    def patch(self, changes, volunteer_id):
        """Change profile fields (the volunteer, or an organizer in scope)."""
        with transaction():
            return services.update_profile(_volunteer(volunteer_id), changes, by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/id-number")
class IdNumber(MethodView):
    @blp.response(200, IdRevealSchema)
    def get(self, volunteer_id):
        """The clear ID number, for the volunteer or an organizer in scope; logged."""
        volunteer = _volunteer(volunteer_id)
        with transaction():  # the reveal is recorded in the access log
            return {"id_number": services.reveal_id_number(
                volunteer, by=api_user(), route="api.volunteers.id-number")}


@blp.route("/volunteers/<int:volunteer_id>/status")
class Status(MethodView):
    @idempotent
    @blp.arguments(StatusChangeSchema)
    @blp.response(200, VolunteerSchema)
    def put(self, data, volunteer_id):
        """Approve (active), suspend, reinstate, or mark as left."""
        with transaction():
            return services.set_status(_volunteer(volunteer_id), data["status"],
                                       reason=data.get("reason"), by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/skills")
class Skills(MethodView):
    @blp.arguments(SkillsSchema)
    @blp.response(200, SkillSchema(many=True))
    def put(self, data, volunteer_id):
        """Replace the declared skills."""
        with transaction():
            return services.set_skills(_volunteer(volunteer_id), data["skills"], by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/skills/<code>/confirmation")
class SkillConfirmation(MethodView):
    @blp.arguments(SkillConfirmationSchema)
    @blp.response(200, SkillSchema)
    def put(self, data, volunteer_id, code):
        """An organizer confirms a declared skill at a level."""
        with transaction():
            return services.confirm_skill(_volunteer(volunteer_id), code, data["level"],
                                          by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/certifications")
class Certifications(MethodView):
    @blp.response(200, CertificationSchema(many=True))
    def get(self, volunteer_id):
        """The volunteer's certifications, soonest expiry first."""
        return _volunteer(volunteer_id).certifications

    @idempotent
    @blp.arguments(CertificationSchema)
    @blp.response(201, CertificationSchema)
    def post(self, data, volunteer_id):
        """Add a certification."""
        with transaction():
            return services.add_certification(_volunteer(volunteer_id), data, by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/certifications/<int:cert_id>")
class CertificationItem(MethodView):
    @blp.response(204)
    def delete(self, volunteer_id, cert_id):
        """Remove a certification."""
        with transaction():
            services.remove_certification(_volunteer(volunteer_id), cert_id, by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/availability")
class Availability(MethodView):
    @blp.response(200, AvailabilitySchema)
    def get(self, volunteer_id):
        """Weekly windows and dated exceptions."""
        volunteer = _volunteer(volunteer_id)
        return {"windows": volunteer.availability, "exceptions": volunteer.exceptions}

    @blp.arguments(AvailabilitySchema)
    @blp.response(200, AvailabilitySchema)
    def put(self, data, volunteer_id):
        """Replace weekly windows and dated exceptions."""
        with transaction():
            volunteer = services.set_availability(_volunteer(volunteer_id), data["windows"],
                                                  data["exceptions"], by=api_user())
            return {"windows": volunteer.availability, "exceptions": volunteer.exceptions}


@blp.route("/volunteers/<int:volunteer_id>/consents")
class Consents(MethodView):
    @blp.response(200, ConsentSchema(many=True))
    def get(self, volunteer_id):
        """Consents given and withdrawn."""
        return _volunteer(volunteer_id).consents

    @idempotent
    @blp.arguments(ConsentSchema)
    @blp.response(201, ConsentSchema)
    def post(self, data, volunteer_id):
        """Record a consent (a guardian's needs the guardian's name and phone)."""
        with transaction():
            return services.record_consent(_volunteer(volunteer_id), data["kind"],
                                           guardian=data.get("guardian"), by=api_user())


@blp.route("/volunteers/<int:volunteer_id>/consents/<int:consent_id>/withdrawal")
class ConsentWithdrawal(MethodView):
    @blp.response(200, ConsentSchema)
    def post(self, volunteer_id, consent_id):
        """Withdraw a consent."""
        with transaction():
            return services.withdraw_consent(_volunteer(volunteer_id), consent_id, by=api_user())


@blp.route("/skills")
class SkillCatalogue(MethodView):
    @blp.response(200, CatalogueEntrySchema(many=True))
    def get(self):
        """The skill catalogue, labelled in the request's language."""
        return [{"code": code, "label": str(label)} for code, label in SKILLS.items()]


@blp.route("/certification-kinds")
class CertificationCatalogue(MethodView):
    @blp.response(200, CatalogueEntrySchema(many=True))
    def get(self):
        """The kinds of certification, labelled in the request's language."""
        return [{"code": code, "label": str(label)} for code, label in
                CERTIFICATION_KINDS.items()]


