"""Closing an account: personal data deleted or pseudonymized, hours kept (PIPL Art. 47).

The person becomes "已注销志愿者 #<n>" (n: the closed_accounts row). Logins are refused
(no phone, e-mail or password left, the user inactive; the national number 志愿者编号 and the
SMS sent from the person's phone go too), tokens, push subscriptions,
bindings and the other rows registry.SECTIONS marks DELETE go; service records, the ledger,
evaluations, awards, training and the access log stay under the pseudonym, so reports
still sum the hours and issued certificates still verify (with the masked name they
printed, kept in closed_accounts.certificate_name).

"One ID, one account" (DOMAIN.md) holds among open accounts: the ID number's keyed hash is
replaced by a marker that derives from nothing, so the person may register again later as
a new account; the closed one keeps no trace of the number.
"""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, or_, select, update

from volunteer_hub.db import db, utcnow
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.privacy.models import ClosedAccount
from volunteer_hub.privacy.registry import DELETE, SECTIONS
from volunteer_hub.security import check_password

CLOSE_REASONS = ("self", "inactive")
PSEUDONYM = "已注销志愿者 #{number}"
CLOSED_ID_MARKER = "closed:{number}"


def pseudonym(number: int) -> str:
    return PSEUDONYM.format(number=number)


def is_closed(user) -> bool:
    return db.session.execute(select(ClosedAccount.id).filter_by(user_id=user.id)).first() \
        is not None


def close_own_account(user, password: str) -> ClosedAccount:
    """The holder closes their account after typing their password again."""
    if not password or not check_password(user.password_hash, password):
        raise ValidationFailed(_l("The password is not right."), code="PASSWORD_WRONG",
                               field="password")
    return close_account(user, reason="self")


def close_account(user, *, reason: str) -> ClosedAccount:
    """Pseudonymize `user` (and their volunteer profile); flushes, the caller commits."""
    from volunteer_hub.timebank.certificates import mask_name

    volunteer = user.volunteer
    closed = ClosedAccount(user_id=user.id, volunteer_id=volunteer.id if volunteer else None,
                           reason=reason,
                           certificate_name=mask_name(volunteer.real_name) if volunteer else None)
    db.session.add(closed)
    db.session.flush()
    name = pseudonym(closed.id)
    _forget_sms_replies(user, volunteer)
    _delete_and_clear(user, volunteer)
    _forget_messages(user)
    _forget_stored_replies(user)
    if volunteer is not None:
        _cancel_coming_assignments(volunteer)
        _pseudonymize_volunteer(volunteer, name, closed.id)
    _pseudonymize_user(user, name)
    db.session.flush()
    return closed


def _owner_id(section, user, volunteer) -> int | None:
    if section.owner == "user":
        return user.id
    return volunteer.id if volunteer is not None else None


def _delete_and_clear(user, volunteer) -> None:
    for section in SECTIONS:
        table = db.metadata.tables.get(section.table)
        owner_id = _owner_id(section, user, volunteer)
        if table is None or owner_id is None or section.rows is not None:
            continue
        mine = or_(*[table.c[name] == owner_id for name in (section.column, *section.also)])
        if section.on_close == DELETE:
            db.session.execute(delete(table).where(mine))
        elif section.clear_on_close:
            db.session.execute(update(table).where(mine).values(
                {name: None for name in section.clear_on_close}))
    db.session.expire_all()  # relationships loaded before the deletes


def _forget_messages(user) -> None:
    """Inbox messages go; other channels' rows stay for the costs of past call-outs, without
    the address they were sent to."""
    from volunteer_hub.notify.models import OutboxMessage
    from volunteer_hub.notify.registry import INBOX

    mine = OutboxMessage.recipient_id == user.id
    db.session.execute(delete(OutboxMessage).where(mine, OutboxMessage.channel == INBOX.name))
    db.session.execute(update(OutboxMessage).where(mine).values(address=None))
    # a text written for this person alone may name them; shared texts (NULL) stay shared
    db.session.execute(update(OutboxMessage).where(mine, OutboxMessage.body.is_not(None))
                       .values(body=""))
    db.session.execute(update(OutboxMessage).where(mine, OutboxMessage.status == "pending")
                       .values(status="dead", last_error="account closed"))


def _forget_sms_replies(user, volunteer) -> None:
    """SMS sent from the person's phone, also those stored before it matched the account
    (user_id NULL): they hold the number and the person's own words."""
    from volunteer_hub.notify.models import InboundSms
    from volunteer_hub.notify.services import normalize_phone

    phones = {normalize_phone(phone) for phone in
              (user.phone, volunteer.phone if volunteer is not None else None) if phone}
    if phones:
        db.session.execute(delete(InboundSms).where(InboundSms.from_phone.in_(phones)))


def _forget_stored_replies(user) -> None:
    """Replies kept for the person's retried requests (Idempotency-Key) may hold their data."""
    from volunteer_hub.accounts.models import IdempotencyRecord

    db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.scope == f"user:{user.id}"))


def _cancel_coming_assignments(volunteer) -> None:
    """Tasks not yet over are given back, so the organizer finds someone else."""
    from volunteer_hub.matching.models import ACTIVE_STATES, Assignment
    from volunteer_hub.needs.models import NeedSlot

    now_local = datetime.now(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])) \
        .replace(tzinfo=None)
    coming = select(NeedSlot.id).where(NeedSlot.end > now_local)
    db.session.execute(update(Assignment).where(
        Assignment.volunteer_id == volunteer.id, Assignment.state.in_(ACTIVE_STATES),
        Assignment.slot_id.in_(coming)).values(state="cancelled", reason="account closed",
                                               cancelled_at=utcnow()))


def _pseudonymize_volunteer(volunteer, name: str, number: int) -> None:
    volunteer.real_name = name
    volunteer.phone = ""
    volunteer.id_number_encrypted = ""
    volunteer.id_number_hash = CLOSED_ID_MARKER.format(number=number)
    volunteer.id_number_masked = ""
    volunteer.national_number = None  # would tie the hours back to the person nationally
    # The year stays for the age bands of past reports; the day and month go.
    volunteer.birth_date = date(volunteer.birth_date.year, 1, 1)
    volunteer.lat = volunteer.lon = None
    volunteer.status = "left"
    volunteer.status_reason = None
    volunteer.status_changed_at = utcnow()
    volunteer.status_changed_by_id = None


def _pseudonymize_user(user, name: str) -> None:
    user.display_name = name
    user.phone = None
    user.email = None
    user.password_hash = None
    user.active = False
    user.must_change_password = False
