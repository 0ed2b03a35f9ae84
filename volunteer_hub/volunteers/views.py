"""Pages for volunteers: sign-up, one's own profile and its editors, organizer lists."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user, login_required, login_user
from sqlalchemy.orm import selectinload

from volunteer_hub.accounts import services as accounts
from volunteer_hub.accounts.forms import attach_errors, opts
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.orgs import services as orgs
from volunteer_hub.volunteers import catalogue, services
from volunteer_hub.volunteers.models import Volunteer
from volunteer_hub.volunteers.forms import (
    SIGNUP_ERROR_ALIASES, AvailabilityForm, CertificationForm, ConfirmSkillForm, ConsentForm,
    ProfileForm, SignupForm, SkillsForm, StatusForm, VolunteerFilterForm,
)

blp = Blueprint("volunteers", __name__, template_folder="templates")

PAGE_SIZE = 20


@blp.app_context_processor
def inject_catalogue():
    """Catalogue labels (lazy strings) for every template: {{ SKILLS[code] }}."""
    return {
        "SKILLS": catalogue.SKILLS, "SKILL_LEVELS": catalogue.SKILL_LEVELS,
        "CERTIFICATION_KINDS": catalogue.CERTIFICATION_KINDS,
        "LANGUAGE_LABELS": catalogue.LANGUAGES, "GENDERS": catalogue.GENDERS,
        "ID_TYPE_LABELS": catalogue.ID_TYPE_LABELS, "STATUS_LABELS": catalogue.STATUS_LABELS,
        "WEEKDAYS": catalogue.WEEKDAYS, "CONSENT_KINDS": catalogue.CONSENT_KINDS,
        "hhmm": lambda minutes: f"{minutes // 60:02d}:{minutes % 60:02d}",
        "today": date.today(),
        "visible_birth_date": lambda v: services.visible_birth_date(current_user, v),
        "age_of": services.age_of,
    }


def _locale() -> str:
    return str(get_locale())


def _me():
    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    return volunteer


# --- sign-up --------------------------------------------------------------------------------

@blp.route("/signup", methods=["GET", "POST"])
def signup():
    """Register as a volunteer: account, identity, home, skills and consents."""
    if current_user.is_authenticated and current_user.volunteer is not None:
        return redirect(url_for("volunteers.profile"))  # one person, one account
    form = SignupForm()
    form.set_place_choices(orgs.communities_and_grids(), _locale())
    if form.validate_on_submit():
        try:
            with transaction():
                volunteer = services.register_volunteer(form.registration_data(_locale()))
                services.set_availability(volunteer, form.availability_windows(), [],
                                          by=volunteer.user)
        except DomainError as error:
            attach_errors(form, error, SIGNUP_ERROR_ALIASES)
        else:
            login_user(volunteer.user)
            if volunteer.status == "pending":
                flash(gettext("Thank you for signing up. Your community will check your "
                              "registration: until then your status is pending approval."),
                      "success")
            else:
                flash(gettext("Thank you for signing up. You are an active volunteer now."),
                      "success")
            return redirect(url_for("volunteers.profile"))
    status = 422 if request.method == "POST" else 200
    return render_template("volunteers/signup.html", form=form), status


# --- own profile ----------------------------------------------------------------------------

@blp.route("/me")
@login_required
def profile():
    """The logged-in volunteer's own profile."""
    return render_template("volunteers/profile.html", v=_me(), manage=False)


@blp.route("/me/edit", methods=["GET", "POST"])
@login_required
def edit_profile():
    volunteer = _me()
    if request.method == "POST":
        form = ProfileForm()
    else:
        form = ProfileForm(data={
            "real_name": volunteer.real_name, "phone": volunteer.phone,
            "community_id": str(volunteer.community_id),
            "grid_id": str(volunteer.grid_id or ""), "languages": volunteer.language_list})
    form.set_place_choices(orgs.communities_and_grids(), _locale())
    if form.validate_on_submit():
        changes = {"real_name": form.real_name.data, "phone": form.phone.data,
                   "languages": form.languages.data or ["zh"]}
        new_grid = int(form.grid_id.data) if form.grid_id.data else None
        if int(form.community_id.data) != volunteer.community_id or \
                new_grid != volunteer.grid_id:
            changes.update(community_id=int(form.community_id.data), grid_id=new_grid)
        try:
            with transaction():
                services.update_profile(volunteer, changes, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Your profile is saved."), "success")
            return redirect(url_for("volunteers.profile"))
    return render_template("volunteers/edit.html", form=form, v=volunteer), \
        422 if form.errors or form.form_errors else 200


@blp.route("/me/skills", methods=["GET", "POST"])
@login_required
def edit_skills():
    volunteer = _me()
    if request.method == "POST":
        form = SkillsForm()
    else:
        form = SkillsForm(data={f"skill_{s.skill_code}": str(s.level) for s in volunteer.skills})
    if form.validate_on_submit():
        try:
            with transaction():
                services.set_skills(volunteer, form.skills_data(), by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Your skills are saved."), "success")
            return redirect(url_for("volunteers.profile"))
    confirmed = {s.skill_code: s.confirmed_level for s in volunteer.skills}
    return render_template("volunteers/skills.html", form=form, confirmed=confirmed), \
        422 if form.errors or form.form_errors else 200


@blp.route("/me/certifications", methods=["GET", "POST"])
@login_required
def certifications():
    volunteer = _me()
    form = CertificationForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.add_certification(volunteer, {
                    "kind": form.kind.data, "name": form.name.data or None,
                    "issuer": form.issuer.data, "number": form.number.data or None,
                    "issued_on": form.issued_on.data, "expires_on": form.expires_on.data,
                }, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("The certification is added."), "success")
            return redirect(url_for("volunteers.certifications"))
    return render_template("volunteers/certifications.html", form=form, v=volunteer), \
        422 if form.errors or form.form_errors else 200


@blp.route("/me/certifications/<int:cert_id>/delete", methods=["POST"])
@login_required
def remove_certification(cert_id):
    with transaction():
        services.remove_certification(_me(), cert_id, by=current_user)
    flash(gettext("The certification is removed."), "success")
    return redirect(url_for("volunteers.certifications"))


def _availability_data(volunteer) -> dict:
    windows = [{"weekday": str(w.weekday),
                "start": _time(w.start_minute), "end": _time(w.end_minute)}
               for w in volunteer.availability]
    exceptions = [{"day": e.day, "available": "1" if e.available else "0", "note": e.note}
                  for e in volunteer.exceptions]
    return {"windows": windows + [{}] * 3, "exceptions": exceptions + [{}] * 2}


def _time(minutes: int):
    from datetime import time

    minutes = min(minutes, 24 * 60 - 1)
    return time(minutes // 60, minutes % 60)


def _minutes(value, *, end=False) -> int:
    minutes = value.hour * 60 + value.minute
    return 24 * 60 if end and minutes == 0 else minutes


def _parse_availability(form):
    """Rows left empty are ignored; a row filled in part is an error on that row."""
    windows, exceptions, ok = [], [], True
    for entry in form.windows:
        row = entry.form
        filled = [bool(row.weekday.data), row.start.data is not None, row.end.data is not None]
        if not any(filled):
            continue
        if not all(filled):
            row.weekday.errors = list(row.weekday.errors) + [
                gettext("Choose a day, a start and an end time.")]
            ok = False
            continue
        windows.append({"weekday": int(row.weekday.data), "start_minute": _minutes(row.start.data),
                        "end_minute": _minutes(row.end.data, end=True)})
    for entry in form.exceptions:
        row = entry.form
        if row.day.data is None:
            continue
        exceptions.append({"day": row.day.data, "available": row.available.data == "1",
                           "note": (row.note.data or "").strip() or None})
    return (windows, exceptions) if ok else None


@blp.route("/me/availability", methods=["GET", "POST"])
@login_required
def availability():
    volunteer = _me()
    form = AvailabilityForm() if request.method == "POST" else \
        AvailabilityForm(data=_availability_data(volunteer))
    if form.validate_on_submit():
        parsed = _parse_availability(form)
        if parsed is not None:
            try:
                with transaction():
                    services.set_availability(volunteer, *parsed, by=current_user)
            except DomainError as error:
                form.form_errors.append(error.message)
            else:
                flash(gettext("Your availability is saved."), "success")
                return redirect(url_for("volunteers.profile"))
    return render_template("volunteers/availability.html", form=form), \
        422 if request.method == "POST" else 200


@blp.route("/me/consents", methods=["GET", "POST"])
@login_required
def consents():
    volunteer = _me()
    active_kinds = {c.kind for c in services.active_consents(volunteer)}
    form = ConsentForm()
    form.kind.choices = opts([(k, label) for k, label in catalogue.CONSENT_KINDS.items()
                         if k not in active_kinds or k == "guardian"])
    if form.validate_on_submit():
        guardian = None
        if form.kind.data == "guardian":
            guardian = {"name": form.guardian_name.data, "phone": form.guardian_phone.data,
                        "relationship": form.guardian_relationship.data or None}
        try:
            with transaction():
                services.record_consent(volunteer, form.kind.data, guardian=guardian,
                                        by=current_user)
        except DomainError as error:
            attach_errors(form, error, {"guardian": "guardian_name"})
        else:
            flash(gettext("Your consent is recorded."), "success")
            return redirect(url_for("volunteers.consents"))
    return render_template("volunteers/consents.html", form=form, v=volunteer), \
        422 if form.errors or form.form_errors else 200


@blp.route("/me/consents/<int:consent_id>/withdraw", methods=["POST"])
@login_required
def withdraw_consent(consent_id):
    volunteer = _me()
    with transaction():
        consent = services.withdraw_consent(volunteer, consent_id, by=current_user)
    if consent.kind in ("service_terms", "sensitive_data"):
        flash(gettext("Your consent is withdrawn, and with it your active service has ended."),
              "info")
    else:
        flash(gettext("Your consent is withdrawn."), "info")
    return redirect(url_for("volunteers.consents"))


# --- organizer pages ------------------------------------------------------------------------

def _org_choices(user):
    visible = db.session.execute(orgs.visible_orgs(user)).scalars().all()
    locale = _locale()
    return [("", gettext("Everywhere I can see"))] + [
        (str(o.id), ("· " * max(0, len(o.ancestor_ids()) - 1)) + o.name(locale))
        for o in visible if o.level not in ("building",)]


@blp.route("/org/volunteers")
@role_required
def org_list():
    """Volunteers in the caller's scope, searched and filtered, 20 a page."""
    form = VolunteerFilterForm(request.args)
    form.org_id.choices = opts(_org_choices(current_user))
    teams = db.session.execute(orgs.teams_in_scope(current_user)).scalars().all()
    form.team_id.choices = opts([("", gettext("Any team"))] + [(str(t.id), t.name) for t in teams])
    form.validate()
    page = request.args.get("page", 1, type=int)
    try:
        query = services.search_volunteers(current_user, **form.filters())
    except DomainError as error:
        form.form_errors.append(error.message)
        query = services.search_volunteers(current_user)
    # Each row shows the volunteer's skills: load them for the page in one query, not per row.
    query = query.options(selectinload(Volunteer.skills))
    pagination = db.paginate(query, page=max(page, 1), per_page=PAGE_SIZE, error_out=False)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("volunteers/org_list.html", form=form, pagination=pagination,
                           args=args)


def _detail(volunteer, **extra):
    context = {
        "v": volunteer, "manage": services.can_manage(current_user, volunteer),
        "status_form": StatusForm(formdata=None), "skill_form": ConfirmSkillForm(formdata=None),
        "revealed_id": None, "temporary_password": None,
    }
    context.update(extra)
    return render_template("volunteers/org_detail.html", **context)


def _managed(volunteer_id):
    return services.get_volunteer(volunteer_id, by=current_user)


@blp.route("/org/volunteers/<int:volunteer_id>")
@role_required
def org_detail(volunteer_id):
    """One volunteer, for an organizer: 404 when outside the caller's scope."""
    return _detail(_managed(volunteer_id))


@blp.route("/org/volunteers/<int:volunteer_id>/status", methods=["POST"])
@role_required
def org_set_status(volunteer_id):
    volunteer = _managed(volunteer_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.set_status(volunteer, form.status.data,
                                    reason=(form.reason.data or "").strip() or None,
                                    by=current_user)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_errors(form, error)
            return _detail(volunteer, status_form=form), 422
        flash(gettext("The status is now: %(status)s.",
                      status=catalogue.STATUS_LABELS[volunteer.status]), "success")
    return redirect(url_for("volunteers.org_detail", volunteer_id=volunteer.id))


@blp.route("/org/volunteers/<int:volunteer_id>/skills/<code>/confirm", methods=["POST"])
@role_required
def org_confirm_skill(volunteer_id, code):
    volunteer = _managed(volunteer_id)
    form = ConfirmSkillForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.confirm_skill(volunteer, code, int(form.level.data), by=current_user)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            flash(error.message, "error")
        else:
            flash(gettext("The skill level is confirmed."), "success")
    return redirect(url_for("volunteers.org_detail", volunteer_id=volunteer.id) + "#skills")


@blp.route("/org/volunteers/<int:volunteer_id>/reveal-id", methods=["POST"])
@role_required
def org_reveal_id(volunteer_id):
    volunteer = _managed(volunteer_id)
    with transaction():  # the reveal is recorded in the access log
        number = services.reveal_id_number(volunteer, by=current_user,
                                           route="web.org.volunteers.reveal-id")
    return _detail(volunteer, revealed_id=number)


@blp.route("/org/volunteers/<int:volunteer_id>/reset-password", methods=["POST"])
@role_required
def org_reset_password(volunteer_id):
    volunteer = _managed(volunteer_id)
    with transaction():
        temporary = accounts.reset_password(volunteer.user, by=current_user)
    return _detail(volunteer, temporary_password=temporary)
