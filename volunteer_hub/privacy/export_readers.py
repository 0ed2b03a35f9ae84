"""Readers for the derived sections of a data export (rows that are not one table's rows)."""
from __future__ import annotations

from sqlalchemy import select

from volunteer_hub.db import db


def _volunteer_accounts(person):
    from volunteer_hub.timebank.models import Account

    if person.volunteer is None:
        return []
    return db.session.execute(select(Account).where(
        Account.kind == "VOLUNTEER", Account.owner_id == str(person.volunteer.id))
    ).scalars().all()


def ledger_balance(person) -> list[dict]:
    return [{"account_id": account.id, "balance_minutes": account.balance_minutes,
             "individual_minutes": account.balance_individual,
             "group_minutes": account.balance_group} for account in _volunteer_accounts(person)]


def ledger_transactions(person) -> list[dict]:
    """Each posting on the person's time-bank account, with its transaction."""
    from volunteer_hub.timebank.models import LedgerTransaction, Posting

    accounts = [account.id for account in _volunteer_accounts(person)]
    if not accounts:
        return []
    rows = db.session.execute(
        select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.created_at,
               LedgerTransaction.record_id, LedgerTransaction.reverses_id, Posting.minutes,
               Posting.earned_as_group)
        .join(Posting, Posting.transaction_id == LedgerTransaction.id)
        .where(Posting.account_id.in_(accounts))
        .order_by(LedgerTransaction.id, Posting.id)).all()
    return [{"transaction_id": tx_id, "kind": kind, "created_at": created_at,
             "record_id": record_id, "reverses_id": reverses_id, "minutes": minutes,
             "earned_as_group": group}
            for tx_id, kind, created_at, record_id, reverses_id, minutes, group in rows]


def messages(person) -> list[dict]:
    """The person's messages on every channel, with the text they were sent or shown."""
    from volunteer_hub.notify.fanout import render
    from volunteer_hub.notify.models import OutboxMessage

    rows = db.session.execute(select(OutboxMessage).where(
        OutboxMessage.recipient_id == person.user.id).order_by(OutboxMessage.id)).scalars().all()
    shown = render(rows) if rows else []
    return [{"id": row.id, "channel": row.channel, "status": row.status,
             "created_at": row.created_at, "sent_at": row.sent_at, "read_at": row.read_at,
             "subject": text.subject, "body": text.body}
            for row, text in zip(rows, shown)]


def certificate(person) -> list[dict]:
    """The certificates the person can print today, one per organization that recorded
    their hours: number and hours (the PDFs are on the hours page)."""
    if person.volunteer is None:
        return []
    from volunteer_hub.errors import DomainError
    from volunteer_hub.timebank.certificates import build_content, issuing_orgs

    result = []
    for org, _minutes in issuing_orgs(person.volunteer):
        try:
            content = build_content(person.volunteer, org, locale="zh_Hans")
        except DomainError:  # not issuable yet (e.g. the issuer's details are missing)
            continue
        if content is not None:
            result.append({"number": content["number"], "issuer": org.name("zh_Hans"),
                           "total_hours": content["service"]["total_hours"],
                           "issued_on": content["issued_on"],
                           "verify_url": content["verify_url"]})
    return result
