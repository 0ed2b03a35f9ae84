"""Retention (PIPL Art. 19): how long each kind of personal data is kept, applied nightly.

Each rule is declared once with its setting; a run applies every rule (or, dry, only counts)
and stores what it did as a retention_runs row, shown to admins and printed by
`volunteer-hub privacy retention [--dry-run]`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
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


def _inactive_accounts(cutoff: datetime, dry_run: bool) -> int:
    from volunteer_hub.privacy.closure import close_account

    users = inactive_users(cutoff)
    if not dry_run:
        for user in users:
            close_account(user, reason="inactive")
    return len(users)


RULES: tuple[Rule, ...] = (
    Rule("inactive_accounts", _l("Inactive accounts closed"),
         "RETENTION_INACTIVE_ACCOUNT_DAYS", _inactive_accounts),
    Rule("access_logs", _l("Access records deleted"), "RETENTION_ACCESS_LOG_DAYS",
         _access_logs, minimum_setting="RETENTION_ACCESS_LOG_MIN_DAYS"),
    Rule("messages", _l("Messages deleted"), "RETENTION_MESSAGES_DAYS", _messages),
    Rule("idempotency", _l("Stored replies to retried requests deleted"),
         "RETENTION_IDEMPOTENCY_DAYS", _idempotency),
)
RULE_LABELS = {rule.kind: rule.label for rule in RULES}


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
