"""Pages: the volunteer's hours, balance, star level and ledger history."""
from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from volunteer_hub.db import db
from volunteer_hub.records.models import METHOD_LABELS, STATUS_LABELS
from volunteer_hub.records.services import records_of
from volunteer_hub.timebank import services

blp = Blueprint("timebank", __name__, template_folder="templates")



@blp.route("/me/hours")
@login_required
def my_hours():
    """My verified hours, time-bank balance, star level, history and records."""
    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    served = services.service_minutes(volunteer)
    history = services.history_entries(volunteer, db.session.execute(
        services.history_query(volunteer).limit(50)).scalars().unique().all())
    records = db.session.execute(records_of(volunteer).limit(50)).scalars().all()
    return render_template(
        "timebank/my_hours.html", v=volunteer, balance=services.balance_of(volunteer),
        served=served, stars=services.star_level(served), history=history, records=records,
        thresholds=services.STAR_THRESHOLDS_HOURS, METHOD_LABELS=METHOD_LABELS,
        RECORD_STATUS_LABELS=STATUS_LABELS)
