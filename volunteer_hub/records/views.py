"""Pages: the organizer's verification queue with bulk approval."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from volunteer_hub.accounts.views import role_required
from volunteer_hub.db import db
from volunteer_hub.records import services
from volunteer_hub.records.models import METHOD_LABELS
from volunteer_hub.timebank.services import run_in_transaction

blp = Blueprint("records", __name__, template_folder="templates")


@blp.route("/org/verification")
@role_required
def queue():
    """Pending records and corrections, oldest first."""
    items = db.session.execute(services.verification_queue(current_user).limit(200)) \
        .scalars().all()
    return render_template("records/queue.html", items=items, METHOD_LABELS=METHOD_LABELS)


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
