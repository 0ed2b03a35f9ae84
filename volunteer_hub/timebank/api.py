"""Time-bank API: balances, history with provenance, transfers, reversals, star notices.

Ledger writes require an Idempotency-Key header; it becomes the transaction's unique key
(scoped to the caller), stored in the same database transaction as the postings.
"""
from datetime import datetime, time

from flask import request
from flask.views import MethodView
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint

from volunteer_hub.accounts.auth import api_user
from volunteer_hub.db import db, transaction
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.orgs.models import Org
from volunteer_hub.pagination import paginate
from volunteer_hub.timebank import services
from volunteer_hub.timebank.models import Kinship, LedgerTransaction
from volunteer_hub.timebank.schemas import (
    BalanceSchema, CertificateIssuerSchema, DonationSchema, GiftSchema, HistoryArgsSchema,
    HistoryPageSchema, RedemptionSchema, RelativeSchema, ReversalSchema, StarNoticeArgsSchema, StarNoticeSchema,
    TransactionSchema,
)

URL_PREFIX = ""
blp = Blueprint("timebank_api", __name__, description="Time bank: balances and transfers")


class KeyRequired(DomainError):
    status = 428
    code = "IDEMPOTENCY_KEY_REQUIRED"


def _key() -> str:
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if not key:
        raise KeyRequired(_l("Send an Idempotency-Key header with every ledger write."))
    return f"user:{api_user().id}:{key[:200]}"


def _volunteer(volunteer_id: int):
    return services.ledger_volunteer(volunteer_id, by=api_user())


def _other_volunteer(volunteer_id: int):
    from volunteer_hub.volunteers.models import Volunteer

    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None:
        raise NotFound()
    return volunteer


def balance_payload(volunteer) -> dict:
    from volunteer_hub.recognition.stars import final_level, pending_notices

    balance = services.balance_of(volunteer)
    served = services.service_minutes(volunteer)
    pending = pending_notices(volunteer)
    return {"volunteer_id": volunteer.id, "individual_minutes": balance.individual,
            "group_minutes": balance.group, "total_minutes": balance.total,
            "service_minutes": served, "star_level": services.star_level(served),
            "final_star_level": final_level(volunteer),
            "star_notice_ends_at": pending[-1].ends_at if pending else None}


@blp.route("/volunteers/<int:volunteer_id>/balance")
class BalanceItem(MethodView):
    @blp.response(200, BalanceSchema)
    def get(self, volunteer_id):
        """Balance (individual and group-earned), verified service minutes and star level."""
        return balance_payload(_volunteer(volunteer_id))


@blp.route("/volunteers/<int:volunteer_id>/ledger")
class History(MethodView):
    @blp.arguments(HistoryArgsSchema, location="query")
    @blp.response(200, HistoryPageSchema)
    def get(self, args, volunteer_id):
        """The volunteer's transactions with provenance, newest first."""
        volunteer = _volunteer(volunteer_id)
        page = paginate(services.history_query(volunteer), args["page"], args["page_size"])
        page["items"] = services.history_entries(volunteer, page["items"])
        return page


def _write(work):
    row = services.run_in_transaction(work)
    return db.session.get(LedgerTransaction, row.id)


@blp.route("/volunteers/<int:volunteer_id>/gifts")
class Gifts(MethodView):
    @blp.arguments(GiftSchema)
    @blp.response(201, TransactionSchema)
    def post(self, data, volunteer_id):
        """Gift hours to a confirmed direct relative (Idempotency-Key required)."""
        key = _key()
        return _write(lambda: services.gift(
            _volunteer(volunteer_id), _other_volunteer(data["recipient_id"]), data["minutes"],
            key=key, by=api_user()))


@blp.route("/volunteers/<int:volunteer_id>/donations")
class Donations(MethodView):
    @blp.arguments(DonationSchema)
    @blp.response(201, TransactionSchema)
    def post(self, data, volunteer_id):
        """Donate hours to the community pool (Idempotency-Key required)."""
        key = _key()
        return _write(lambda: services.donate(_volunteer(volunteer_id), data["minutes"],
                                              key=key, by=api_user()))


@blp.route("/volunteers/<int:volunteer_id>/redemptions")
class Redemptions(MethodView):
    @blp.arguments(RedemptionSchema)
    @blp.response(201, TransactionSchema)
    def post(self, data, volunteer_id):
        """Pay the serving volunteer `volunteer_id` in hours, from a holder of redemption age
        (the caller) or from a community pool (an administrator). Idempotency-Key required."""
        key = _key()

        def work():
            user = api_user()
            provider = _other_volunteer(volunteer_id)
            if data.get("pool_org_id"):
                pool = db.session.get(Org, data["pool_org_id"])
                if pool is None:
                    raise NotFound()
                return services.redeem(provider, data["minutes"], key=key, by=user,
                                       pool_community=pool, service=data["service"])
            if user.volunteer is None:
                raise NotFound()
            return services.redeem(provider, data["minutes"], key=key, by=user,
                                   holder=user.volunteer, service=data["service"])

        return _write(work)


@blp.route("/volunteers/<int:volunteer_id>/relatives")
class Relatives(MethodView):
    @blp.arguments(RelativeSchema)
    @blp.response(201, RelativeSchema)
    def post(self, data, volunteer_id):
        """Name a relative who may receive gifts once an administrator confirms."""
        with transaction():
            return services.declare_relative(_volunteer(volunteer_id),
                                             _other_volunteer(data["relative_id"]),
                                             data["relationship"], by=api_user())


@blp.route("/relatives/<int:kinship_id>/confirmation")
class RelativeConfirmation(MethodView):
    @blp.response(200, RelativeSchema)
    def post(self, kinship_id):
        """Confirm a declared relationship (administrator in scope)."""
        with transaction():
            kinship = db.session.get(Kinship, kinship_id)
            if kinship is None:
                raise NotFound()
            return services.confirm_relative(kinship, by=api_user())


@blp.route("/ledger-transactions/<int:transaction_id>")
class TransactionItem(MethodView):
    @blp.response(200, TransactionSchema)
    def get(self, transaction_id):
        """One transaction with its postings, provenance and chain hashes (administrators)."""
        from volunteer_hub.accounts.permissions import require

        row = db.session.get(LedgerTransaction, transaction_id)
        if row is None:
            raise NotFound()
        require(api_user(), "timebank.read", services.transaction_org(row), hide=True)
        return row


@blp.route("/ledger-transactions/<int:transaction_id>/reversal")
class Reversal(MethodView):
    @blp.arguments(ReversalSchema)
    @blp.response(201, TransactionSchema)
    def post(self, data, transaction_id):
        """Reverse a transaction exactly, linked to it (administrator); retry-safe."""
        return _write(lambda: services.reverse(transaction_id, data["reason"], by=api_user()))


@blp.route("/volunteers/<int:volunteer_id>/certificate.pdf")
class CertificatePdf(MethodView):
    @blp.doc(parameters=[{"name": "locale", "in": "query", "required": False,
                          "schema": {"type": "string", "enum": ["zh_Hans", "en"],
                                     "default": "zh_Hans"}},
                         {"name": "org_id", "in": "query", "required": False,
                          "description": "the issuing org (one that recorded the hours); "
                                         "required when several did",
                          "schema": {"type": "integer"}}],
             responses={"200": {"description": "The signed certificate (志愿服务记录证明)",
                                "content": {"application/pdf": {}}}})
    def get(self, volunteer_id):
        """The volunteer's service record certificate as a signed PDF, free and on demand
        (the volunteer or an organizer in scope; same bytes for the same data)."""
        from flask import Response

        from volunteer_hub.timebank.certificates import issue_certificate

        certificate = issue_certificate(_volunteer(volunteer_id),
                                        locale=request.args.get("locale", "zh_Hans"),
                                        by=api_user(),
                                        org_id=request.args.get("org_id", type=int))
        return Response(certificate.pdf, mimetype="application/pdf", headers={
            "Content-Disposition": f'attachment; filename="{certificate.filename}"',
            "Cache-Control": "private, no-store"})


@blp.route("/volunteers/<int:volunteer_id>/ledger/proofs")
class HistoryWithProofs(MethodView):
    @blp.doc(responses={"200": {
        "description": "vh-history/1: every transaction on the volunteer's account with its "
                       "canonical bytes and inclusion proof against a signed checkpoint; "
                       "check it offline with `volunteer-hub certificate verify FILE.json` "
                       "(format: volunteer_hub/timebank/proofs.py, docs/ARCHITECTURE.md)",
        "content": {"application/json": {}}}})
    def get(self, volunteer_id):
        """The volunteer's whole history as an open, self-proving JSON file."""
        from volunteer_hub.timebank.views import history_response

        return history_response(_volunteer(volunteer_id))


@blp.route("/volunteers/<int:volunteer_id>/certificates")
class CertificateIssuers(MethodView):
    @blp.response(200, CertificateIssuerSchema(many=True))
    def get(self, volunteer_id):
        """The orgs that can issue this volunteer a certificate: each org certifies the hours
        it recorded; `missing` names what the org must still fill in before it can."""
        from volunteer_hub.timebank.certificates import issuing_orgs

        return [{"org": org, "minutes": minutes}
                for org, minutes in issuing_orgs(_volunteer(volunteer_id))]


@blp.route("/star-notices")
class StarNotices(MethodView):
    @blp.arguments(StarNoticeArgsSchema, location="query")
    @blp.response(200, StarNoticeSchema(many=True))
    def get(self, args):
        """Volunteers in scope who reached a new star level since a date (public notice)."""
        from zoneinfo import ZoneInfo

        from flask import current_app

        zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
        since = datetime.combine(args["since"], time.min, zone)
        return services.newly_starred(since, by=api_user())
