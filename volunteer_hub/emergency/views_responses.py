"""Pages of responders and of the roll call: the one-tap answer page (no login), "My alerts",
arrival by QR, the coordinator's roll call and the well-being roll call. Routes attach to the
emergency pages blueprint (views.py imports this)."""
from __future__ import annotations

import base64
import io

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from volunteer_hub.accounts.permissions import can
from volunteer_hub.db import db, transaction
from volunteer_hub.emergency import assignment, responses, rollcall, wellbeing
from volunteer_hub.emergency.activation import get_activation
from volunteer_hub.emergency.models import LEVELS, WELLBEING_STATUSES, WellbeingCheck
from volunteer_hub.emergency.views import blp
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.web.i18n import speak_to

ETA_CHOICES = (10, 20, 30, 45, 60, 90)


def _answer_from_form() -> tuple[str, int | None]:
    """The answer and ETA of a submitted answer form: a tapped ETA button means coming."""
    if request.form.get("coming_eta"):
        answer, raw = "coming", request.form["coming_eta"]
    else:
        answer, raw = request.form.get("answer", ""), request.form.get("eta_custom", "")
    raw = raw.strip()
    eta = int(raw) if raw.isdecimal() else (None if not raw else -1)
    return answer, eta


def _flash_answer(responder) -> None:
    if responder.answer == "coming":
        flash(gettext("Thank you: you are coming, there in %(eta)d minutes.",
                      eta=responder.eta_minutes), "success")
    else:
        flash(gettext("Thank you: you cannot come. You can change this while the call-out "
                      "lasts."), "success")


def _page_context(responder) -> dict:
    return {"responder": responder, "activation": responder.activation,
            "point": assignment.point_of(responder.activation, responder.assembly_point)
            if responder.role_id else None,
            "level_label": lambda level: str(LEVELS.get(level, level)),
            "eta_choices": ETA_CHOICES}


# --- one-tap page ----------------------------------------------------------------------------

@blp.route("/respond/<token>", methods=["GET"])
def respond(token):
    """The call-out and the two big buttons; no login needed."""
    responder = responses.responder_from_token(token)
    speak_to(responder.volunteer.user.locale)
    return render_template("emergency/respond_page.html", token=token,
                           **_page_context(responder))


@blp.route("/respond/<token>", methods=["POST"])
def respond_answer(token):
    """Answer through the link (the form carries the session's CSRF token)."""
    answer, eta = _answer_from_form()
    try:
        with transaction():
            responder = responses.answer_by_token(token, answer, eta, channel="link")
        speak_to(responses.locale_of(responder.user_id))
        _flash_answer(responder)
    except DomainError as error:
        if error.status != 422:
            raise
        flash(str(error.message), "error")
    return redirect(url_for("emergency.respond", token=token))


# --- my alerts ---------------------------------------------------------------------------------

@blp.route("/alerts")
@login_required
def my_alerts():
    """The volunteer's call-outs: answer, role and assembly point, roll call, checks."""
    items = db.session.execute(responses.my_responders(current_user).limit(20)) \
        .unique().scalars().all()
    contexts = [_page_context(r) for r in items]
    return render_template("emergency/alerts_list.html", items=contexts,
                           checks=wellbeing.my_checks(current_user),
                           WELLBEING_STATUSES=WELLBEING_STATUSES)


@blp.route("/alerts/<int:responder_id>/answer", methods=["POST"])
@login_required
def my_alert_answer(responder_id):
    answer, eta = _answer_from_form()
    try:
        with transaction():
            responder = responses.get_my_responder(responder_id, by=current_user)
            responses.answer(responder, answer, eta, channel="app")
            _flash_answer(responder)
    except DomainError as error:
        if error.status not in (409, 422):
            raise
        flash(str(error.message), "error")
    return redirect(url_for("emergency.my_alerts"))


@blp.route("/alerts/<int:responder_id>/<any('check-out', 'safe'):action>", methods=["POST"])
@login_required
def my_alert_rollcall(responder_id, action):
    """The volunteer checks out or says they are safe."""
    try:
        with transaction():
            responder = responses.get_my_responder(responder_id, by=current_user)
            if action == "check-out":
                rollcall.check_out(responder, by=current_user)
                flash(gettext("You are checked out. Thank you."), "success")
            else:
                rollcall.confirm_safe(responder, by=current_user)
                flash(gettext("Thank you: you are recorded as safe."), "success")
    except DomainError as error:
        if error.status != 409:
            raise
        flash(str(error.message), "error")
    return redirect(url_for("emergency.my_alerts"))


# --- arrival by QR -----------------------------------------------------------------------------

@blp.route("/activations/<int:activation_id>/arrive", methods=["GET"])
@login_required
def arrive(activation_id):
    """After scanning: confirm the arrival with one button (a GET changes nothing)."""
    activation = rollcall.get_activation(activation_id)
    responder = rollcall.own_responder(activation, current_user)
    return render_template("emergency/rollcall_arrive.html", activation=activation,
                           responder=responder, token=request.args.get("t", ""))


@blp.route("/activations/<int:activation_id>/arrive", methods=["POST"])
@login_required
def arrive_confirm(activation_id):
    try:
        with transaction():
            activation = rollcall.get_activation(activation_id)
            rollcall.arrive_by_qr(activation, request.form.get("t", ""), by=current_user)
        flash(gettext("Your arrival is recorded. Report to the coordinator."), "success")
    except DomainError as error:
        if error.status not in (409, 422):
            raise
        flash(str(error.message), "error")
    return redirect(url_for("emergency.my_alerts"))


# --- coordinator's roll call -------------------------------------------------------------------

def _qr_data_uri(url: str) -> str:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=2)
    qr.add_data(url)
    qr.make(fit=True)
    buffer = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@blp.route("/activations/<int:activation_id>/rollcall")
@login_required
def rollcall_page(activation_id):
    """The QR code to scan on arrival, who is coming and where they are, who is missing."""
    activation = get_activation(activation_id, by=current_user)
    people = rollcall.roll_call(activation, by=current_user)
    may_act = can(current_user, "emergency.activate", activation.org)
    qr = None
    if may_act and activation.status == "active":
        token = rollcall.arrival_token(activation, by=current_user)
        qr = _qr_data_uri(rollcall.arrival_url(activation, token))
    return render_template("emergency/rollcall_page.html", activation=activation,
                           people=people, unaccounted=rollcall.unaccounted(activation),
                           qr=qr, may_act=may_act, point_of=assignment.point_of)


@blp.route("/activations/<int:activation_id>/rollcall/<int:responder_id>/"
           "<any('arrived', 'check-out', 'safe', 'unassign'):action>", methods=["POST"])
@login_required
def rollcall_action(activation_id, responder_id, action):
    try:
        with transaction():
            activation = get_activation(activation_id, by=current_user)
            responder = rollcall.responder_in(activation, responder_id)
            name = responder.volunteer.real_name
            if action == "arrived":
                rollcall.mark_arrived(activation, responder.id, by=current_user)
            elif action == "check-out":
                rollcall.check_out(responder, by=current_user)
            elif action == "safe":
                rollcall.confirm_safe(responder, by=current_user)
            else:
                assignment.unassign_by_hand(activation, responder.id, by=current_user)
        flash(ROLLCALL_DONE[action] % {"name": name}, "success")
    except DomainError as error:
        if error.status not in (403, 409, 422):
            raise
        flash(str(error.message), "error")
    return _back_to_rollcall(activation_id, responder_id)


# What each roll-call button did, said back to the coordinator who tapped it.
ROLLCALL_DONE = {
    "arrived": _l("%(name)s is marked as arrived."),
    "check-out": _l("%(name)s is checked out."),
    "safe": _l("%(name)s is confirmed safe."),
    "unassign": _l("%(name)s is taken out of their role."),
}


def _back_to_rollcall(activation_id: int, responder_id: int | None = None):
    """The roll call again, scrolled to the person just handled."""
    anchor = f"responder-{responder_id}" if responder_id else None
    return redirect(url_for("emergency.rollcall_page", activation_id=activation_id,
                            _anchor=anchor))


@blp.route("/activations/<int:activation_id>/rollcall/<int:responder_id>/role",
           methods=["POST"])
@login_required
def rollcall_assign(activation_id, responder_id):
    """The coordinator puts a coming responder in a role by hand."""
    raw = request.form.get("role_id", "")
    try:
        with transaction():
            activation = get_activation(activation_id, by=current_user)
            responder = assignment.assign_by_hand(
                activation, responder_id, int(raw) if raw.isdecimal() else 0, by=current_user)
            role = responder.role
            flash(gettext("%(name)s now has the role %(role)s.",
                          name=responder.volunteer.real_name,
                          role=role.label_en if str(get_locale()) == "en" else role.label_zh),
                  "success")
    except DomainError as error:
        if error.status not in (403, 409, 422):
            raise
        flash(str(error.message), "error")
    return _back_to_rollcall(activation_id, responder_id)


@blp.route("/activations/<int:activation_id>/rollcall/replan", methods=["POST"])
@login_required
def rollcall_replan(activation_id):
    """Re-plan now: seat everyone coming in the open seats."""
    with transaction():
        activation = get_activation(activation_id, by=current_user)
        changes = assignment.replan(activation, by=current_user)
    flash(gettext("%(num)d responders given a role.", num=len(changes)), "success")
    return redirect(url_for("emergency.rollcall_page", activation_id=activation_id))


# --- well-being roll call ----------------------------------------------------------------------

@blp.route("/activations/<int:activation_id>/wellbeing")
@login_required
def wellbeing_page(activation_id):
    """Staff: every check, its status and who makes it."""
    activation = get_activation(activation_id, by=current_user)
    if not can(current_user, "emergency.wellbeing", activation.org):
        abort(404)
    checks = db.session.execute(wellbeing.checks_query(activation, by=current_user)) \
        .unique().scalars().all()
    responders = [r for r in rollcall.roll_call(activation, by=current_user)
                  if r.answer == "coming"]
    return render_template("emergency/wellbeing_list.html", activation=activation,
                           checks=checks, counts=wellbeing.counts(activation),
                           responders={r.id: r for r in responders},
                           WELLBEING_STATUSES=WELLBEING_STATUSES)


@blp.route("/activations/<int:activation_id>/wellbeing", methods=["POST"])
@login_required
def wellbeing_start(activation_id):
    with transaction():
        activation = get_activation(activation_id, by=current_user)
        created = wellbeing.start(activation, by=current_user)
    flash(gettext("%(num)d people to check on were added.", num=len(created)), "success")
    return redirect(url_for("emergency.wellbeing_page", activation_id=activation_id))


@blp.route("/wellbeing/<int:check_id>/responder", methods=["POST"])
@login_required
def wellbeing_reassign(check_id):
    raw = request.form.get("responder_id", "")
    with transaction():
        check = _check(check_id)
        wellbeing.reassign(check, int(raw) if raw.isdecimal() else None, by=current_user)
        activation_id = check.activation_id
    return redirect(url_for("emergency.wellbeing_page", activation_id=activation_id))


def _check(check_id: int) -> WellbeingCheck:
    check = db.session.get(WellbeingCheck, check_id)
    if check is None:
        raise NotFound()
    return check


@blp.route("/wellbeing/<int:check_id>")
@login_required
def wellbeing_check(check_id):
    """How to reach one person and the form to record the outcome (the read is logged)."""
    with transaction():
        view = wellbeing.contact_view(_check(check_id), by=current_user)
    return render_template("emergency/wellbeing_check.html", view=view,
                           WELLBEING_STATUSES=WELLBEING_STATUSES)


@blp.route("/wellbeing/<int:check_id>", methods=["POST"])
@login_required
def wellbeing_record(check_id):
    try:
        with transaction():
            check = wellbeing.record(_check(check_id), request.form.get("status", ""),
                                     request.form.get("note", ""), by=current_user)
            staff = can(current_user, "emergency.wellbeing",
                        get_activation(check.activation_id, by=None).org)
            activation_id = check.activation_id
    except DomainError as error:
        if error.status != 422:
            raise
        flash(str(error.message), "error")
        return redirect(url_for("emergency.wellbeing_check", check_id=check_id))
    flash(gettext("Recorded."), "success")
    if staff:
        return redirect(url_for("emergency.wellbeing_page", activation_id=activation_id))
    return redirect(url_for("emergency.my_alerts"))
