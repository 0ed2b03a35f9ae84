"""Pages: the volunteer's hours, balance, star level and ledger history."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from flask_babel import lazy_gettext as _l
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
    from volunteer_hub.recognition.stars import pending_notices
    from volunteer_hub.timebank.certificates import issuing_orgs

    return render_template(
        "timebank/certificate_my_hours.html", v=volunteer, balance=services.balance_of(volunteer),
        served=served, stars=services.star_level(served), history=history, records=records,
        thresholds=current_app.config["STAR_THRESHOLDS_HOURS"], METHOD_LABELS=METHOD_LABELS,
        issuers=issuing_orgs(volunteer), star_notices=pending_notices(volunteer),
        RECORD_STATUS_LABELS=STATUS_LABELS, TRANSACTION_LABELS=TRANSACTION_LABELS)


# What each kind of ledger transaction means to the volunteer reading their history.
TRANSACTION_LABELS = {
    "MINT": _l("Service hours credited"), "GIFT": _l("Hours given"),
    "DONATION": _l("Hours donated"), "REDEMPTION": _l("Hours redeemed"),
    "REVERSAL": _l("Correction"), "EXPIRY": _l("Hours expired"),
    "CAP_OVERFLOW": _l("Over the daily limit"),
}


# --- certificates (志愿服务记录证明) -------------------------------------------------------------

@blp.route("/me/hours/certificate.pdf")
@login_required
def my_certificate():
    """Download my certificate (the button on /me/hours); ?locale=zh_Hans|en."""
    from flask import Response, request

    from volunteer_hub.timebank.certificates import issue_certificate

    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    certificate = issue_certificate(volunteer, locale=request.args.get("locale", "zh_Hans"),
                                    by=current_user,
                                    org_id=request.args.get("org_id", type=int))
    return Response(certificate.pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{certificate.filename}"',
        "Cache-Control": "private, no-store"})


@blp.route("/certificates/public-key.pem")
def certificate_public_key():
    """The deployment's Ed25519 public key, for offline verification."""
    from flask import Response

    from volunteer_hub.timebank.certificates import deployment_public_key, public_pem

    return Response(public_pem(deployment_public_key()), mimetype="application/x-pem-file",
                    headers={"Content-Disposition": 'inline; filename="certificate-key.pem"'})


@blp.route("/certificates/ledger-key.txt")
def ledger_public_key():
    """The ledger's checkpoint verifier key (C2SP note format), for offline checks of the
    proofs in certificates and history files."""
    from flask import Response

    from volunteer_hub.timebank.signing import checkpoint_signer

    return Response(checkpoint_signer().verifier.encoded + "\n", mimetype="text/plain")


@blp.route("/me/hours/history.json")
@login_required
def my_history():
    """My whole time-bank history, each transaction with its proof (vh-history/1)."""
    volunteer = current_user.volunteer
    if volunteer is None:
        abort(404)
    return history_response(volunteer)


def history_response(volunteer):
    import json

    from flask import Response

    from volunteer_hub.errors import DomainError
    from volunteer_hub.timebank.proofs import LedgerUnsound, history_document

    try:
        document = history_document(volunteer)
    except LedgerUnsound:
        raise DomainError(_l("The time-bank ledger failed its audit: proofs are paused until "
                             "an administrator has repaired it."), code="LEDGER_UNSOUND",
                          status=503) from None
    body = json.dumps(document, ensure_ascii=False, indent=1)
    name = f"history-{volunteer.volunteer_number}.json"
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store"})


from volunteer_hub.extensions import limiter  # noqa: E402


@blp.route("/certificates/<number>")
@limiter.limit("60 per minute")
def certificate_check(number: str):
    """Public verification page (no login): masked name, hours, issuer, valid or not."""
    from flask_babel import get_locale

    from volunteer_hub.timebank.certificates import check_number

    from volunteer_hub.timebank.checkpoints import latest

    result = check_number(number, locale=str(get_locale() or "zh_Hans"))
    if result is None:
        abort(404)
    return render_template("timebank/certificate_check.html", c=result, latest=latest())
