"""Organization and team API."""
from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.db import transaction
from volunteer_hub.errors import NotFound
from volunteer_hub.orgs import issuer, services
from volunteer_hub.orgs.schemas import (
    IssuerSchema, MembershipSchema, OrgPageSchema, OrgQueryArgsSchema, OrgSchema, OrgUpdateSchema,
    TeamMemberSchema, TeamPageSchema, TeamQueryArgsSchema, TeamSchema, TeamUpdateSchema,
)
from volunteer_hub.pagination import paginate
from volunteer_hub.volunteers.services import get_volunteer

URL_PREFIX = ""
blp = Blueprint("orgs_api", __name__, description="Organizations and teams")


@blp.route("/orgs")
class Orgs(MethodView):
    @blp.arguments(OrgQueryArgsSchema, location="query")
    @blp.response(200, OrgPageSchema)
    def get(self, args):
        """Organization nodes the caller holds a role in, with their subtrees."""
        within = services.get_org(args["within"]) if args.get("within") else None
        query = services.visible_orgs(api_user(), level=args.get("level"), within=within)
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(OrgSchema)
    @blp.response(201, OrgSchema)
    def post(self, data):
        """Create a node below a parent the caller administers."""
        parent = services.get_org(data.pop("parent_id")) if data.get("parent_id") else None
        with transaction():
            return services.create_org(parent, by=api_user(), **data)


def _visible_org(org_id: int):
    user = api_user()
    org = services.get_org(org_id)
    if not any(org.path.startswith(g.org.path) for g in user.grants):
        raise NotFound()
    return org


@blp.route("/orgs/<int:org_id>")
class OrgItem(MethodView):
    @blp.response(200, OrgSchema)
    def get(self, org_id):
        """One node in the caller's scope."""
        return _visible_org(org_id)

    @blp.arguments(OrgUpdateSchema)
    @blp.response(200, OrgSchema)
    def patch(self, changes, org_id):
        """Rename a node or change its settings."""
        with transaction():
            return services.update_org(services.get_org(org_id), changes, by=api_user())


@blp.route("/orgs/<int:org_id>/teams")
class OrgTeams(MethodView):
    @blp.arguments(TeamQueryArgsSchema, location="query")
    @blp.response(200, TeamPageSchema)
    def get(self, args, org_id):
        """Teams attached to this node or below it."""
        query = services.teams_in_scope(api_user(), org=services.get_org(org_id),
                                        type_=args.get("type"))
        return paginate(query, args["page"], args["page_size"])

    @blp.arguments(TeamSchema)
    @blp.response(201, TeamSchema)
    def post(self, data, org_id):
        """Create a team on this node."""
        with transaction():
            return services.create_team(services.get_org(org_id), by=api_user(), **data)


@blp.route("/teams/<int:team_id>")
class TeamItem(MethodView):
    @blp.response(200, TeamSchema)
    def get(self, team_id):
        """A team with its members."""
        return services.get_team(team_id, by=api_user())

    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamSchema)
    def patch(self, changes, team_id):
        """Rename or describe a team."""
        user = api_user()
        with transaction():
            return services.update_team(services.get_team(team_id, by=user), changes, by=user)


@blp.route("/teams/<int:team_id>/members/<int:volunteer_id>")
class TeamMemberItem(MethodView):
    @blp.arguments(MembershipSchema)
    @blp.response(200, TeamMemberSchema)
    def put(self, data, team_id, volunteer_id):
        """Add a volunteer to the team, or change their team role."""
        user = api_user()
        with transaction():
            team = services.get_team(team_id, by=user)
            return services.add_member(team, get_volunteer(volunteer_id, by=user),
                                       role=data["role"], by=user)

    @blp.response(204)
    def delete(self, team_id, volunteer_id):
        """Take a volunteer off the team."""
        user = api_user()
        with transaction():
            services.remove_member(services.get_team(team_id, by=user), volunteer_id, by=user)


def _managed_org(org_id: int):
    """An org whose certificate settings the caller administers (others: 404)."""
    from volunteer_hub.accounts.permissions import require

    org = services.get_org(org_id)
    require(api_user(), "orgs.manage", org, hide=True)
    return org


@blp.route("/orgs/<int:org_id>/issuer")
class OrgIssuer(MethodView):
    @blp.response(200, IssuerSchema)
    def get(self, org_id):
        """What this org's certificates print, and which required fields are still empty."""
        return _managed_org(org_id)

    @blp.arguments(IssuerSchema)
    @blp.response(200, IssuerSchema)
    def patch(self, changes, org_id):
        """Set 负责人, 经办人, 联系方式 and the unified social credit code (org admins)."""
        with transaction():
            return issuer.update_issuer(_managed_org(org_id), changes, by=api_user())


@blp.route("/orgs/<int:org_id>/seal")
class OrgSeal(MethodView):
    @blp.doc(requestBody={"required": True, "content": {
        "image/png": {"schema": {"type": "string", "format": "binary"}},
        "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}})
    @blp.response(200, IssuerSchema)
    def put(self, org_id):
        """Upload the official seal (PNG or JPEG body, size-limited); printed on certificates."""
        with transaction():
            return issuer.set_seal(_managed_org(org_id), request.get_data(), by=api_user())

    @blp.response(200, IssuerSchema)
    def delete(self, org_id):
        """Remove the seal."""
        with transaction():
            return issuer.clear_seal(_managed_org(org_id), by=api_user())

    @blp.doc(responses={"200": {"description": "The seal image (org admins only)",
                                "content": {"image/png": {}, "image/jpeg": {}}}})
    def get(self, org_id):
        """The seal as uploaded, for the org's own admins; never public."""
        org = _managed_org(org_id)
        if org.seal_image is None:
            raise NotFound()
        return Response(org.seal_image, mimetype=org.seal_mime,
                        headers={"Cache-Control": "private, no-store"})
