"""Pages: the organizer's report dashboard (tables, SVG charts, exports, population)."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import NumberRange, Optional

from volunteer_hub.accounts.permissions import can
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import transaction
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.reports import charts, export, services
from volunteer_hub.reports.months import Month

blp = Blueprint("reports", __name__, template_folder="templates")


class PopulationForm(FlaskForm):
    resident_population = IntegerField(
        _l("Resident population"), validators=[Optional(), NumberRange(min=0, max=100_000_000)],
        description=_l("Residents of this organization's area; the participation rate "
                       "divides active resident volunteers by it. Leave empty if unknown."))


def _selected_org(choices):
    """The org asked for (it must be in the caller's report scope), else the first choice."""
    org_id = request.args.get("org_id", type=int)
    if org_id is None:
        return choices[0]
    return services.report_org(org_id, by=current_user)


def _axis_label(month: Month, index: int) -> str:
    """"MM", with the year where it starts: "26/01"."""
    if index == 0 or month.month == 1:
        return f"{month.year % 100:02d}/{month.month:02d}"
    return f"{month.month:02d}"


def hours_chart(report: services.MonthlyReport):
    types = report.types_with_hours
    colors = charts.series_colors(types)
    series = [charts.Series(str(export.type_label(code)),
                            [export.hours(row.minutes_by_type[code]) for row in report.months],
                            color) for code, color in zip(types, colors, strict=True)]
    svg = charts.stacked_columns(
        "chart-hours", gettext("Verified hours per month, by service type"),
        gettext("Stacked bars from %(first)s to %(last)s; %(hours)s hours in all.",
                first=str(report.first), last=str(report.last),
                hours=export.hours(report.total_minutes)),
        [_axis_label(row.month, index) for index, row in enumerate(report.months)], series)
    return svg, series


def liability_chart(report: services.LiabilityReport):
    series = [charts.Series(gettext("Redeemable hours"),
                            [export.hours(b.redeemable_minutes) for b in report.bands],
                            charts.PALETTE[0]),
              charts.Series(gettext("Group hours (donation only)"),
                            [export.hours(b.group_minutes) for b in report.bands],
                            charts.PALETTE[1])]
    svg = charts.stacked_rows(
        "chart-liability", gettext("Outstanding hours by holder age band"),
        gettext("Horizontal bars per age band; %(hours)s hours owed to %(num)d holders.",
                hours=export.hours(report.redeemable_minutes + report.group_minutes),
                num=report.holders),
        [band.band for band in report.bands], series)
    return svg, series


@blp.route("/org/reports")
@role_required
def dashboard():
    """Monthly statistics, charts and the time-bank liability of one organization."""
    choices = services.org_choices(current_user)
    if not choices:
        abort(403)
    org = _selected_org(choices)
    first, last = request.args.get("from"), request.args.get("to")
    errors, status = {}, 200
    try:
        months = services.month_range(first, last)
    except ValidationFailed as error:
        errors, status = error.errors or {}, 422
        months = services.month_range(None, None)
    monthly = services.monthly_report(org, months, by=current_user)
    liability = services.liability_report(org, by=current_user)
    form = PopulationForm(resident_population=org.resident_population)
    return render_template(
        "reports/dashboard.html", org=org, choices=choices, report=monthly,
        liability=liability, errors=errors, first=first or str(months[0]),
        last=last or str(months[-1]), hours_chart=hours_chart(monthly),
        liability_chart=liability_chart(liability), hours=export.hours,
        type_label=export.type_label, form=form,
        can_manage=can(current_user, "reports.manage", org)), status


@blp.route("/org/reports/<int:org_id>/population", methods=["POST"])
@role_required
def set_population(org_id: int):
    """Record the resident population (organizers of the org or above)."""
    form = PopulationForm()
    if not form.validate_on_submit():
        for message in form.resident_population.errors or [gettext("Please try again.")]:
            flash(message, "error")
    else:
        with transaction():
            org = services.report_org(org_id, by=current_user, permission="reports.manage")
            services.set_resident_population(org, form.resident_population.data,
                                             by=current_user)
        flash(gettext("Resident population saved."), "success")
    return redirect(url_for("reports.dashboard", org_id=org_id))


def _download(content: bytes, mimetype: str, filename: str) -> Response:
    return Response(content, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store"})


def _format(fmt: str) -> str:
    if fmt not in export.FORMATS:
        abort(404)
    return fmt


@blp.route("/org/reports/<int:org_id>/monthly.<fmt>")
@role_required
def monthly_export(org_id: int, fmt: str):
    """The monthly report as a CSV or XLSX file."""
    fmt = _format(fmt)
    org = services.report_org(org_id, by=current_user)
    months = services.month_range(request.args.get("from"), request.args.get("to"))
    report = services.monthly_report(org, months, by=current_user)
    return _download(*export.monthly_file(report, fmt))


@blp.route("/org/reports/<int:org_id>/liability.<fmt>")
@role_required
def liability_export(org_id: int, fmt: str):
    """The liability report as a CSV or XLSX file."""
    fmt = _format(fmt)
    org = services.report_org(org_id, by=current_user)
    return _download(*export.liability_file(services.liability_report(org, by=current_user),
                                            fmt))

