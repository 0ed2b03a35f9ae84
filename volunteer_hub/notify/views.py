"""Pages: notification settings (channels, quiet hours, this phone's push subscription), plus
the site-root files an installable web app needs: /sw.js and /manifest.webmanifest."""
from __future__ import annotations

from flask import (Blueprint, current_app, flash, jsonify, redirect, render_template, request,
                   send_from_directory, url_for)
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from volunteer_hub.accounts.forms import attach_errors
from volunteer_hub.db import transaction
from volunteer_hub.errors import DomainError, ValidationFailed, error_payload
from volunteer_hub.notify import orders, registry, services
from volunteer_hub.notify.forms import PreferencesForm, channel_order_form, hh_mm

blp = Blueprint("notify", __name__, template_folder="templates")


@blp.app_context_processor
def inject_channel_order_menu():
    """The menu shows the channel order page to who may set one (org admins), asked only
    when drawn."""
    def may_set_channel_order() -> bool:
        from volunteer_hub.accounts.permissions import scope_paths

        return bool(scope_paths(current_user, orders.MANAGE))
    return {"may_set_channel_order": may_set_channel_order}


def device_label(user_agent: str) -> str:
    """'Android · Chrome' from a User-Agent string, for the list of subscribed devices."""
    platforms = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
                 ("Windows", "Windows"), ("Mac OS X", "Mac"), ("HarmonyOS", "HarmonyOS"),
                 ("Linux", "Linux"))
    browsers = (("EdgA/", "Edge"), ("Edg/", "Edge"), ("HuaweiBrowser", "Huawei"),
                ("MiuiBrowser", "Xiaomi"), ("Firefox/", "Firefox"), ("CriOS/", "Chrome"),
                ("Chrome/", "Chrome"), ("Safari/", "Safari"))
    platform = next((name for token, name in platforms if token in user_agent), "")
    browser = next((name for token, name in browsers if token in user_agent), "")
    return " · ".join(part for part in (platform, browser) if part) or user_agent[:60]


def _page(form: PreferencesForm, status: int = 200):
    config = services.settings()
    return render_template(
        "notify/settings.html", form=form, public_key=services.vapid_public_key(config),
        subscriptions=services.subscriptions_of(current_user), device_label=device_label
    ), status


@blp.route("/account/notifications")
@login_required
def settings():
    """Channels, quiet hours and the phones that get push notifications."""
    pref = services.get_preference(current_user.id)
    switched = {name: getattr(pref, name) if pref else True for name in registry.PREFERENCES}
    form = PreferencesForm(
        formdata=None, **switched, quiet_start=hh_mm(pref.quiet_start if pref else None),
        quiet_end=hh_mm(pref.quiet_end if pref else None))
    return _page(form)


@blp.route("/account/notifications", methods=["POST"])
@login_required
def save_settings():
    form = PreferencesForm()
    if form.validate_on_submit():
        try:
            with transaction():
                services.update_preferences(current_user, form.changes())
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("Notification settings saved."), "success")
            return redirect(url_for("notify.settings"))
    return _page(form, 422)


@blp.route("/account/notifications/devices/<int:subscription_id>/delete", methods=["POST"])
@login_required
def remove_device(subscription_id: int):
    with transaction():
        services.unsubscribe(current_user, subscription_id=subscription_id)
    flash(gettext("The phone will no longer get push notifications."), "success")
    return redirect(url_for("notify.settings"))


# --- an organization's channel order --------------------------------------------------------

def _administered_orgs():
    from volunteer_hub.accounts.permissions import can
    from volunteer_hub.db import db
    from volunteer_hub.orgs.services import visible_orgs

    nodes = db.session.execute(visible_orgs(current_user)).scalars().all()
    return [org for org in nodes if can(current_user, orders.MANAGE, org)]


@blp.route("/org/channel-order")
@login_required
def channel_order_list():
    """The organizations whose channel order the caller sets."""
    return render_template("notify/channel_order_list.html", orgs=_administered_orgs(),
                           order_of=orders.order_of, labels=registry.LABELS)


@blp.route("/org/<int:org_id>/channel-order", methods=["GET", "POST"])
@login_required
def channel_order(org_id: int):
    """Set the order the organization's people are tried in. Org admins only (others: 404)."""
    from flask import abort

    from volunteer_hub.accounts.permissions import can
    from volunteer_hub.db import db
    from volunteer_hub.orgs.models import Org

    org = db.session.get(Org, org_id)
    if org is None or not can(current_user, orders.MANAGE, org):
        abort(404)
    current, set_by = orders.order_of(org)
    choices = [name for name in registry.NAMES if name != registry.LAST]
    form = channel_order_form(choices, registry.LABELS, current)
    if form.validate_on_submit():
        try:
            with transaction():
                if form.inherit.data:
                    orders.clear_order(org, by=current_user)
                else:
                    orders.set_order(org, form.chosen(), by=current_user)
        except DomainError as error:
            attach_errors(form, error)
        else:
            flash(gettext("The channel order is saved."), "success")
            return redirect(url_for("notify.channel_order", org_id=org.id))
    status = 422 if form.errors or form.form_errors else 200
    set_by_org = db.session.get(Org, set_by) if set_by else None
    return render_template("notify/channel_order.html", org=org, form=form, current=current,
                           set_by_org=set_by_org, labels=registry.LABELS,
                           inbox=registry.LAST), status


# --- JSON for push.js: the browser session, CSRF token in the X-CSRFToken header ----------

def _json_error(error: DomainError):
    body = error_payload(error.status, error.code, error.message, error.errors)
    return jsonify(body), error.status


class NotLoggedIn(DomainError):
    status = 401
    code = "UNAUTHENTICATED"


def _session_user():
    if not current_user.is_authenticated:
        raise NotLoggedIn(_l("Please log in to see this page."))
    return current_user


@blp.route("/account/notifications/push", methods=["POST"])
def subscribe_this_browser():
    """Store the subscription `PushSubscription.toJSON()` gave this browser."""
    data = request.get_json(silent=True) or {}
    keys = data.get("keys") if isinstance(data.get("keys"), dict) else {}
    try:
        user = _session_user()
        endpoint, p256dh, auth = (str(data.get("endpoint") or ""), str(keys.get("p256dh") or ""),
                                  str(keys.get("auth") or ""))
        if not endpoint or len(endpoint) > 1000:
            raise ValidationFailed(_l("A subscription endpoint is required."),
                                   field="endpoint")
        with transaction():
            subscription, created = services.subscribe(
                user, endpoint=endpoint, p256dh=p256dh[:100], auth=auth[:50],
                user_agent=request.headers.get("User-Agent", "")[:200])
    except DomainError as error:
        return _json_error(error)
    return jsonify({"id": subscription.id}), 201 if created else 200


@blp.route("/account/notifications/push", methods=["DELETE"])
def unsubscribe_this_browser():
    data = request.get_json(silent=True) or {}
    try:
        user = _session_user()
        with transaction():
            services.unsubscribe(user, endpoint=str(data.get("endpoint") or "")[:1000])
    except DomainError as error:
        return _json_error(error)
    return "", 204


# --- files at the site root -----------------------------------------------------------------

@blp.route("/sw.js")
def service_worker():
    """The service worker, from the root so that its scope is the whole site."""
    response = send_from_directory(current_app.static_folder, "sw.js",
                                   mimetype="text/javascript", max_age=0)
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"  # browsers must see a new version soon
    return response


@blp.route("/manifest.webmanifest")
def manifest():
    return send_from_directory(current_app.static_folder, "manifest.webmanifest",
                               mimetype="application/manifest+json", max_age=3600)
