"""Pages for accounts: log in and out, language, password and API tokens."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

from flask import (Blueprint, abort, flash, redirect, render_template, request, session,
                   url_for)
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from volunteer_hub.accounts import services
from volunteer_hub.accounts.auth import limit_logins
from volunteer_hub.accounts.forms import (LocaleForm, LoginForm, PasswordForm, TokenForm,
                                          attach_errors)
from volunteer_hub.accounts.permissions import has_any_role, scope_paths
from volunteer_hub.db import transaction
from volunteer_hub.errors import DomainError
from volunteer_hub.web.i18n import keep_chosen_language

blp = Blueprint("accounts", __name__, template_folder="templates")


def role_required(view):
    """Log in first; then the page needs a role on some org node, else 403."""
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not has_any_role(current_user):
            abort(403)
        return view(*args, **kwargs)
    return wrapper


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: never redirect to another host after login.

    Browsers read a backslash as a slash and drop tabs and newlines inside a URL, so a
    target holding any of them (e.g. a slash, a backslash, then a host) could leave the site.
    """
    if not target:
        return None
    if "\\" in target or any(ord(char) < 32 or ord(char) == 127 for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_url() -> str:
    if has_any_role(current_user):
        return url_for("volunteers.org_list")
    if current_user.volunteer is not None:
        return url_for("volunteers.profile")
    return url_for("accounts.settings")


@blp.route("/login", methods=["GET", "POST"])
@limit_logins
def login():
    """Log in with a phone number or e-mail address and a password."""
    form = LoginForm()
    if form.validate_on_submit():
        try:
            with transaction():
                user = services.authenticate(form.login.data, form.password.data)
        except DomainError as error:
            form.form_errors.append(error.message)
        else:
            login_user(user)
            keep_chosen_language(user)
            if user.must_change_password:
                flash(gettext("Please choose a new password before you go on."), "info")
                return redirect(url_for("accounts.password"))
            from volunteer_hub.privacy.views import ask_after_login

            return redirect(ask_after_login(user, request.args.get("next"))
                            or safe_next(request.args.get("next")) or home_url())
    return render_template("accounts/login.html", form=form)


@blp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("web.index"))


def _settings_page(**forms):
    context = {
        "locale_form": LocaleForm(formdata=None, locale=current_user.locale or ""),
        "password_form": PasswordForm(formdata=None),
        "token_form": TokenForm(formdata=None),
        "tokens": sorted(current_user.tokens, key=lambda t: t.created_at, reverse=True),
        "new_token": None,
        "sees_access_log": bool(scope_paths(current_user, "volunteers.reveal_id")),
    }
    context.update(forms)
    status = 422 if any(getattr(f, "errors", None) for f in forms.values()) else 200
    return render_template("accounts/settings.html", **context), status


@blp.route("/account")
@login_required
def settings():
    """Language, password and API tokens of the logged-in user."""
    return _settings_page()


@blp.route("/account/language", methods=["POST"])
@login_required
def set_locale():
    form = LocaleForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.set_locale(current_user, form.locale.data)
        except DomainError as error:
            attach_errors(form, error)
        else:
            session["locale"] = form.locale.data
            flash(gettext("Language saved."), "success")
            return redirect(url_for("accounts.settings"))
    return _settings_page(locale_form=form)


@blp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    """Change the password (required after an organizer has reset it)."""
    form = PasswordForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.change_password(current_user, form.current_password.data,
                                         form.new_password.data)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Your password is changed."), "success")
            return redirect(home_url())
    status = 422 if form.errors else 200
    return render_template("accounts/password.html", form=form), status


@blp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    form = TokenForm()
    if form.validate_on_submit():
        with transaction():
            record, token = services.create_token(current_user, form.name.data)
        return _settings_page(new_token=token, token_form=TokenForm(formdata=None))
    return _settings_page(token_form=form)


@blp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id):
    with transaction():
        services.revoke_token(current_user, token_id)
    flash(gettext("The token is revoked: programs using it can no longer sign in."), "success")
    return redirect(url_for("accounts.settings"))
