"""National record API: exports per org and per person; national numbers imported back."""
from flask import Response, request
from flask_babel import lazy_gettext as _l
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.idempotency import idempotent
from volunteer_hub.national import services
from volunteer_hub.orgs.models import Org

URL_PREFIX = "/national"
blp = Blueprint("national_api", __name__,
                description="The national record (MCA Order No. 67): export and 志愿者编号")


class ExportArgsSchema(Schema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "json: one document; csv: a ZIP of one "
                                     "CSV per section plus manifest.json"})


class NumberProblemSchema(Schema):
    line = fields.Integer()
    message = fields.String()


class NumberImportSchema(Schema):
    total = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    problems = fields.List(fields.Nested(NumberProblemSchema))


def export_response(export, kind: str) -> Response:
    if kind == "csv":
        body, mimetype = services.to_csv_zip(export), "application/zip"
    else:
        body, mimetype = services.to_json_bytes(export), "application/json"
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{services.filename(export.scope, kind)}"',
        "Cache-Control": "no-store"})


def org_export(org_id: int, by, kind: str) -> Response:
    org = db.session.get(Org, org_id)
    if org is None:
        raise NotFound()
    with transaction():  # the reveals it logs commit with it
        people = services.volunteers_of_org(org, by=by)
        export = services.build_export(people, by=by, scope={"org_code": org.code,
                                                            "org_name": org.name_zh})
    return export_response(export, kind)


def own_export(by, kind: str) -> Response:
    volunteer = services.volunteer_of_person(by)
    export = services.build_export([volunteer], by=by,
                                   scope={"volunteer_number": volunteer.volunteer_number})
    return export_response(export, kind)


@blp.route("/orgs/<int:org_id>/export")
class OrgExport(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, description="The national record of the org's volunteers (file)")
    def get(self, args, org_id):
        """Export the org's volunteers and their records (org admins)."""
        return org_export(org_id, api_user(), args["format"])


@blp.route("/me/export")
class OwnExport(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.response(200, description="The caller's own national record (file)")
    def get(self, args):
        """Export the caller's own record."""
        return own_export(api_user(), args["format"])


@blp.route("/numbers")
class NationalNumbers(MethodView):
    @idempotent
    @blp.response(200, NumberImportSchema)
    @blp.doc(requestBody={"required": True, "content": {"text/csv": {"schema": {
        "type": "string", "description": "volunteer_number (本系统编号) and national_number "
        "(志愿者编号) columns; the export's volunteers.csv is accepted as is"}}}})
    def post(self):
        """Store national volunteer numbers (org admins, for volunteers in their orgs)."""
        user = api_user()
        raw = request.get_data()
        if not raw.strip():
            raise ValidationFailed(_l("Send the CSV file as the request body."), field="body")
        with transaction():
            return services.import_national_numbers(raw, by=user)
