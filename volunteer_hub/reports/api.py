"""Reports API: monthly statistics and time-bank liability of an organization, and exports."""
from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.db import transaction
from volunteer_hub.reports import export, services
from volunteer_hub.reports.schemas import (
    ExportArgsSchema, LiabilityReportSchema, MonthlyExportArgsSchema, MonthlyReportSchema,
    MonthRangeArgsSchema, OrgPopulationSchema, PopulationSchema,
)

URL_PREFIX = "/reports"
blp = Blueprint("reports_api", __name__, description="Reports: monthly service statistics, "
                "time-bank liability, CSV and XLSX exports")

FILE_RESPONSES = {"200": {"description": "The report as a file (CSV with a UTF-8 BOM, or XLSX)",
                          "content": {export.CSV_MIME: {}, export.XLSX_MIME: {}}}}


def file_response(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store"})


@blp.route("/orgs/<int:org_id>/monthly")
class Monthly(MethodView):
    @blp.arguments(MonthRangeArgsSchema, location="query")
    @blp.response(200, MonthlyReportSchema)
    def get(self, args, org_id):
        """Per month of the range: verified hours by service type, active volunteers,
        registrations, beneficiaries served and participation over the org's subtree."""
        user = api_user()
        return services.monthly_report(services.report_org(org_id, by=user), args["months"],
                                       by=user)


@blp.route("/orgs/<int:org_id>/monthly/export")
class MonthlyExport(MethodView):
    @blp.arguments(MonthlyExportArgsSchema, location="query")
    @blp.doc(responses=FILE_RESPONSES)
    def get(self, args, org_id):
        """The monthly report as CSV or XLSX (headers in the request's language)."""
        user = api_user()
        report = services.monthly_report(services.report_org(org_id, by=user), args["months"],
                                         by=user)
        return file_response(*export.monthly_file(report, args["format"]))


@blp.route("/orgs/<int:org_id>/liability")
class Liability(MethodView):
    @blp.response(200, LiabilityReportSchema)
    def get(self, org_id):
        """Hours the time bank owes holders living in the subtree, by holder age band,
        with how many holders already reached the redemption age."""
        user = api_user()
        return services.liability_report(services.report_org(org_id, by=user), by=user)


@blp.route("/orgs/<int:org_id>/liability/export")
class LiabilityExport(MethodView):
    @blp.arguments(ExportArgsSchema, location="query")
    @blp.doc(responses=FILE_RESPONSES)
    def get(self, args, org_id):
        """The liability report as CSV or XLSX."""
        user = api_user()
        report = services.liability_report(services.report_org(org_id, by=user), by=user)
        return file_response(*export.liability_file(report, args["format"]))


@blp.route("/orgs/<int:org_id>/resident-population")
class ResidentPopulation(MethodView):
    @blp.response(200, OrgPopulationSchema)
    def get(self, org_id):
        """The resident population recorded for the participation rate."""
        return services.report_org(org_id, by=api_user())

    @blp.arguments(PopulationSchema)
    @blp.response(200, OrgPopulationSchema)
    def put(self, data, org_id):
        """Record the resident population (organizers of the org or above; null clears)."""
        user = api_user()
        with transaction():
            org = services.report_org(org_id, by=user, permission="reports.manage")
            return services.set_resident_population(org, data["resident_population"], by=user)
