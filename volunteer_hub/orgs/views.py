"""Pages for orgs: teams in the caller's scope and their members."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user

from volunteer_hub.accounts.forms import attach_errors, opts
from volunteer_hub.accounts.permissions import can
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.orgs import services
from volunteer_hub.orgs.forms import MemberForm, TeamForm
from volunteer_hub.orgs.models import TEAM_ROLE_LABELS, TEAM_TYPE_LABELS
from volunteer_hub.volunteers.models import Volunteer

blp = Blueprint("orgs", __name__, template_folder="templates")


def _manageable_orgs():
    """Org nodes (down to communities) where the caller may create teams."""
    nodes = db.session.execute(services.visible_orgs(current_user)).scalars().all()
    locale = str(get_locale())
    return [(str(o.id), ("· " * max(0, len(o.ancestor_ids()) - 1)) + o.name(locale))
            for o in nodes
            if o.level in ("city", "district", "street", "community")
            and can(current_user, "teams.manage", o)]


@blp.route("/org/teams", methods=["GET", "POST"])
@role_required
def team_list():
    """Teams in the caller's scope, and a form to create one."""
    form = TeamForm()
    form.org_id.choices = opts(_manageable_orgs())
    if form.validate_on_submit():
        try:
            with transaction():
                team = services.create_team(
                    services.get_org(int(form.org_id.data)), name=form.name.data,
                    type=form.type.data, custom_type=form.custom_type.data or None,
                    description=form.description.data or None, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("The team is created."), "success")
            return redirect(url_for("orgs.team_detail", team_id=team.id))
    teams = db.session.execute(services.teams_in_scope(current_user)).scalars().all()
    status = 422 if form.errors or form.form_errors else 200
    return render_template("orgs/team_list.html", form=form, teams=teams,
                           TEAM_TYPE_LABELS=TEAM_TYPE_LABELS), status


def _find_volunteer(value: str):
    value = (value or "").strip().upper()
    query = db.select(Volunteer).where(db.func.upper(Volunteer.volunteer_number) == value)
    if value.isdecimal():
        query = db.select(Volunteer).where(
            (db.func.upper(Volunteer.volunteer_number) == value) | (Volunteer.id == int(value)))
    return db.session.execute(query).scalars().first()


def _team_page(team, form, status=200):
    members = sorted(team.members, key=lambda m: (m.role != "leader", m.volunteer.real_name))
    return render_template("orgs/team_detail.html", team=team, form=form, members=members,
                           manage=can(current_user, "teams.manage", team.org),
                           TEAM_TYPE_LABELS=TEAM_TYPE_LABELS,
                           TEAM_ROLE_LABELS=TEAM_ROLE_LABELS), status


@blp.route("/org/teams/<int:team_id>", methods=["GET", "POST"])
@role_required
def team_detail(team_id):
    """A team's members; add one by volunteer number, with a team role."""
    team = services.get_team(team_id, by=current_user)
    form = MemberForm()
    if form.validate_on_submit():
        volunteer = _find_volunteer(form.volunteer.data)
        try:
            if volunteer is None:
                raise DomainError(gettext("No volunteer with this number in your area."),
                                  field="volunteer")
            with transaction():
                services.add_member(team, volunteer, role=form.role.data, by=current_user)
        except DomainError as error:
            if error.status == 404:  # out of scope reads as unknown
                error = DomainError(gettext("No volunteer with this number in your area."),
                                    field="volunteer")
            attach_errors(form, error, {"volunteer_id": "volunteer"})
        else:
            flash(gettext("%(name)s is on the team.", name=volunteer.real_name), "success")
            return redirect(url_for("orgs.team_detail", team_id=team.id))
    status = 422 if form.errors or form.form_errors else 200
    return _team_page(team, form, status)


@blp.route("/org/teams/<int:team_id>/members/<int:volunteer_id>/remove", methods=["POST"])
@role_required
def remove_member(team_id, volunteer_id):
    team = services.get_team(team_id, by=current_user)
    with transaction():
        services.remove_member(team, volunteer_id, by=current_user)
    flash(gettext("The member is removed from the team."), "success")
    return redirect(url_for("orgs.team_detail", team_id=team.id))


# --- certificate settings (issuer fields, credit code, seal) -----------------------------------

def _administered_orgs():
    nodes = db.session.execute(services.visible_orgs(current_user)).scalars().all()
    return [org for org in nodes if can(current_user, "orgs.manage", org)]


@blp.route("/org/certificate-settings")
@role_required
def certificate_settings_list():
    """The orgs whose certificate settings the caller administers."""
    return render_template("orgs/certificate_settings_list.html", orgs=_administered_orgs())


@blp.route("/org/<int:org_id>/certificate-settings", methods=["GET", "POST"])
@role_required
def certificate_settings(org_id):
    """Set what this org's certificates print; certificates wait until the required ones are
    filled in. Org admins only (others: 404)."""
    from flask import abort, request

    from volunteer_hub.orgs import issuer
    from volunteer_hub.orgs.forms import IssuerForm

    org = services.get_org(org_id)
    if not can(current_user, "orgs.manage", org):
        abort(404)
    form = IssuerForm(obj=org)
    if form.validate_on_submit():
        try:
            with transaction():
                issuer.update_issuer(org, {name: form[name].data for name in (
                    "person_in_charge", "handler", "contact", "credit_code")}, by=current_user)
                upload = request.files.get(form.seal.name)
                if form.remove_seal.data:
                    issuer.clear_seal(org, by=current_user)
                elif upload and upload.filename:
                    issuer.set_seal(org, upload.read(), by=current_user)
        except DomainError as error:
            db.session.refresh(org)
            attach_errors(form, error)
        else:
            flash(gettext("The certificate settings are saved."), "success")
            return redirect(url_for("orgs.certificate_settings", org_id=org.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("orgs/certificate_settings.html", org=org, form=form,
                           missing=org.missing_issuer_fields()), status


@blp.route("/org/<int:org_id>/seal")
@role_required
def seal_preview(org_id):
    """The seal as uploaded, for the org's admins only (never public)."""
    from flask import Response, abort

    org = services.get_org(org_id)
    if not can(current_user, "orgs.manage", org) or org.seal_image is None:
        abort(404)
    return Response(org.seal_image, mimetype=org.seal_mime,
                    headers={"Cache-Control": "private, no-store"})
