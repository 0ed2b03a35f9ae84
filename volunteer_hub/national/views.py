"""Pages: an org admin exports the national record and imports 志愿者编号 back; a person
downloads their own record."""
from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from volunteer_hub.accounts.forms import opts
from volunteer_hub.accounts.permissions import path_filter, scope_paths
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.national import services
from volunteer_hub.national.api import export_response, org_export
from volunteer_hub.national.format import FORMAT_VERSION
from volunteer_hub.national.forms import ExportForm, NumbersForm
from volunteer_hub.orgs.models import Org

blp = Blueprint("national", __name__, template_folder="templates")


@blp.app_context_processor
def inject_national_menu():
    """The menu shows the export page to who may use it (org admins), asked only when drawn."""
    return {"may_export_national": lambda: bool(
        scope_paths(current_user, services.EXPORT_PERMISSION))}


def _orgs() -> list[Org]:
    paths = scope_paths(current_user, services.EXPORT_PERMISSION)
    return list(db.session.execute(select(Org).where(path_filter(Org.path, paths))
                                   .order_by(Org.path)).scalars())


def _page(numbers_form: NumbersForm, report=None, status: int = 200):
    orgs = _orgs()
    if not orgs:
        abort(403)
    export_form = ExportForm(request.args if "org_id" in request.args else None)
    export_form.org_id.choices = opts((org.id, org.name_zh) for org in orgs)
    return render_template("national/org.html", export_form=export_form,
                           numbers_form=numbers_form, report=report,
                           version=FORMAT_VERSION), status


@blp.route("/org/national")
@role_required
def org_page():
    return _page(NumbersForm(formdata=None))


@blp.route("/org/national/export")
@role_required
def org_download():
    form = ExportForm(request.args)
    form.org_id.choices = opts((org.id, org.name_zh) for org in _orgs())
    if not form.validate():
        abort(404)
    return org_export(form.org_id.data, current_user, form.format.data)


@blp.route("/org/national/numbers", methods=["POST"])
@role_required
def org_numbers():
    form = NumbersForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    with transaction():
        report = services.import_national_numbers(form.file.data.read(), by=current_user)
    flash(gettext("National numbers stored: %(num)d.", num=report.updated),
          "success" if not report.problems else "info")
    if report.problems:
        flash(gettext("Some rows were refused: see the list below."), "error")
    return _page(NumbersForm(formdata=None), report, 200 if not report.problems else 422)


@blp.route("/me/national-record")
@login_required
def own_page():
    volunteer = services.volunteer_of_person(current_user)
    return render_template("national/mine.html", volunteer=volunteer, version=FORMAT_VERSION)


@blp.route("/me/national-record.<any(json, csv):kind>")
@login_required
def own_download(kind):
    volunteer = services.volunteer_of_person(current_user)
    export = services.build_export([volunteer], by=current_user,
                                   scope={"volunteer_number": volunteer.volunteer_number})
    return export_response(export, kind)
