"""Pages: a course recorded for a group, evaluations of verified service, awards, and the
volunteer's own "My training, evaluations and awards"."""
from __future__ import annotations

import re
from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext, ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, select

from volunteer_hub.accounts.forms import attach_errors, opts
from volunteer_hub.accounts.permissions import path_filter, scope_paths
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.orgs import services as orgs
from volunteer_hub.orgs.models import Org, TeamMember
from volunteer_hub.recognition import services
from volunteer_hub.recognition.forms import (
    AwardForm, EvaluationForm, GroupTrainingForm, RevokeForm,
)
from volunteer_hub.recognition.models import (
    AWARD_LEVELS, SCORE_LABELS, SCORE_MAX, TRAINING_KINDS, TRAINING_STATUS_LABELS,
)
from volunteer_hub.records.models import METHOD_LABELS
from volunteer_hub.volunteers.models import Volunteer

blp = Blueprint("recognition", __name__, template_folder="templates")

LIST_LIMIT = 50
_SEPARATORS = re.compile(r"[\s,，;；、]+")


@blp.app_context_processor
def inject_labels():
    """Labels for every template, and the awards of a profile (recognition/_awards.html)."""
    return {"TRAINING_KINDS": TRAINING_KINDS, "AWARD_LEVELS": AWARD_LEVELS,
            "SCORE_MAX": SCORE_MAX, "SCORE_LABELS": SCORE_LABELS,
            "recognition_awards": _granted_awards}


def _granted_awards(volunteer) -> list:
    return db.session.execute(services.awards_of(volunteer)).scalars().all()


def _hours(minutes: int) -> str:
    return f"{minutes / 60:g}"


def _locale() -> str:
    return str(get_locale())


def _manageable_org_choices(user) -> list[tuple[str, str]]:
    query = select(Org).where(
        path_filter(Org.path, scope_paths(user, "recognition.manage")),
        Org.level != "building").order_by(Org.path)
    locale = _locale()
    return [(str(o.id), ("· " * max(0, len(o.ancestor_ids()) - 1)) + o.name(locale))
            for o in db.session.execute(query).scalars()]


def _find_volunteers(text: str) -> tuple[dict[int, str], list[str]]:
    """Volunteer ids for each volunteer number or mobile number, and the tokens unknown."""
    found, unknown = {}, []
    for token in dict.fromkeys(t for t in _SEPARATORS.split(text or "") if t):
        volunteer_id = db.session.execute(select(Volunteer.id).where(
            (func.upper(Volunteer.volunteer_number) == token.upper())
            | (Volunteer.phone == token))).scalars().first()
        if volunteer_id is None:
            unknown.append(token)
        else:
            found.setdefault(volunteer_id, token)
    return found, unknown


# --- the volunteer's own page -------------------------------------------------------------------

@blp.route("/me/recognition")
@login_required
def mine():
    """My training, evaluations and awards."""
    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    trainings = db.session.execute(services.trainings_of(volunteer).limit(LIST_LIMIT)) \
        .scalars().all()
    evaluations = db.session.execute(services.evaluations_of(volunteer, by=current_user)
                                     .limit(LIST_LIMIT)).scalars().all()
    return render_template(
        "recognition/mine.html", trainings=trainings, evaluations=evaluations,
        awards=_granted_awards(volunteer), average=services.average_score(volunteer),
        hours=_hours, TRAINING_STATUS_LABELS=TRAINING_STATUS_LABELS)


# --- organizer: overview, trainings -------------------------------------------------------------

@blp.route("/org/recognition")
@role_required
def org_home():
    """Recent trainings and awards in the caller's scope, with the forms to add more."""
    trainings = db.session.execute(services.trainings_in_scope(current_user)
                                   .limit(LIST_LIMIT)).scalars().all()
    awards = db.session.execute(services.awards_in_scope(current_user).limit(LIST_LIMIT)) \
        .scalars().all()
    return render_template("recognition/org_home.html", trainings=trainings, awards=awards,
                           can_manage=lambda v: services.can_manage(current_user, v),
                           revoke_form=RevokeForm(formdata=None), hours=_hours,
                           TRAINING_STATUS_LABELS=TRAINING_STATUS_LABELS)


def _training_form() -> GroupTrainingForm:
    form = GroupTrainingForm()
    form.org_id.choices = opts(_manageable_org_choices(current_user))
    teams = db.session.execute(orgs.teams_in_scope(current_user)).scalars().all()
    form.team_id.choices = opts([("", gettext("No team"))] + [(str(t.id), t.name)
                                                              for t in teams])
    if not form.is_submitted() and form.trained_on.data is None:
        form.trained_on.data = date.today()
    return form


def _team_member_ids(form: GroupTrainingForm) -> dict[int, str]:
    if not form.team_id.data:
        return {}
    team = orgs.get_team(int(form.team_id.data), by=current_user)
    return {m.volunteer_id: m.volunteer.volunteer_number for m in db.session.execute(
        select(TeamMember).where(TeamMember.team_id == team.id)).scalars()}


def _report_group_result(result: dict, tokens: dict[int, str]) -> None:
    if result["recorded"]:
        flash(ngettext("Training recorded for %(num)d volunteer.",
                       "Training recorded for %(num)d volunteers.",
                       len(result["recorded"])), "success")
    for refusal in result["refused"]:
        flash(gettext("%(volunteer)s: %(message)s", volunteer=tokens.get(refusal["id"]),
                      message=refusal["message"]), "error")


@blp.route("/org/trainings/new", methods=["GET", "POST"])
@role_required
def record_training():
    """Record a course held for a group: one training record per volunteer who attended."""
    form = _training_form()
    if form.validate_on_submit():
        try:
            tokens, unknown = _find_volunteers(form.volunteers.data)
            tokens = {**_team_member_ids(form), **tokens}
            if unknown:
                raise DomainError(gettext("No volunteer with this number: %(numbers)s",
                                          numbers=", ".join(unknown)), field="volunteers")
            if not tokens:
                raise DomainError(gettext("List the volunteers or choose a team."),
                                  field="volunteers")
            data = {"org_id": int(form.org_id.data), "title": form.title.data,
                    "kind": form.kind.data, "trained_on": form.trained_on.data,
                    "minutes": int(round(form.hours.data * 60)), "trainer": form.trainer.data,
                    "content": form.content.data}
            with transaction():
                result = services.record_group_training(list(tokens), data, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            _report_group_result(result, tokens)
            if result["recorded"]:
                return redirect(url_for("recognition.org_home"))
    status = 422 if form.errors or form.form_errors or request.method == "POST" else 200
    return render_template("recognition/training_form.html", form=form), status


@blp.route("/org/trainings/<int:training_id>/revoke", methods=["POST"])
@role_required
def revoke_training(training_id):
    form = RevokeForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(gettext("Give a reason."), field="reason")
        with transaction():
            training = services.get_training(training_id, by=current_user)
            services.revoke_training(training, form.reason.data, by=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Training revoked: it no longer counts."), "success")
    return redirect(url_for("recognition.org_home"))


# --- organizer: evaluations ---------------------------------------------------------------------

@blp.route("/org/evaluations")
@role_required
def to_evaluate():
    """Verified service the caller may evaluate and has not evaluated yet."""
    records = db.session.execute(services.records_to_evaluate(current_user).limit(LIST_LIMIT)) \
        .scalars().all()
    return render_template("recognition/to_evaluate.html", records=records,
                           METHOD_LABELS=METHOD_LABELS)


@blp.route("/org/records/<int:record_id>/evaluation", methods=["GET", "POST"])
@login_required
def evaluate(record_id):
    """Rate one verified service record 1-5 with a comment (the lead or an organizer)."""
    record = services.get_service_record(record_id, by=current_user)
    if not services.can_evaluate(current_user, record):
        abort(403)
    form = EvaluationForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.evaluate(record, form.score.data, form.comment.data, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Evaluation saved: %(name)s can read it.",
                          name=record.volunteer.real_name), "success")
            return redirect(url_for("recognition.to_evaluate"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("recognition/evaluate.html", form=form, record=record), status


# --- organizer: awards --------------------------------------------------------------------------

@blp.route("/org/awards/new", methods=["GET", "POST"])
@role_required
def grant_award():
    """Record an award given to a volunteer; it shows on the volunteer's profile."""
    form = AwardForm()
    form.org_id.choices = opts(_manageable_org_choices(current_user))
    if not form.is_submitted():
        form.awarded_on.data = date.today()
        form.volunteer.data = request.args.get("volunteer", "")
    if form.validate_on_submit():
        try:
            found, _unknown = _find_volunteers(form.volunteer.data)
            if len(found) != 1:
                raise DomainError(gettext("No volunteer with this number in your area."),
                                  field="volunteer")
            with transaction():
                volunteer = services.readable_volunteer(next(iter(found)), by=current_user)
                services.grant_award(volunteer, {
                    "org_id": int(form.org_id.data), "title": form.title.data,
                    "level": form.level.data, "awarded_on": form.awarded_on.data,
                    "issuer": form.issuer.data, "reason": form.reason.data},
                    by=current_user)
        except DomainError as error:
            if error.status == 404:  # out of scope reads as unknown
                error = DomainError(gettext("No volunteer with this number in your area."),
                                    field="volunteer")
            attach_errors(form, error)
        else:
            flash(gettext("Award recorded for %(name)s.", name=volunteer.real_name), "success")
            return redirect(url_for("recognition.org_home"))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("recognition/award_form.html", form=form), status


@blp.route("/org/awards/<int:award_id>/revoke", methods=["POST"])
@role_required
def revoke_award(award_id):
    form = RevokeForm()
    try:
        if not form.validate_on_submit():
            raise DomainError(gettext("Give a reason."), field="reason")
        with transaction():
            services.revoke_award(services.get_award(award_id, by=current_user),
                                  form.reason.data, by=current_user)
    except DomainError as error:
        flash(str(error.message), "error")
    else:
        flash(gettext("Award revoked."), "success")
    return redirect(url_for("recognition.org_home"))


# --- star notices (公示) ---------------------------------------------------------------------

from volunteer_hub.extensions import limiter  # noqa: E402


@blp.route("/orgs/<code>/star-notices")
@limiter.limit("60 per minute")
def star_notices(code: str):
    """Public (no login): new star levels of this org's volunteers still in their notice
    period, with masked names only."""
    from flask import current_app

    from volunteer_hub.recognition.stars import public_notices
    from volunteer_hub.timebank.certificates import mask_name

    org = db.session.execute(select(Org).filter_by(code=code)).scalar_one_or_none()
    if org is None:
        abort(404)
    rows = [{"name": mask_name(notice.volunteer.real_name), "level": notice.level,
             "hours": _hours(notice.service_minutes), "starts_at": notice.starts_at,
             "ends_at": notice.ends_at} for notice in public_notices(org)]
    return render_template("recognition/star_notices.html", org=org, rows=rows,
                           days=current_app.config["STAR_NOTICE_DAYS"], locale=_locale())
