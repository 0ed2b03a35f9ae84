"""Pages: run matching and review proposals (organizers); tasks and open needs (volunteers)."""
from __future__ import annotations

from flask import (
    Blueprint, abort, flash, make_response, redirect, render_template, request, url_for,
)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from volunteer_hub.accounts.forms import attach_errors
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import limiter
from volunteer_hub.matching.models import ASSIGNMENT_STATE_LABELS
from volunteer_hub.matching import services
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.forms import (
    MatchingPreferenceForm, MatchingRunForm, ReasonForm, ReplaceVolunteerForm, SignupForm,
)
from volunteer_hub.needs.catalogue import BENEFICIARY_CATEGORIES, NEED_TYPES
from volunteer_hub.needs.views import org_choices
from volunteer_hub.orgs.models import Org
from volunteer_hub.records.limits import check_in_limit, check_in_limit_key

blp = Blueprint("matching", __name__, template_folder="templates")

ASSIGNMENT_STATES = ASSIGNMENT_STATE_LABELS
UNFILLED_REASONS = {
    "no_volunteers": _l("no volunteers in this area"),
    "none_within_distance": _l("nobody within the travel distance"),
    "none_active": _l("nobody active"),
    "missing_skill": _l("nobody with the skill"),
    "missing_certification": _l("nobody with a valid certification"),
    "gender_mismatch": _l("nobody of the same gender"),
    "adults_only": _l("no adult"),
    "background_check": _l("nobody with a background check"),
    "not_available_weekly": _l("nobody available at that time"),
    "unavailable_that_day": _l("nobody available that day"),
    "busy": _l("everyone suitable is busy"),
    "candidates_taken": _l("suitable volunteers took other places"),
}


@blp.app_context_processor
def inject_matching_labels():
    return {"ASSIGNMENT_STATES": ASSIGNMENT_STATES, "UNFILLED_REASONS": UNFILLED_REASONS}


def _back(default: str):
    target = request.form.get("next") or ""
    return redirect(target if target.startswith("/") and not target.startswith("//")
                    else default)


def _act(action, assignment_id: int, success: str, default_url: str, **kwargs):
    """Run one assignment verb in a transaction; show a domain error as a message."""
    try:
        with transaction():
            assignment = services.get_assignment(assignment_id, by=current_user)
            action(assignment, by=current_user, **kwargs)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "error")
    else:
        flash(success, "success")
    return _back(default_url)


# --- organizers -----------------------------------------------------------------------------

@blp.route("/org/matching", methods=["GET", "POST"])
@role_required
def run_form():
    """Run matching for an org's subtree and a date range; recent runs below."""
    form = MatchingRunForm()
    form.org_id.choices = org_choices()
    if request.method == "GET":
        from volunteer_hub.matching.why_not import default_window

        form.start.data, form.end.data = default_window(current_user, today=needs.local_today())
    if form.validate_on_submit():
        org = db.session.get(Org, int(form.org_id.data))
        try:
            with transaction():
                run = services.run_matching(org, form.start.data, form.end.data,
                                            by=current_user)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_errors(form, error)
        else:
            flash(gettext("%(filled)d of %(slots)d places have a proposal.",
                          filled=run.stats["filled"], slots=run.stats["slots"]), "success")
            return redirect(url_for("matching.run_detail", run_id=run.id))
    runs = db.session.execute(services.search_runs(current_user).limit(20)).scalars().all()
    status = 422 if request.method == "POST" else 200
    return render_template("matching/run_form.html", form=form, runs=runs), status


@blp.route("/org/matching/runs/<int:run_id>")
@role_required
def run_detail(run_id):
    """The run's proposals with their explanations, and why places stayed empty."""
    run = services.get_run(run_id, by=current_user)
    slots = {}
    if run.stats.get("unfilled"):
        from volunteer_hub.needs.models import NeedSlot

        ids = [u["slot_id"] for u in run.stats["unfilled"]]
        slots = {s.id: s for s in db.session.execute(
            db.select(NeedSlot).where(NeedSlot.id.in_(ids))).scalars()}
    return render_template("matching/run_detail.html", run=run, unfilled_slots=slots,
                           replace_form=ReplaceVolunteerForm(formdata=None))


@blp.route("/org/assignments/<int:assignment_id>/confirm", methods=["POST"])
@role_required
def org_confirm(assignment_id):
    return _act(services.confirm_assignment, assignment_id,
                gettext("Confirmed: the volunteer has been asked."), request.referrer or "/")


@blp.route("/org/assignments/<int:assignment_id>/cancel", methods=["POST"])
@role_required
def org_cancel(assignment_id):
    return _act(services.cancel_assignment, assignment_id,
                gettext("Removed. The place is matched again."), request.referrer or "/")


@blp.route("/org/assignments/<int:assignment_id>/replace", methods=["POST"])
@role_required
def org_replace(assignment_id):
    form = ReplaceVolunteerForm()
    if not form.validate_on_submit() or not (form.volunteer_id.data or form.person.data):
        flash(gettext("Enter a volunteer."), "error")
        return _back(request.referrer or "/")
    chosen = ({"volunteer_id": form.volunteer_id.data} if form.volunteer_id.data
              else {"person": form.person.data})
    return _act(services.replace_volunteer, assignment_id,
                gettext("The proposal now names another volunteer."),
                request.referrer or "/", **chosen)


@blp.route("/org/matching/slots/<int:slot_id>/why-not")
@role_required
def why_not_page(slot_id):
    """Why was this person not proposed for this place? (name, volunteer code or phone)"""
    from volunteer_hub.accounts.permissions import can
    from volunteer_hub.matching import why_not
    from volunteer_hub.needs.models import NeedSlot

    slot = db.session.get(NeedSlot, slot_id)
    if slot is None:
        abort(404)
    person = (request.args.get("person") or "").strip()
    answer, error = None, None
    if person:
        try:
            answer = why_not.why_not(slot_id, person, by=current_user)
        except DomainError as failure:
            if failure.status in (403, 404):
                raise
            error = failure.message
    elif not can(current_user, "needs.read", slot.need.org):
        abort(404)
    status = 422 if error else 200
    return render_template("matching/why_not.html", slot=slot, person=person, answer=answer,
                           error=error), status


# --- volunteers -----------------------------------------------------------------------------

def _me():
    if current_user.volunteer is None:
        abort(404)
    return current_user.volunteer


@blp.route("/me/tasks")
@login_required
def my_tasks():
    from volunteer_hub.records.tasks import current_stages

    from volunteer_hub.needs.models import NeedSlot

    # my_assignments lists today's and coming tasks first (soonest first), then the latest
    # past ones; at most 100 of the first and 50 of the second.
    since = services.tasks_current_since()
    query = services.my_assignments(_me())
    tasks = db.session.execute(query.where(NeedSlot.end >= since).limit(100)).scalars().all()
    tasks += db.session.execute(query.where(NeedSlot.end < since).limit(50)).scalars().all()
    return render_template("matching/my_tasks.html", tasks=tasks,
                           stages=current_stages(tasks))


@blp.route("/me/tasks/<int:assignment_id>")
@login_required
def task_detail(assignment_id):
    """One task: what it is, check-in and check-out, and the person only as far as the
    accepted task needs (the read is logged)."""
    return _task_page(_my_assignment(assignment_id))


def _my_assignment(assignment_id: int):
    volunteer = _me()
    assignment = services.get_assignment(assignment_id, by=current_user)
    if assignment.volunteer_id != volunteer.id:
        raise NotFound()
    return assignment


def _task_page(assignment, status: int = 200, **forms):
    """The task page; before acceptance only the type, time, community and a distance band
    (issue 13), after it what the task needs until the slot ends plus the grace period."""
    from volunteer_hub.matching.distance_bands import band_to
    from volunteer_hub.records import forms as record_forms
    from volunteer_hub.records import tasks

    need = assignment.need
    accepted = assignment.state == "accepted"
    person = None
    if accepted and need.beneficiary is not None:
        with transaction():
            person = needs.beneficiary_view(need.beneficiary, by=current_user,
                                            purpose=f"assignment:{assignment.id}")
    volunteer = assignment.volunteer
    explanation = assignment.explanation if accepted or not assignment.explanation else {
        **assignment.explanation, "distance_km": None}  # the band stands for it
    forms = {"code_form": record_forms.CodeForm(formdata=None),
             "location_form": record_forms.LocationForm(formdata=None),
             "claim_form": record_forms.ClaimForm(formdata=None), **forms}
    response = make_response(render_template(
        "matching/task_detail.html", a=assignment, need=need, person=person,
        accepted=accepted, band=band_to(need, volunteer.lat, volunteer.lon),
        explanation=explanation, day=tasks.task_day(assignment) if accepted else None,
        reason_form=ReasonForm(formdata=None), **forms), status)
    if person and person.get("access") == "task":
        # The copy the service worker keeps for offline use is not shown after this moment.
        until = tasks.local_to_utc(tasks.task_window_end(assignment.slot))
        response.headers["X-Personal-Until"] = until.strftime("%Y-%m-%dT%H:%M:%SZ")
    return response


CHECK_VERBS = {"check-in": "check_in_task", "check-out": "check_out_task"}
CHECK_METHODS = ("code", "geofence")


@blp.route("/me/tasks/<int:assignment_id>/<verb>/<method>", methods=["POST"])
@login_required
# A 6-digit code must not be guessable by trying (the API's limit, per client).
@limiter.limit(check_in_limit, key_func=check_in_limit_key)
def task_check(assignment_id, verb, method):
    """签到 / 签退 by the door's 6-digit code or by the phone's position (pass/fail only)."""
    from volunteer_hub.records import forms as record_forms
    from volunteer_hub.records import tasks

    if verb not in CHECK_VERBS or method not in CHECK_METHODS:
        abort(404)
    assignment = _my_assignment(assignment_id)
    form = record_forms.CodeForm() if method == "code" else record_forms.LocationForm()
    form_name = "code_form" if method == "code" else "location_form"
    if not form.validate_on_submit():
        return _task_page(assignment, 422, **{form_name: form})
    proof = {"code": form.code.data} if method == "code" else \
        {"lat": form.lat.data, "lon": form.lon.data}
    try:
        with transaction():
            getattr(tasks, CHECK_VERBS[verb])(assignment, method, proof, by=current_user)
    except DomainError as error:
        if error.status == 404:
            raise
        attach_errors(form, error, aliases={"lat": None, "method": None})
        return _task_page(assignment, error.status, **{form_name: form})
    flash(gettext("Checked in. Thank you for coming!") if verb == "check-in"
          else gettext("Checked out. Your hours wait for the organizer's check."), "success")
    return redirect(url_for("matching.task_detail", assignment_id=assignment.id))


@blp.route("/me/tasks/<int:assignment_id>/claim", methods=["POST"])
@login_required
def task_claim(assignment_id):
    """Claim a missed check-in or check-out (or the hours) with a reason."""
    from volunteer_hub.records import forms as record_forms
    from volunteer_hub.records import tasks

    assignment = _my_assignment(assignment_id)
    form = record_forms.ClaimForm()
    if not form.validate_on_submit():
        return _task_page(assignment, 422, claim_form=form)
    try:
        with transaction():
            tasks.claim_hours(assignment, {"check_in_at": form.check_in_at.data,
                                           "check_out_at": form.check_out_at.data,
                                           "reason": form.reason.data}, by=current_user)
    except DomainError as error:
        if error.status == 404:
            raise
        attach_errors(form, error, aliases={"minutes": "check_out_at"})
        return _task_page(assignment, error.status, claim_form=form)
    flash(gettext("Your claim was sent to the organizer."), "success")
    return redirect(url_for("matching.task_detail", assignment_id=assignment.id))


@blp.route("/me/tasks/<int:assignment_id>/<verb>", methods=["POST"])
@login_required
def task_answer(assignment_id, verb):
    actions = {"accept": (services.accept_assignment, gettext("Thank you: you accepted.")),
               "decline": (services.decline_assignment, gettext("You declined this task.")),
               "cancel": (services.cancel_assignment, gettext("You withdrew from this task."))}
    if verb not in actions:
        abort(404)
    action, message = actions[verb]
    extra = {}
    if verb != "accept":
        form = ReasonForm()
        form.validate_on_submit()
        extra["reason"] = form.reason.data
    return _act(action, assignment_id, message,
                url_for("matching.task_detail", assignment_id=assignment_id), **extra)


@blp.route("/me/open-needs")
@login_required
def open_needs():
    """Needs I could take, nearest first."""
    volunteer = _me()
    skill = request.args.get("skill") or None
    entries = services.open_needs_for(volunteer, skill=skill)
    return render_template("matching/open_needs.html", entries=entries, skill=skill,
                           form=SignupForm(formdata=None))


@blp.route("/me/open-needs/<int:need_id>/signup", methods=["POST"])
@login_required
def signup(need_id):
    volunteer = _me()
    form = SignupForm()
    form.validate_on_submit()
    try:
        with transaction():
            need = needs.get_need(need_id, by=current_user)
            assignment = services.sign_up(need, volunteer, accept_risk=form.accept_risk.data,
                                          by=current_user)
    except DomainError as error:
        if error.status == 404:
            raise
        flash(error.message, "error")
        return redirect(url_for("matching.open_needs"))
    if assignment.state == "pending_approval":
        flash(gettext("Signed up: the organizer will approve it."), "success")
    else:
        flash(gettext("Signed up. Thank you!"), "success")
    return redirect(url_for("matching.task_detail", assignment_id=assignment.id))


# --- the volunteer's matching preferences -----------------------------------------------------

WEEKDAYS = (_l("Monday"), _l("Tuesday"), _l("Wednesday"), _l("Thursday"), _l("Friday"),
            _l("Saturday"), _l("Sunday"))
DAY_PART_LABELS = {"morning": _l("Morning (before 12:00)"),
                   "afternoon": _l("Afternoon (12:00-18:00)"),
                   "evening": _l("Evening (after 18:00)")}
PREFERENCE_MISSES = {"need_type": _l("not a kind of task they like"),
                     "weekday": _l("not on a day they prefer"),
                     "day_part": _l("not at a time they prefer"),
                     "category": _l("not the people they would like to help")}


@blp.app_context_processor
def inject_preference_labels():
    return {"PREFERENCE_MISSES": PREFERENCE_MISSES}


def _preference_form(pref, formdata=None) -> MatchingPreferenceForm:
    form = MatchingPreferenceForm(formdata=formdata, data=None if formdata else {
        "need_types": pref.need_types, "max_travel_km": pref.max_travel_km,
        "weekdays": [str(d) for d in pref.weekdays], "day_parts": pref.day_parts,
        "categories": pref.categories})
    form.need_types.choices = [(k, v) for k, v in NEED_TYPES.items() if k != "custom"]
    form.weekdays.choices = [(str(i), label) for i, label in enumerate(WEEKDAYS)]
    form.day_parts.choices = list(DAY_PART_LABELS.items())
    form.categories.choices = list(BENEFICIARY_CATEGORIES.items())
    return form


@blp.route("/me/preferences", methods=["GET", "POST"])
@login_required
def my_preferences():
    """What tasks I like and how far I travel; matching honours them."""
    volunteer = _me()
    pref = services.get_preferences(volunteer)
    if request.method == "GET":
        return render_template("matching/preferences.html", form=_preference_form(pref))
    form = _preference_form(pref, formdata=request.form)
    if form.validate_on_submit():
        data = {"need_types": form.need_types.data, "max_travel_km": form.max_travel_km.data,
                "weekdays": [int(d) for d in form.weekdays.data],
                "day_parts": form.day_parts.data, "categories": form.categories.data}
        try:
            with transaction():
                services.update_preferences(volunteer, data, by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Your preferences are saved."), "success")
            return redirect(url_for("matching.my_preferences"))
    return render_template("matching/preferences.html", form=form), 422
