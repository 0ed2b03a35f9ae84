"""Pages: download my data, close my account, accept changed consent texts, the access
log and retention runs for admins."""
from __future__ import annotations

import json

from flask import (Blueprint, Response, abort, current_app, flash, redirect, render_template,
                   request, session, url_for)
from flask_babel import get_locale, gettext
from flask_login import current_user, login_required, logout_user

from volunteer_hub.accounts.forms import attach_errors
from volunteer_hub.accounts.permissions import scope_paths
from volunteer_hub.accounts.views import home_url, role_required, safe_next
from volunteer_hub.db import transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import limiter
from volunteer_hub.privacy import closure, consents, retention, services
from volunteer_hub.privacy.forms import CloseAccountForm, ConsentForm

blp = Blueprint("privacy", __name__, template_folder="templates")

CONSENT_PENDING = "consent_pending"  # session flag set at login while a text waits
# What a person with a pending consent may still open: the question itself, leaving, the
# language switch, the files every page needs, and (as the API allows) taking their data
# or closing the account, which a person who does not agree must still be able to do.
OPEN_WHILE_PENDING = frozenset({"privacy.consent", "accounts.logout", "static",
                                "privacy.my_privacy", "privacy.data_export",
                                "privacy.close_account",
                                "web.switch_language", "notify.service_worker",
                                "notify.manifest", "web.offline"})


def ask_after_login(user, next_url: str | None):
    """The page to go to after login: the consent question when a text changed."""
    if not consents.pending_kinds(user):
        session.pop(CONSENT_PENDING, None)
        return None
    session[CONSENT_PENDING] = True
    return url_for("privacy.consent", next=safe_next(next_url))


@blp.before_app_request
def hold_until_consent():
    if not session.get(CONSENT_PENDING) or request.endpoint in OPEN_WHILE_PENDING:
        return None
    if request.path.startswith("/api/"):
        return None  # the API asks with 403 CONSENT_REQUIRED (accounts.auth)
    if not current_user.is_authenticated:
        session.pop(CONSENT_PENDING, None)
        return None
    return redirect(url_for("privacy.consent", next=safe_next(request.full_path)))


def _export_limit_key() -> str:
    return f"data-export:user:{current_user.get_id()}"


def _shown_versions(pending) -> str:
    return ";".join(f"{item.kind}={item.version}" for item in pending)


@blp.route("/account/consent", methods=["GET", "POST"])
@login_required
def consent():
    """The texts that changed since the person agreed; nothing else opens until accepted."""
    pending = consents.pending_texts(current_user, str(get_locale()))
    next_url = safe_next(request.args.get("next"))
    if not pending:
        session.pop(CONSENT_PENDING, None)
        return redirect(next_url or home_url())
    form = ConsentForm()
    if form.validate_on_submit():
        shown = dict(pair.split("=", 1) for pair in (form.versions.data or "").split(";")
                     if "=" in pair)
        try:
            with transaction():
                consents.accept(current_user, shown)
        except DomainError as error:
            attach_errors(form, error)
        else:
            session.pop(CONSENT_PENDING, None)
            flash(gettext("Thank you: your consent is recorded."), "success")
            return redirect(next_url or home_url())
    form.versions.data = _shown_versions(pending)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("privacy/consent.html", form=form, pending=pending), status


@blp.route("/account/privacy")
@login_required
def my_privacy():
    """My data: download it, who viewed my ID number, close my account."""
    entries = services.access_log_about(current_user)
    return render_template("privacy/my_privacy.html", entries=entries,
                           actors=_actor_names(entries))


@blp.route("/account/data-export")
@login_required
@limiter.limit(lambda: current_app.config["DATA_EXPORT_RATE_LIMIT"],
               key_func=_export_limit_key)
def data_export():
    """The ZIP of everything about me (logged)."""
    with transaction():
        name, data = services.export_personal_data(current_user, by=current_user,
                                                   route="web.account.data-export")
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store"})


@blp.route("/account/close", methods=["GET", "POST"])
@login_required
def close_account():
    """Close my account after typing the password again."""
    form = CloseAccountForm()
    if form.validate_on_submit():
        try:
            with transaction():
                closed = closure.close_own_account(current_user, form.password.data)
        except DomainError as error:
            attach_errors(form, error)
        else:
            name = closure.pseudonym(closed.id)
            logout_user()
            session.clear()
            return render_template("privacy/closed.html", pseudonym=name)
    status = 422 if form.errors or form.form_errors else 200
    return render_template("privacy/close.html", form=form), status


def _actor_names(entries) -> dict[int, str]:
    from volunteer_hub.accounts.models import User
    from volunteer_hub.db import db

    ids = {entry.actor_user_id for entry in entries if entry.actor_user_id}
    if not ids:
        return {}
    return {user.id: user.display_name for user in db.session.execute(
        db.select(User).where(User.id.in_(ids))).scalars()}


def _subject_names(entries) -> dict[int, str]:
    from volunteer_hub.accounts.models import User
    from volunteer_hub.db import db

    ids = {entry.subject_user_id for entry in entries}
    if not ids:
        return {}
    return {user.id: user.display_name for user in db.session.execute(
        db.select(User).where(User.id.in_(ids))).scalars()}


@blp.route("/org/privacy")
@role_required
def org_privacy():
    """Admins: who revealed ID numbers in their organizations; the retention runs."""
    if not scope_paths(current_user, "volunteers.reveal_id"):
        abort(403)
    entries = services.access_log_for_admin(current_user)
    runs = retention.recent_runs() if scope_paths(current_user, "roles.manage") else []
    return render_template(
        "privacy/org_privacy.html", entries=entries, actors=_actor_names(entries),
        subjects=_subject_names(entries), labels=retention.RULE_LABELS,
        runs=[(run, json.loads(run.counts)) for run in runs])
