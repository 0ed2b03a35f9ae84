"""Pages: organizers' needs and beneficiaries; everyone's inbox."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_login import current_user, login_required

from volunteer_hub.accounts.forms import attach_errors, opts
from volunteer_hub.accounts.permissions import can, path_filter, scope_paths
from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.needs import catalogue, services
from volunteer_hub.needs.forms import BeneficiaryForm, CancelNeedForm, NeedForm
from volunteer_hub.notify import fanout
from volunteer_hub.orgs.models import Org

blp = Blueprint("needs", __name__, template_folder="templates")

PAGE_SIZE = 20


@blp.app_context_processor
def inject_needs_catalogue():
    return {"NEED_TYPES": catalogue.NEED_TYPES, "NEED_STATES": catalogue.NEED_STATES,
            "PRIORITIES": catalogue.PRIORITIES, "SLOT_STATUSES": catalogue.SLOT_STATUSES,
            "BENEFICIARY_CATEGORIES": catalogue.BENEFICIARY_CATEGORIES,
            "FIELD_LABELS": catalogue.FIELD_LABELS}


def _locale() -> str:
    return str(get_locale())


def managed_orgs(permission: str = "needs.manage", *, levels=None) -> list[Org]:
    """Org nodes in the caller's scope, in tree order."""
    query = db.select(Org).where(path_filter(Org.path, scope_paths(current_user, permission)))
    if levels:
        query = query.where(Org.level.in_(levels))
    return db.session.execute(query.order_by(Org.path)).scalars().all()


def org_choices(permission: str = "needs.manage", levels=None):
    locale = _locale()
    return opts([(o.id, ("· " * max(0, len(o.ancestor_ids()) - 1)) + o.name(locale))
                 for o in managed_orgs(permission, levels=levels)])


def _status(form) -> int:
    return 422 if request.method == "POST" and (form.errors or form.form_errors) else 200


# --- needs ----------------------------------------------------------------------------------

@blp.route("/org/needs")
@role_required
def need_list():
    """Needs in the caller's scope, soonest first, 20 a page."""
    state = request.args.get("state") or None
    if state not in catalogue.NEED_STATES:
        state = None
    query = services.search_needs(current_user, state=state)
    pagination = db.paginate(query, page=max(request.args.get("page", 1, type=int), 1),
                             per_page=PAGE_SIZE, error_out=False)
    return render_template("needs/need_list.html", pagination=pagination, state=state)


@blp.route("/org/needs/new", methods=["GET", "POST"])
@role_required
def need_new():
    form = NeedForm()
    form.org_id.choices = org_choices()
    beneficiaries = db.session.execute(services.search_beneficiaries(current_user)).scalars()
    form.beneficiary_id.choices = opts([("", gettext("The community"))] + [
        (b.id, f"{b.name_masked} · {catalogue.BENEFICIARY_CATEGORIES[b.category]} · "
               f"{b.community.name(_locale())}") for b in beneficiaries])
    if form.validate_on_submit():
        try:
            with transaction():
                need = services.create_need(form.data_for_service(), by=current_user)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_errors(form, error, {"required_skills": "skill",
                                        "required_certifications": "certification",
                                        "start_minute": "start", "end_minute": "end"})
        else:
            flash(gettext("The need is saved."), "success")
            return redirect(url_for("needs.need_detail", need_id=need.id))
    return render_template("needs/need_form.html", form=form), _status(form)


@blp.route("/org/needs/<int:need_id>")
@role_required
def need_detail(need_id):
    """One need with its slots and who is on each."""
    from volunteer_hub.matching.services import search_assignments

    need = services.get_need(need_id, by=current_user)
    if not can(current_user, "needs.read", need.org):
        raise NotFound()
    assignments = db.session.execute(
        search_assignments(current_user, need_id=need.id)).scalars().all()
    by_slot: dict[int, list] = {}
    for assignment in assignments:
        by_slot.setdefault(assignment.slot_id, []).append(assignment)
    return render_template("needs/need_detail.html", need=need, by_slot=by_slot,
                           manage=can(current_user, "needs.manage", need.org),
                           cancel_form=CancelNeedForm(formdata=None))


@blp.route("/org/needs/<int:need_id>/state/<state>", methods=["POST"])
@role_required
def need_state(need_id, state):
    need = services.get_need(need_id, by=current_user)
    reason = None
    if state == "cancelled":
        form = CancelNeedForm()
        reason = form.reason.data if form.validate_on_submit() else None
    try:
        with transaction():
            services.set_need_state(need, state, reason=reason, by=current_user)
    except DomainError as error:
        if error.status in (403, 404):
            raise
        flash(error.message, "error")
    else:
        flash(gettext("The need is now: %(state)s.",
                      state=catalogue.NEED_STATES[need.state]), "success")
    return redirect(url_for("needs.need_detail", need_id=need.id))


# --- beneficiaries --------------------------------------------------------------------------

@blp.route("/org/beneficiaries")
@role_required
def beneficiary_list():
    query = services.search_beneficiaries(current_user)
    pagination = db.paginate(query, page=max(request.args.get("page", 1, type=int), 1),
                             per_page=PAGE_SIZE, error_out=False)
    return render_template("needs/beneficiary_list.html", pagination=pagination)


@blp.route("/org/beneficiaries/new", methods=["GET", "POST"])
@role_required
def beneficiary_new():
    form = BeneficiaryForm()
    form.community_id.choices = org_choices("beneficiaries.manage", levels=("community",))
    if form.validate_on_submit():
        try:
            with transaction():
                beneficiary = services.create_beneficiary(form.data_for_service(),
                                                          by=current_user)
        except DomainError as error:
            if error.status in (403, 404):
                raise
            attach_errors(form, error, {"guardian": "guardian_name"})
        else:
            flash(gettext("The person is recorded."), "success")
            return redirect(url_for("needs.beneficiary_detail", beneficiary_id=beneficiary.id))
    return render_template("needs/beneficiary_form.html", form=form), _status(form)


@blp.route("/org/beneficiaries/<int:beneficiary_id>")
@role_required
def beneficiary_detail(beneficiary_id):
    """The full record (this read is logged) and who read it before."""
    beneficiary = services.get_beneficiary(beneficiary_id)
    with transaction():
        view = services.beneficiary_view(beneficiary, by=current_user, purpose="page")
    log = []
    if view["access"] == "full":
        log = db.session.execute(services.access_log(beneficiary, by=current_user)
                                 .limit(50)).scalars().all()
    return render_template("needs/beneficiary_detail.html", b=beneficiary, view=view, log=log)


# --- inbox ----------------------------------------------------------------------------------

@blp.route("/me/inbox")
@login_required
def inbox():
    notes = fanout.filled(
        db.session.execute(services.inbox(current_user).limit(100)).scalars().all(),
        reader_locale=_locale())
    return render_template("needs/inbox.html", notes=notes)


@blp.route("/me/inbox/<int:notification_id>/read", methods=["POST"])
@login_required
def inbox_read(notification_id):
    with transaction():
        note = services.mark_read(notification_id, by=current_user)
    if note.link and note.link.startswith("/") and not note.link.startswith("//"):
        return redirect(note.link)
    return redirect(url_for("needs.inbox"))
