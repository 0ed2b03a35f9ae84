"""Retention (PIPL Art. 19): how long each kind of personal data is kept, applied nightly.

Each rule is declared once with its setting; a run applies every rule (or, dry, only counts)
and stores what it did as a retention_runs row, shown to admins and printed by
`volunteer-hub privacy retention [--dry-run]`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import date as date_type
from typing import Callable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, exists, func, select

from volunteer_hub.db import db, utcnow
from volunteer_hub.privacy.models import ClosedAccount, PersonalDataAccess, RetentionRun

FINAL_MESSAGE_STATUSES = ("sent", "delivered", "failed", "dead")


@dataclass(frozen=True)
class Rule:
    kind: str
    label: object  # lazy text for the admin page
    setting: str
    apply: Callable[[datetime, bool], int]  # (naive UTC cutoff, dry_run) -> rows
    minimum_setting: str | None = None


def _count_or_delete(table, condition, dry_run: bool) -> int:
    if dry_run:
        return db.session.execute(select(func.count()).select_from(table).where(condition)) \
            .scalar_one()
    return db.session.execute(delete(table).where(condition)).rowcount or 0


def _access_logs(cutoff: datetime, dry_run: bool) -> int:
    from volunteer_hub.needs.models import BeneficiaryAccessLog

    ours = _count_or_delete(PersonalDataAccess.__table__, PersonalDataAccess.at < cutoff,
                            dry_run)
    theirs = _count_or_delete(BeneficiaryAccessLog.__table__,
                              BeneficiaryAccessLog.accessed_at < cutoff, dry_run)
    return ours + theirs


def _messages(cutoff: datetime, dry_run: bool) -> int:
    from volunteer_hub.notify.models import InboundSms, OutboxMessage

    sent = _count_or_delete(OutboxMessage.__table__,
                            (OutboxMessage.created_at < cutoff)
                            & OutboxMessage.status.in_(FINAL_MESSAGE_STATUSES), dry_run)
    replies = _count_or_delete(InboundSms.__table__, InboundSms.received_at < cutoff, dry_run)
    return sent + replies


def _idempotency(cutoff: datetime, dry_run: bool) -> int:
    from volunteer_hub.accounts.models import IdempotencyRecord

    return _count_or_delete(IdempotencyRecord.__table__, IdempotencyRecord.created_at < cutoff,
                            dry_run)


def inactive_users(cutoff: datetime) -> list:
    """Open accounts without a role whose last login (or creation) and last service are
    older than `cutoff`."""
    from volunteer_hub.accounts.models import RoleGrant, User
    from volunteer_hub.records.models import ServiceRecord
    from volunteer_hub.volunteers.models import Volunteer

    aware_cutoff = cutoff.replace(tzinfo=utcnow().tzinfo)
    served = exists().where(ServiceRecord.volunteer_id == Volunteer.id,
                            ServiceRecord.created_at >= aware_cutoff)
    return db.session.execute(
        select(User).outerjoin(Volunteer, Volunteer.user_id == User.id)
        .where(User.active.is_(True),
               func.coalesce(User.last_login_at, User.created_at) < cutoff,
               ~exists().where(RoleGrant.user_id == User.id),
               ~exists().where(ClosedAccount.user_id == User.id),
               ~served)
        .order_by(User.id)).scalars().all()


WARNING_EVENT = "privacy.inactive:{user_id}:"


def _last_activity(user) -> datetime:
    """The latest login, creation or service of `user`, naive UTC."""
    from volunteer_hub.records.models import ServiceRecord

    moments = [user.last_login_at, user.created_at]
    if user.volunteer is not None:
        moments.append(db.session.scalar(select(func.max(ServiceRecord.created_at)).where(
            ServiceRecord.volunteer_id == user.volunteer.id)))
    return max(moment.replace(tzinfo=None) if moment.tzinfo is None
               else moment.astimezone(UTC).replace(tzinfo=None)
               for moment in moments if moment is not None)


def _warned_at(user) -> datetime | None:
    """When the current stretch of inactivity was announced to `user` (None: not yet)."""
    from volunteer_hub.notify.models import OutboxMessage

    warned = db.session.scalar(select(func.max(OutboxMessage.created_at)).where(
        OutboxMessage.recipient_id == user.id,
        OutboxMessage.event_key.startswith(WARNING_EVENT.format(user_id=user.id))))
    return warned if warned is not None and warned >= _last_activity(user) else None


def _warn(user, closes_on: date_type, now: datetime) -> None:
    from flask_babel import force_locale, gettext

    from volunteer_hub.notify.services import enqueue

    with force_locale(user.locale or "zh_Hans"):
        body = gettext("Your Volunteer Hub account has not been used for a long time and will "
                       "be closed on %(date)s: your personal data is then deleted, your service "
                       "hours are kept. Log in before then to keep it.",
                       date=closes_on.isoformat())
    enqueue(WARNING_EVENT.format(user_id=user.id) + f"{now:%Y%m%d}", user, body=body,
            channels=("sms",))


def _inactive_warnings(cutoff: datetime, dry_run: bool) -> int:
    """Warn the accounts the closing rule will reach within the warning period."""
    warning_days = int(current_app.config["RETENTION_INACTIVE_WARNING_DAYS"] or 0)
    if not warning_days:
        return 0
    now = cutoff + timedelta(days=days_kept(RULES_BY_KIND["inactive_accounts"]))
    users = [user for user in inactive_users(cutoff + timedelta(days=warning_days))
             if _warned_at(user) is None]
    if not dry_run:
        closes_on = (now + timedelta(days=warning_days)).date()
        for user in users:
            _warn(user, closes_on, now)
    return len(users)


def _inactive_accounts(cutoff: datetime, dry_run: bool) -> int:
    """Close the inactive accounts warned long enough ago (or at once without warnings)."""
    from volunteer_hub.privacy.closure import close_account

    warning_days = int(current_app.config["RETENTION_INACTIVE_WARNING_DAYS"] or 0)
    now = cutoff + timedelta(days=days_kept(RULES_BY_KIND["inactive_accounts"]))
    users = [user for user in inactive_users(cutoff)
             if not warning_days or ((warned := _warned_at(user)) is not None
                                     and warned <= now - timedelta(days=warning_days))]
    if not dry_run:
        for user in users:
            close_account(user, reason="inactive")
    return len(users)


RULES: tuple[Rule, ...] = (
    Rule("inactive_accounts", _l("Inactive accounts closed"),
         "RETENTION_INACTIVE_ACCOUNT_DAYS", _inactive_accounts),
    Rule("inactive_warnings", _l("Inactive accounts warned before closing"),
         "RETENTION_INACTIVE_ACCOUNT_DAYS", _inactive_warnings),
    Rule("access_logs", _l("Access records deleted"), "RETENTION_ACCESS_LOG_DAYS",
         _access_logs, minimum_setting="RETENTION_ACCESS_LOG_MIN_DAYS"),
    Rule("messages", _l("Messages deleted"), "RETENTION_MESSAGES_DAYS", _messages),
    Rule("idempotency", _l("Stored replies to retried requests deleted"),
         "RETENTION_IDEMPOTENCY_DAYS", _idempotency),
)
RULE_LABELS = {rule.kind: rule.label for rule in RULES}
RULES_BY_KIND = {rule.kind: rule for rule in RULES}


def days_kept(rule: Rule) -> int:
    """The rule's days; 0 switches a rule off, a legal minimum is never undercut."""
    config = current_app.config
    days = int(config[rule.setting] or 0)
    if rule.minimum_setting and days:
        days = max(days, int(config[rule.minimum_setting]))
    return days


def run_retention(*, dry_run: bool = False, trigger: str = "cli",
                  now: datetime | None = None) -> RetentionRun:
    """Apply (or count) every rule; flushes the run row, the caller commits."""
    now = (now or utcnow()).replace(tzinfo=None)
    run = RetentionRun(started_at=now, dry_run=dry_run, trigger=trigger)
    counts = {}
    for rule in RULES:
        days = days_kept(rule)
        if days:
            counts[rule.kind] = rule.apply(now - timedelta(days=days), dry_run)
    run.counts = json.dumps(counts, sort_keys=True)
    run.finished_at = utcnow().replace(tzinfo=None)
    db.session.add(run)
    db.session.flush()
    return run


def recent_runs(limit: int = 30) -> list[RetentionRun]:
    return db.session.execute(select(RetentionRun).order_by(RetentionRun.id.desc())
                              .limit(limit)).scalars().all()
