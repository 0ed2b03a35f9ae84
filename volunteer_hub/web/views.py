"""Site-wide pages: home, language switch, health."""
from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from volunteer_hub.accounts.permissions import has_any_role
from volunteer_hub.db import db, transaction

blp = Blueprint("web", __name__)


@blp.record_once
def _filters(state) -> None:
    from volunteer_hub.web.filters import install_filters

    install_filters(state.app)


@blp.route("/")
def index():
    if not current_user.is_authenticated:
        return render_template("index.html")
    if has_any_role(current_user):
        return redirect(url_for("volunteers.org_list"))
    return redirect(url_for("volunteers.profile"))


@blp.route("/lang/<locale>", methods=["POST"])
def switch_language(locale):
    """Remember the language for this browser, and for the account when logged in."""
    if locale in current_app.config["LANGUAGES"]:
        session["locale"] = locale
        if current_user.is_authenticated:
            with transaction():
                current_user.locale = locale
    from volunteer_hub.accounts.views import safe_next

    return redirect(safe_next(request.form.get("next")) or url_for("web.index"))


@blp.route("/people/search")
@login_required
def people_search():
    """The person picker's suggestions, as JSON (the caller's scope only)."""
    from flask_babel import get_locale

    from volunteer_hub.web.people import find_people

    return {"items": find_people(current_user, request.args.get("q", ""), str(get_locale()))}


@blp.route("/offline")
def offline():
    """What the service worker shows for a page it cannot fetch: no personal data, so one copy
    serves everyone on the phone."""
    return render_template("offline.html")


@blp.route("/healthz")
def health():
    db.session.execute(db.text("SELECT 1"))
    return {"status": "ok"}
