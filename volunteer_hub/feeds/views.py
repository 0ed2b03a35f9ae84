"""Pages: subscribe to my calendar (make, show once, revoke); the feed itself by token."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from volunteer_hub.db import transaction
from volunteer_hub.feeds import services
from volunteer_hub.feeds.forms import FeedActionForm

blp = Blueprint("feeds", __name__, template_folder="templates")


@blp.app_context_processor
def inject_coordinate_systems():
    """The coordinate-system choices for hand-built page forms (geo/ has no blueprint)."""
    from volunteer_hub.geo import COORD_SYSTEMS

    return {"COORD_SYSTEMS": COORD_SYSTEMS}


def _volunteer():
    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    return volunteer


def _links(token: str) -> dict:
    https = url_for("feeds.feed", token=token, _external=True)
    return {"https": https, "webcal": "webcal://" + https.split("://", 1)[1]}


@blp.route("/me/calendar")
@login_required
def my_calendar():
    volunteer = _volunteer()
    return render_template("feeds/calendar.html", feed=services.feed_of(volunteer), links=None,
                           form=FeedActionForm())


@blp.route("/me/calendar", methods=["POST"])
@login_required
def make_link():
    """A new link (replaces any earlier one): shown on this answer only."""
    volunteer = _volunteer()
    form = FeedActionForm()
    if not form.validate_on_submit():
        abort(400)
    with transaction():
        token = services.issue(volunteer)
    return render_template("feeds/calendar.html", feed=services.feed_of(volunteer),
                           links=_links(token), form=FeedActionForm(formdata=None))


@blp.route("/me/calendar/revoke", methods=["POST"])
@login_required
def revoke_link():
    volunteer = _volunteer()
    if not FeedActionForm().validate_on_submit():
        abort(400)
    with transaction():
        services.revoke(volunteer)
    flash(gettext("The calendar link no longer works. Phones subscribed to it stop "
                  "updating."), "success")
    return redirect(url_for("feeds.my_calendar"))


@blp.route("/feeds/<token>.ics")
def feed(token):
    """The feed (no login: the token is the key). Unknown or revoked: 404."""
    with transaction():
        volunteer = services.volunteer_for_token(token)
        body = services.calendar_bytes(volunteer)
    return Response(body, mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="volunteer.ics"',
        "Cache-Control": "private, no-store", "X-Robots-Tag": "noindex",
        "Referrer-Policy": "no-referrer"})
