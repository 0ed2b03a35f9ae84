"""Pages: the organizer's verification queue and door screen; the scanned check-in link."""
from __future__ import annotations

import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from volunteer_hub.accounts.forms import attach_errors
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import limiter
from volunteer_hub.records import services, tasks
from volunteer_hub.records.forms import HandRecordForm, RejectForm, TokenForm
from volunteer_hub.records.limits import check_in_limit, check_in_limit_key
from volunteer_hub.records.models import METHOD_LABELS, STATUS_LABELS
from volunteer_hub.timebank.services import run_in_transaction

blp = Blueprint("records", __name__, template_folder="templates")


@blp.app_context_processor
def inject_record_labels():
    return {"RECORD_STATUS_LABELS": STATUS_LABELS, "RECORD_METHOD_LABELS": METHOD_LABELS}


# --- verification -------------------------------------------------------------------------------

@blp.route("/org/verification")
@role_required
def queue():
    """Pending records and corrections, oldest first, with their times and flags."""
    items = db.session.execute(services.verification_queue(current_user).limit(200)) \
        .scalars().all()
    return render_template("records/queue.html", items=items, METHOD_LABELS=METHOD_LABELS,
                           flags={r.id: services.record_flags(r) for r in items},
                           FLAG_LABELS=services.FLAG_LABELS,
                           rounding=_rounding_units(items),
                           reject_form=RejectForm(formdata=None))


def _rounding_units(records) -> dict[int, int]:
    """Each record's rounding unit, its organization's rules read once per organization."""
    units: dict[int, int] = {}
    for org in {record.activity.org for record in records}:
        units[org.id] = services.settings_for(org).rounding_minutes
    return {record.id: units[record.activity.org_id] for record in records}


@blp.route("/org/verification", methods=["POST"])
@role_required
def approve():
    """Approve the ticked records; each one mints its minutes into the time bank."""
    ids = [int(value) for value in request.form.getlist("record_id") if value.isdecimal()]
    result = run_in_transaction(lambda: services.verify_records(ids, by=current_user))
    if result["verified"]:
        flash(ngettext("%(num)d record verified.", "%(num)d records verified.",
                       len(result["verified"])), "success")
    for refusal in result["refused"]:
        flash(gettext("Record %(id)d: %(message)s", id=refusal["id"],
                      message=refusal["message"]), "error")
    return redirect(url_for("records.queue"))


@blp.route("/org/verification/<int:record_id>/reject", methods=["POST"])
@role_required
def reject(record_id):
    """Reject one pending record with a reason the volunteer sees."""
    form = RejectForm()
    if not form.validate_on_submit():
        flash(gettext("Give a reason."), "error")
        return redirect(url_for("records.queue"))
    try:
        with transaction():
            record = services.get_record(record_id, by=current_user)
            services.reject_record(record, form.reason.data, by=current_user)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
    else:
        flash(gettext("Record rejected."), "success")
    return redirect(url_for("records.queue"))


# --- the organizer's door screen ----------------------------------------------------------------

@blp.route("/org/slots/<int:slot_id>/check-in")
@role_required
def occurrence(slot_id):
    """The check-in of a slot's occurrence: code, rotating QR, who came, hours by hand."""
    return _occurrence_page(_occurrence_of(slot_id), HandRecordForm(formdata=None))


def _occurrence_of(slot_id: int):
    with transaction():
        return tasks.occurrence_for_organizer(tasks.for_slot_id(slot_id), by=current_user)


def _occurrence_page(activity, form, status: int = 200):
    roster = tasks.occurrence_roster(activity)
    return render_template("records/occurrence.html", activity=activity, roster=roster,
                           slot_id=tasks.occurrence_slots(activity)[0].id, form=form,
                           deadline=services.deadline_count(activity),
                           refresh_seconds=60), status


@blp.route("/org/slots/<int:slot_id>/check-in/door")
@role_required
def door(slot_id):
    """Full screen for a tablet at the door: the QR code and the 6-digit code, large."""
    activity = _occurrence_of(slot_id)
    return render_template("records/door.html", activity=activity, slot_id=slot_id,
                           refresh_seconds=60)


@blp.route("/org/slots/<int:slot_id>/check-in/qr.svg")
@role_required
def qr_image(slot_id):
    """The current QR code: a link to the check-in page holding a token valid a few minutes."""
    import qrcode
    import qrcode.image.svg

    activity = _occurrence_of(slot_id)
    token = services.issue_qr_token(activity, by=current_user)
    link = url_for("records.scan", activity_id=activity.id, t=token, _external=True)
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                         image_factory=qrcode.image.svg.SvgPathFillImage)
    code.add_data(link)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return Response(buffer.getvalue(), mimetype="image/svg+xml",
                    headers={"Cache-Control": "no-store"})


@blp.route("/org/slots/<int:slot_id>/check-in/hours", methods=["POST"])
@role_required
def hand_record(slot_id):
    """Hours entered by the organizer for a volunteer named by name or code, with a reason."""
    activity = _occurrence_of(slot_id)
    form = HandRecordForm()
    if not form.validate_on_submit():
        return _occurrence_page(activity, form, 422)
    try:
        with transaction():
            record = tasks.record_for_volunteer(
                activity, form.volunteer.data,
                {"check_in_at": form.check_in_at.data, "check_out_at": form.check_out_at.data,
                 "reason": form.reason.data}, by=current_user)
    except DomainError as error:
        if error.status == 404:
            raise
        attach_errors(form, error, aliases={"minutes": "check_out_at"})
        return _occurrence_page(activity, form, error.status)
    flash(gettext("Hours recorded for %(name)s: they wait for verification.",
                  name=record.volunteer.real_name), "success")
    return redirect(url_for("records.occurrence", slot_id=slot_id))


# --- the link inside the QR code ----------------------------------------------------------------

@blp.route("/check-in/<int:activity_id>")
@login_required
def scan(activity_id):
    """Where the phone's camera or WeChat's scanner lands: one tap to check in or out."""
    activity = services.get_activity(activity_id)
    volunteer = current_user.volunteer
    assignment = tasks.assignment_of_volunteer(activity, volunteer)
    if activity.need_id is not None and assignment is None:
        return render_template("records/scan.html", activity=activity, assignment=None,
                               form=None, checked_in=False), 404
    form = TokenForm(formdata=None, data={"token": request.args.get("t", "")})
    checked_in = volunteer is not None and \
        services.open_record_of(activity, volunteer) is not None
    return render_template("records/scan.html", activity=activity, assignment=assignment,
                           form=form, checked_in=checked_in)


@blp.route("/check-in/<int:activity_id>", methods=["POST"])
@login_required
@limiter.limit(check_in_limit, key_func=check_in_limit_key)
def scan_check(activity_id):
    """Check in (or out, when already in) with the scanned token."""
    activity = services.get_activity(activity_id)
    volunteer = current_user.volunteer
    if volunteer is None:
        raise NotFound()
    assignment = tasks.assignment_of_volunteer(activity, volunteer)
    if activity.need_id is not None and assignment is None:
        raise NotFound()  # a need's occurrence is checked in to only by its own volunteers
    form = TokenForm()
    proof = {"token": form.token.data if form.validate_on_submit() else ""}
    checking_out = services.open_record_of(activity, volunteer) is not None
    try:
        with transaction():
            _check_by_qr(activity, assignment, volunteer, proof, checking_out)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(str(error.message), "error")
        return render_template("records/scan.html", activity=activity, assignment=assignment,
                               form=None, checked_in=checking_out), error.status
    flash(gettext("Checked out. Your hours wait for the organizer's check.") if checking_out
          else gettext("Checked in. Thank you for coming!"), "success")
    if assignment is not None:
        return redirect(url_for("matching.task_detail", assignment_id=assignment.id))
    return redirect(url_for("timebank.my_hours"))


def _check_by_qr(activity, assignment, volunteer, proof: dict, checking_out: bool):
    if assignment is not None:
        verb = tasks.check_out_task if checking_out else tasks.check_in_task
        return verb(assignment, "qr", proof, by=current_user)
    verb = services.check_out if checking_out else services.check_in
    return verb(activity, volunteer, "qr", proof, by=current_user)
