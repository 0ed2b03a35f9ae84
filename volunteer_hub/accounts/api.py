"""Account API: tokens, the caller, password resets, role grants."""
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts import services
from volunteer_hub.accounts.auth import api_user, limit_logins
from volunteer_hub.accounts.models import RoleGrant, User
from volunteer_hub.accounts.schemas import (
    GrantSchema, LoginSchema, MeSchema, MeUpdateSchema, NewTokenSchema, PasswordChangeSchema,
    PasswordResetSchema, TokenSchema,
)
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import NotFound
from volunteer_hub.orgs.services import get_org

URL_PREFIX = ""
blp = Blueprint("accounts_api", __name__, description="Accounts: tokens, roles, passwords")


@blp.route("/tokens")
class Tokens(MethodView):
    @limit_logins
    @blp.arguments(LoginSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """Log in with phone or e-mail and password; returns a new bearer token once."""
        with transaction():
            user = services.authenticate(data["login"], data["password"])
            record, token = services.create_token(user, data["token_name"])
            record.token = token  # shown once; only its digest is stored
            return record

    @blp.response(200, TokenSchema(many=True))
    def get(self):
        """The caller's tokens (never the secrets)."""
        return api_user().tokens


@blp.route("/tokens/<int:token_id>")
class TokenItem(MethodView):
    @blp.response(204)
    def delete(self, token_id):
        """Revoke one of the caller's tokens."""
        with transaction():
            services.revoke_token(api_user(), token_id)


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, MeSchema)
    def get(self):
        """Who is calling, with their role grants."""
        return api_user()

    @blp.arguments(MeUpdateSchema)
    @blp.response(200, MeSchema)
    def patch(self, changes):
        """Change the caller's language or display name."""
        user = api_user()
        with transaction():
            if "locale" in changes:
                services.set_locale(user, changes["locale"])
            if "display_name" in changes:
                user.display_name = changes["display_name"]
        return user


@blp.route("/me/password")
class Password(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def put(self, data):
        """Change the caller's password."""
        with transaction():
            services.change_password(api_user(), data["current_password"], data["new_password"])


@blp.route("/users/<int:user_id>/password-reset")
class PasswordReset(MethodView):
    @blp.response(201, PasswordResetSchema)
    def post(self, user_id):
        """An organizer sets a one-time password for a volunteer of their community."""
        target = db.session.get(User, user_id)
        if target is None:
            raise NotFound()
        with transaction():
            return {"temporary_password": services.reset_password(target, by=api_user())}


@blp.route("/orgs/<int:org_id>/role-grants")
class Grants(MethodView):
    @blp.response(200, GrantSchema(many=True))
    def get(self, org_id):
        """Role grants on this node (admins in scope)."""
        org = get_org(org_id)
        from volunteer_hub.accounts.permissions import require

        require(api_user(), "roles.manage", org)
        return db.session.execute(db.select(RoleGrant).filter_by(org_id=org.id)).scalars().all()

    @blp.arguments(GrantSchema)
    @blp.response(201, GrantSchema)
    def post(self, data, org_id):
        """Grant a role on this node and its subtree."""
        org = get_org(org_id)
        from volunteer_hub.accounts.permissions import require

        # Permission first: a caller who may not grant learns nothing about which users exist.
        require(api_user(), "roles.manage", org)
        target = db.session.get(User, data["user_id"])
        if target is None:
            raise NotFound()
        with transaction():
            return services.grant_role(target, org, data["role"], by=api_user())


@blp.route("/role-grants/<int:grant_id>")
class GrantItem(MethodView):
    @blp.response(204)
    def delete(self, grant_id):
        """Revoke a role grant."""
        grant = db.session.get(RoleGrant, grant_id)
        from volunteer_hub.accounts.permissions import can

        # One answer for a grant that does not exist and one the caller may not see.
        if grant is None or not can(api_user(), "roles.manage", grant.org):
            raise NotFound()
        with transaction():
            services.revoke_role(grant, by=api_user())
