"""Personal-data rights API: my data, closing my account, consents, the access log."""
from __future__ import annotations

import json

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user, bearer_user
from volunteer_hub.db import transaction
from volunteer_hub.errors import Forbidden
from volunteer_hub.extensions import limiter
from volunteer_hub.idempotency import idempotent
from volunteer_hub.privacy import closure, consents, retention, services
from volunteer_hub.privacy.schemas import (
    AccessEntrySchema, ClosedSchema, ClosureSchema, ConsentAcceptSchema, ConsentStatusSchema,
    GivenConsentSchema, RetentionRunSchema,
)

URL_PREFIX = ""
blp = Blueprint("privacy_api", __name__,
                description="Personal-data rights: export, account closure, consents, access log")


def export_limit() -> str:
    return current_app.config["DATA_EXPORT_RATE_LIMIT"]


def export_limit_key() -> str:
    user = bearer_user()
    return f"data-export:user:{user.id}" if user is not None else "data-export:anonymous"


def entry_dict(entry) -> dict:
    from volunteer_hub.accounts.models import User
    from volunteer_hub.db import db

    actor = db.session.get(User, entry.actor_user_id) if entry.actor_user_id else None
    return {"id": entry.id, "kind": entry.kind, "subject_user_id": entry.subject_user_id,
            "actor_user_id": entry.actor_user_id,
            "actor_name": actor.display_name if actor else None, "route": entry.route,
            "reason": entry.reason, "at": entry.at}


@blp.route("/me/data-export")
class DataExport(MethodView):
    @limiter.limit(export_limit, key_func=export_limit_key)
    @blp.doc(responses={"200": {"description": "A ZIP: data.json, one CSV per section, "
                                              "README.txt (format vh-personal-data/1)",
                                "content": {"application/zip": {}}}})
    def get(self):
        """Everything the service holds about the caller, as one open file (logged)."""
        user = api_user()
        with transaction():
            name, data = services.export_personal_data(user, by=user,
                                                       route="api.me.data-export")
        return Response(data, mimetype="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store"})


@blp.route("/me/account-closure")
class AccountClosure(MethodView):
    @idempotent
    @blp.arguments(ClosureSchema)
    @blp.response(200, ClosedSchema)
    def post(self, data):
        """Close the caller's account: personal data deleted or pseudonymized, hours kept."""
        user = api_user()
        with transaction():
            closed = closure.close_own_account(user, data["password"])
            result = {"pseudonym": closure.pseudonym(closed.id), "closed_at": closed.closed_at}
        request.environ.pop("vh.api_token", None)  # deleted with the account: nothing to touch
        return result


@blp.route("/me/consents")
class MyConsents(MethodView):
    @blp.response(200, ConsentStatusSchema)
    def get(self):
        """The texts the caller is asked to accept again, and the consents given so far."""
        user = api_user()
        volunteer = user.volunteer
        return {"pending": consents.pending_texts(user, user.locale or "zh_Hans"),
                "given": volunteer.consents if volunteer is not None else []}

    @idempotent
    @blp.arguments(ConsentAcceptSchema)
    @blp.response(201, GivenConsentSchema(many=True))
    def post(self, data):
        """Accept the current version of each text asked (kind -> version read)."""
        user = api_user()
        with transaction():
            return consents.accept(user, data["accepted"])


@blp.route("/me/access-log")
class MyAccessLog(MethodView):
    @blp.response(200, AccessEntrySchema(many=True))
    def get(self):
        """Who viewed the caller's full ID number or downloaded their data (newest first)."""
        return [entry_dict(entry) for entry in services.access_log_about(api_user())]


@blp.route("/access-log")
class AccessLog(MethodView):
    @blp.response(200, AccessEntrySchema(many=True))
    def get(self):
        """The access log of the volunteers under the caller's organizations (admins and
        organizers who may reveal ID numbers), newest first."""
        from volunteer_hub.accounts.permissions import scope_paths

        user = api_user()
        if not scope_paths(user, "volunteers.reveal_id"):
            raise Forbidden()
        return [entry_dict(entry) for entry in services.access_log_for_admin(user)]


@blp.route("/retention-runs")
class RetentionRuns(MethodView):
    @blp.response(200, RetentionRunSchema(many=True))
    def get(self):
        """The latest retention runs and what each deleted or closed (administrators)."""
        from volunteer_hub.accounts.permissions import scope_paths

        if not scope_paths(api_user(), "roles.manage"):
            raise Forbidden()
        return [{"id": run.id, "started_at": run.started_at, "finished_at": run.finished_at,
                 "dry_run": run.dry_run, "trigger": run.trigger,
                 "counts": json.loads(run.counts)} for run in retention.recent_runs()]
