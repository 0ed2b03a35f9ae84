"""Time-bank services: persist what the pure ledger rules plan.

Every write goes the same way (`_write`): replay a known idempotency key, lock the
involved account rows (PostgreSQL: SELECT ... FOR UPDATE in id order), lock the chain
head row, ask a `ledger.plan_*` function for the transaction, give it the next id, hash
it onto the chain, insert it with its postings and move the cached balances. Services
only flush; the caller's `with transaction():` (or `run_in_transaction`, which also
retries deadlocks and serialization failures) commits.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Callable, Iterable, Iterator

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, tuple_
from sqlalchemy.exc import DBAPIError

from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, is_postgresql, transaction, utcnow
from volunteer_hub.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from volunteer_hub.timebank import ledger
from volunteer_hub.timebank.ledger import AccountKind, AccountRef, Balance
from volunteer_hub.timebank.models import Account, Kinship, LedgerHead, LedgerTransaction, Posting

log = logging.getLogger(__name__)

HEAD_ID = 1

# Star levels (星级志愿者) by cumulative verified service hours; gifts do not count.
STAR_THRESHOLDS_HOURS = (100, 300, 600, 1000, 1500)

RULE_MESSAGES = {
    "INSUFFICIENT_BALANCE": _l("The balance is not enough for this."),
    "GROUP_HOURS_DONATION_ONLY": _l("Hours earned as a group can only be donated."),
    "NOT_DIRECT_RELATIVE": _l("Hours can be gifted to direct relatives only."),
    "RELATIONSHIP_UNCONFIRMED": _l("The relationship has not been confirmed yet."),
    "BELOW_REDEMPTION_AGE": _l("Hours can be redeemed from the redemption age on."),
    "ALREADY_REVERSED": _l("This transaction has already been reversed."),
    "REVERSAL_OF_REVERSAL": _l("A reversal cannot be reversed: post the original again."),
    "REVERSAL_OVERDRAFT": _l("Reversing this would make a balance negative: the hours were "
                             "already spent."),
    "DAILY_CAP_REACHED": _l("The daily earning limit is reached."),
    "PERSON_CAP_EXCEEDED": _l("This would exceed the personal limit of banked hours."),
    "SAME_ACCOUNT": _l("The source and destination are the same."),
    "NON_POSITIVE_AMOUNT": _l("The amount must be positive."),
}


class LedgerRefused(DomainError):
    status = 409
    code = "LEDGER_RULE"


class LedgerBreach(Exception):
    """`ledger verify` found inconsistencies; raised by jobs so the scheduler logs it."""


# --- settings -------------------------------------------------------------------------------

def policy() -> ledger.Policy:
    """The deployment's ledger policy ([local] settings with DOMAIN.md defaults)."""
    config = current_app.config
    daily = config.get("TIMEBANK_DAILY_EARNING_CAP_MINUTES")
    expiry = config.get("TIMEBANK_EXPIRY_DAYS")
    return ledger.Policy(
        person_cap_minutes=int(config.get("TIMEBANK_PERSON_CAP_MINUTES", 1500 * 60)),
        daily_earning_cap_minutes=int(daily) if daily else None,
        redemption_age=int(config.get("TIMEBANK_REDEMPTION_AGE", 60)),
        expiry_days=int(expiry) if expiry else None,
    )


def volunteer_ref(volunteer) -> AccountRef:
    return ledger.volunteer_account(str(volunteer.id))


def pool_ref(community_id: int) -> AccountRef:
    """Each community has a donation pool; cap overflow lands in the earner's community pool."""
    return ledger.pool_account(str(community_id))


def issuance_ref(org_id: int) -> AccountRef:
    return ledger.issuance_account(str(org_id))


# --- the write path ---------------------------------------------------------------------------

def _fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _find_by_key(key: str) -> LedgerTransaction | None:
    return db.session.execute(
        select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key)
    ).scalar_one_or_none()


def _replay(tx: LedgerTransaction, fingerprint: str) -> LedgerTransaction:
    if tx.request_hash != fingerprint:
        raise Conflict(_l("This Idempotency-Key was already used with a different request."),
                       code="IDEMPOTENCY_KEY_REUSED")
    return tx


def _insert_ignore(model, rows: list[dict]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent creators of the same row both succeed."""
    if not rows:
        return
    if is_postgresql():
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(model).values(rows).on_conflict_do_nothing())


def _lock_accounts(refs: Iterable[AccountRef]) -> dict[AccountRef, Account]:
    """The accounts of `refs`, created if missing, locked in id order (no deadlock cycles)."""
    keys = sorted({(str(ref.kind), ref.owner_id) for ref in refs})
    _insert_ignore(Account, [{"kind": k, "owner_id": o, "balance_individual": 0,
                              "balance_group": 0, "version": 0, "created_at": utcnow()}
                             for k, o in keys])
    rows = db.session.execute(
        select(Account).where(tuple_(Account.kind, Account.owner_id).in_(keys))
        .order_by(Account.id).with_for_update().execution_options(populate_existing=True)
    ).scalars().all()
    return {ledger.account(AccountKind(row.kind), row.owner_id): row for row in rows}


def _lock_head() -> LedgerHead:
    _insert_ignore(LedgerHead, [{"id": HEAD_ID, "last_transaction_id": 0,
                                 "hash": ledger.GENESIS_HASH}])
    return db.session.execute(
        select(LedgerHead).where(LedgerHead.id == HEAD_ID).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def _balances(accounts: dict[AccountRef, Account]) -> dict[AccountRef, Balance]:
    return {ref: Balance(row.balance_individual, row.balance_group)
            for ref, row in accounts.items()}


def _write(key: str, fingerprint: str, refs: Iterable[AccountRef],
           planner: Callable[[dict[AccountRef, Balance]], list[ledger.PlannedTransaction]], *,
           provenance: dict, by, record_id: int | None = None,
           service_volunteer_id: int | None = None) -> LedgerTransaction:
    """Plan, chain and insert; the first planned transaction carries `key` and is returned."""
    existing = _find_by_key(key)
    if existing is not None:
        return _replay(existing, fingerprint)
    accounts = _lock_accounts(refs)
    head = _lock_head()
    existing = _find_by_key(key)  # a concurrent twin may have committed while we waited
    if existing is not None:
        return _replay(existing, fingerprint)
    try:
        plans = planner(_balances(accounts))
    except ledger.LedgerRuleError as error:
        raise LedgerRefused(RULE_MESSAGES.get(error.code, _l("The ledger refused this.")),
                            code=error.code) from None
    now = utcnow().astimezone(UTC)
    first = None
    for index, plan in enumerate(plans):
        tx_id = head.last_transaction_id + 1
        tx_key = key if index == 0 else f"{key}#{index}"
        planned = plan.materialize(id=str(tx_id), created_at=now, idempotency_key=tx_key)
        row_hash = ledger.chain_hash(head.hash, planned)
        row = LedgerTransaction(
            id=tx_id, kind=str(plan.kind), created_at=now, idempotency_key=tx_key,
            request_hash=fingerprint, reverses_id=int(plan.reverses_id) if plan.reverses_id
            else None, prev_hash=head.hash, hash=row_hash,
            provenance=json.dumps(provenance if index == 0 else {"follows": first.id},
                                  ensure_ascii=False, sort_keys=True),
            record_id=record_id if index == 0 else None,
            service_volunteer_id=service_volunteer_id if index == 0 else None,
            created_by_id=by.id if by is not None else None,
        )
        db.session.add(row)
        db.session.flush()  # the transaction row before its postings (foreign key)
        for posting in plan.postings:
            account_row = accounts[posting.account]
            db.session.add(Posting(transaction_id=tx_id, account_id=account_row.id,
                                   minutes=posting.minutes,
                                   earned_as_group=posting.earned_as_group))
            if posting.earned_as_group:
                account_row.balance_group += posting.minutes
            else:
                account_row.balance_individual += posting.minutes
            account_row.version += 1
        head.last_transaction_id, head.hash = tx_id, row_hash
        first = first or row
    db.session.flush()
    return first


RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def _retryable(error: DBAPIError) -> bool:
    code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return code in RETRYABLE_SQLSTATES or "database is locked" in str(error.orig)


def run_in_transaction(work: Callable[[], object], *, attempts: int = 6):
    """Run `work` in one transaction, again on a deadlock or serialization failure."""
    for attempt in range(attempts):
        try:
            with transaction():
                return work()
        except DBAPIError as error:
            if not _retryable(error) or attempt == attempts - 1:
                raise
            log.info("ledger write retried after %s", type(error.orig).__name__)
            time.sleep(0.01 * 2 ** attempt)
    raise AssertionError("unreachable")


# --- writes ---------------------------------------------------------------------------------

def _earned_today(ref: AccountRef, now: datetime) -> int:
    """Minutes minted today (Asia/Shanghai) for this volunteer, overflow included."""
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    start = datetime.combine(now.astimezone(zone).date(), datetime.min.time(), zone)
    account_id = db.session.execute(select(Account.id).filter_by(
        kind=str(ref.kind), owner_id=ref.owner_id)).scalar()
    if account_id is None:
        return 0
    issuer_posting = db.aliased(Posting)
    issuer_account = db.aliased(Account)
    minted = db.session.execute(
        select(func.coalesce(func.sum(-issuer_posting.minutes), 0))
        .select_from(Posting)
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .join(issuer_posting, issuer_posting.transaction_id == LedgerTransaction.id)
        .join(issuer_account, issuer_account.id == issuer_posting.account_id)
        .where(Posting.account_id == account_id, LedgerTransaction.kind == "MINT",
               LedgerTransaction.created_at >= start.astimezone(UTC),
               issuer_account.kind == "ISSUANCE")
    ).scalar()
    return int(minted or 0)


def mint_for_record(record, *, by) -> LedgerTransaction:
    """Mint a verified service record's minutes from its organization to the volunteer.

    The idempotency key is the record's own, so one record can never mint twice.
    """
    volunteer = record.volunteer
    org_id = record.activity.org_id
    refs = (volunteer_ref(volunteer), issuance_ref(org_id), pool_ref(volunteer.community_id))
    rules = policy()
    earned = _earned_today(refs[0], utcnow()) if rules.daily_earning_cap_minutes else 0
    fingerprint = _fingerprint({"op": "mint", "record": record.id, "minutes": record.minutes})
    provenance = {"record_id": record.id, "activity_id": record.activity_id, "org_id": org_id,
                  "method": record.method, "minutes": record.minutes,
                  "verified_by": by.id if by is not None else None,
                  "verified_at": (record.verified_at or utcnow()).isoformat()}
    return _write(
        f"record:{record.id}:mint", fingerprint, refs,
        lambda balances: [ledger.plan_mint(
            balances, volunteer=refs[0], issuer=refs[1], pool=refs[2], minutes=record.minutes,
            group_earned=bool(record.activity.group_service), earned_today=earned,
            policy=rules)],
        provenance=provenance, by=by, record_id=record.id, service_volunteer_id=volunteer.id)


def _require_holder(volunteer, by) -> None:
    """Transfers are the holder's own decision."""
    if by is not None and by.id != volunteer.user_id:
        raise Forbidden(_l("Only the holder can move their hours."))


def declare_relative(volunteer, relative, relationship: str, *, by) -> Kinship:
    """The holder names a relative (another volunteer) who may receive gifts once confirmed."""
    _require_holder(volunteer, by)
    if relationship not in ledger.Relationship.__members__:
        raise ValidationFailed(_l("Unknown relationship."), code="RELATIONSHIP_UNKNOWN",
                               field="relationship")
    if relative.id == volunteer.id:
        raise ValidationFailed(_l("Choose another person."), code="SAME_ACCOUNT",
                               field="relative_id")
    kinship = db.session.execute(select(Kinship).filter_by(
        volunteer_id=volunteer.id, relative_id=relative.id)).scalar_one_or_none()
    if kinship is None:
        kinship = Kinship(volunteer_id=volunteer.id, relative_id=relative.id)
        db.session.add(kinship)
    kinship.relationship = relationship
    kinship.confirmed_at = kinship.confirmed_by_id = None
    db.session.flush()
    return kinship


def confirm_relative(kinship: Kinship, *, by) -> Kinship:
    """An organizer confirms a relationship (after seeing the household register)."""
    from volunteer_hub.volunteers.models import Volunteer

    volunteer = db.session.get(Volunteer, kinship.volunteer_id)
    require(by, "timebank.manage", volunteer.community)
    kinship.confirmed_at, kinship.confirmed_by_id = utcnow(), by.id
    return kinship


def gift(giver, recipient, minutes: int, *, key: str, by) -> LedgerTransaction:
    """Gift individually earned minutes to a confirmed direct relative (亲属转赠)."""
    _require_holder(giver, by)
    kinship = db.session.execute(select(Kinship).filter_by(
        volunteer_id=giver.id, relative_id=recipient.id)).scalar_one_or_none()
    relationship = ledger.Relationship(kinship.relationship) if kinship else None
    confirmed = bool(kinship and kinship.confirmed_at)
    refs = (volunteer_ref(giver), volunteer_ref(recipient))
    rules = policy()
    return _write(
        key, _fingerprint({"op": "gift", "from": giver.id, "to": recipient.id, "m": minutes}),
        refs, lambda b: [ledger.plan_gift(b, giver=refs[0], recipient=refs[1], minutes=minutes,
                                          relationship=relationship,
                                          relationship_confirmed=confirmed, policy=rules)],
        provenance={"giver": giver.id, "recipient": recipient.id,
                    "relationship": kinship.relationship if kinship else None,
                    "by": by.id if by else None}, by=by)


def donate(donor, minutes: int, *, key: str, by) -> LedgerTransaction:
    """Donate minutes to the community pool (group-earned minutes go first)."""
    _require_holder(donor, by)
    refs = (volunteer_ref(donor), pool_ref(donor.community_id))
    return _write(
        key, _fingerprint({"op": "donate", "from": donor.id, "m": minutes}), refs,
        lambda b: [ledger.plan_donation(b, donor=refs[0], pool=refs[1], minutes=minutes)],
        provenance={"donor": donor.id, "pool": donor.community_id, "by": by.id if by else None},
        by=by)


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def redeem(provider, minutes: int, *, key: str, by, holder=None, pool_community=None,
           service: str = "") -> LedgerTransaction:
    """Pay a serving volunteer in hours: from a holder of redemption age (their own
    decision), or from a community pool on a beneficiary's behalf (an organizer's).
    Hours earned in one community are spent in any other (通存通兑): no community check."""
    if holder is not None:
        _require_holder(holder, by)
        payer, age = volunteer_ref(holder), _age(holder.birth_date, date.today())
    elif pool_community is not None:
        if by is not None:
            require(by, "timebank.manage", pool_community)
        payer, age = pool_ref(pool_community.id), None
    else:
        raise ValidationFailed(_l("Say who pays."), code="PAYER_REQUIRED", field="holder_id")
    refs = (payer, volunteer_ref(provider), pool_ref(provider.community_id))
    rules = policy()
    fingerprint = _fingerprint({"op": "redeem", "payer": str(payer), "to": provider.id,
                                "m": minutes, "service": service})
    return _write(
        key, fingerprint, refs,
        lambda b: [ledger.plan_redemption(b, payer=refs[0], provider=refs[1], pool=refs[2],
                                          minutes=minutes, policy=rules, payer_age=age)],
        provenance={"payer": f"{payer.kind}:{payer.owner_id}", "provider": provider.id,
                    "service": service, "by": by.id if by else None}, by=by)


def _as_ledger_transaction(row: LedgerTransaction) -> ledger.Transaction:
    return ledger.Transaction(
        id=str(row.id), kind=ledger.TransactionKind(row.kind), created_at=_aware(row.created_at),
        postings=tuple(ledger.Posting(ledger.account(AccountKind(p.account.kind),
                                                     p.account.owner_id),
                                      p.minutes, p.earned_as_group) for p in row.postings),
        idempotency_key=row.idempotency_key,
        reverses_id=str(row.reverses_id) if row.reverses_id is not None else None)


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _pool_for(original: ledger.Transaction) -> AccountRef:
    from volunteer_hub.volunteers.models import Volunteer

    for posting in original.postings:
        if posting.account.kind is AccountKind.POOL:
            return posting.account
    for posting in original.postings:
        if posting.account.kind is AccountKind.VOLUNTEER:
            volunteer = db.session.get(Volunteer, int(posting.account.owner_id))
            if volunteer is not None:
                return pool_ref(volunteer.community_id)
    return ledger.pool_account("0")


def reverse_unchecked(transaction_id: int, reason: str, *, by,
                      key: str | None = None) -> LedgerTransaction:
    """Reverse a transaction exactly (no permission check: callers check their own)."""
    original_row = db.session.get(LedgerTransaction, transaction_id)
    if original_row is None:
        raise NotFound()
    if not (reason or "").strip():
        raise ValidationFailed(_l("Give a reason."), code="REASON_REQUIRED", field="reason")
    original = _as_ledger_transaction(original_row)
    pool = _pool_for(original)
    refs = {p.account for p in original.postings} | {pool}
    rules = policy()

    def planner(balances):
        already = db.session.execute(select(LedgerTransaction.id).where(
            LedgerTransaction.reverses_id == original_row.id)).first() is not None
        return ledger.plan_reversal(balances, original=original, already_reversed=already,
                                    pool=pool, policy=rules)

    service_volunteer = original_row.service_volunteer_id if original_row.kind == "MINT" else None
    return _write(
        key or f"reverse:{transaction_id}",
        _fingerprint({"op": "reverse", "tx": transaction_id}), refs, planner,
        provenance={"reverses": transaction_id, "reason": reason, "by": by.id if by else None,
                    "record_id": original_row.record_id},
        by=by, record_id=original_row.record_id, service_volunteer_id=service_volunteer)


def transaction_org(row: LedgerTransaction):
    """The organization answerable for a transaction: its issuer, else a volunteer's community."""
    from volunteer_hub.orgs.models import Org
    from volunteer_hub.volunteers.models import Volunteer

    data = json.loads(row.provenance or "{}")
    if data.get("org_id"):
        return db.session.get(Org, data["org_id"])
    for posting in row.postings:
        if posting.account.kind == "VOLUNTEER":
            volunteer = db.session.get(Volunteer, int(posting.account.owner_id))
            if volunteer is not None:
                return volunteer.community
    return None


def reverse(transaction_id: int, reason: str, *, by, key: str | None = None):
    """Reverse a transaction (an administrator over its organization); linked, never deleted."""
    row = db.session.get(LedgerTransaction, transaction_id)
    if row is None:
        raise NotFound()
    if by is not None:
        require(by, "timebank.manage", transaction_org(row), hide=True)
    return reverse_unchecked(transaction_id, reason, by=by, key=key)


def expire_balances(now: datetime | None = None) -> int:
    """Expire credit older than the policy's window (default: never); returns how many."""
    rules = policy()
    if rules.expiry_days is None:
        return 0
    from volunteer_hub.volunteers.models import Volunteer

    now = now or utcnow()
    cutoff = ledger.expiry_cutoff(now, rules)
    count = 0
    accounts = db.session.execute(select(Account).where(
        Account.kind == "VOLUNTEER",
        (Account.balance_individual + Account.balance_group) > 0)).scalars().all()
    for account_row in accounts:
        volunteer = db.session.get(Volunteer, int(account_row.owner_id))
        if volunteer is None:
            continue
        recent = db.session.execute(
            select(Posting.earned_as_group, func.sum(Posting.minutes))
            .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
            .where(Posting.account_id == account_row.id, Posting.minutes > 0,
                   LedgerTransaction.created_at >= cutoff)
            .group_by(Posting.earned_as_group)).all()
        by_bucket = {bool(group): int(total) for group, total in recent}
        credits = Balance(by_bucket.get(False, 0), by_bucket.get(True, 0))
        refs = (volunteer_ref(volunteer), issuance_ref(volunteer.community_id))

        def planner(balances, refs=refs, credits=credits):
            plan = ledger.plan_expiry(balances, volunteer=refs[0], issuer=refs[1],
                                      recent_credits=credits, policy=rules)
            if plan is None:
                raise _NothingToDo()
            return [plan]

        try:
            _write(f"expiry:{volunteer.id}:{now.date().isoformat()}",
                   _fingerprint({"op": "expire", "v": volunteer.id, "d": now.date()}), refs,
                   planner, provenance={"expiry_days": rules.expiry_days}, by=None)
            count += 1
        except _NothingToDo:
            continue
    return count


class _NothingToDo(Exception):
    pass


# --- reading --------------------------------------------------------------------------------

def ledger_volunteer(volunteer_id: int, *, by):
    """A volunteer whose ledger the caller may read: themself or an organizer in scope.
    Anyone else gets 404, exactly like an unknown volunteer."""
    from volunteer_hub.volunteers.models import Volunteer

    volunteer = db.session.get(Volunteer, volunteer_id)
    if volunteer is None or not can_read_ledger(by, volunteer):
        raise NotFound()
    return volunteer


def can_read_ledger(user, volunteer) -> bool:
    return user is not None and (user.id == volunteer.user_id
                                 or can(user, "timebank.read", volunteer.community))


def account_of(volunteer) -> Account | None:
    return db.session.execute(select(Account).filter_by(
        kind="VOLUNTEER", owner_id=str(volunteer.id))).scalar_one_or_none()


def balance_of(volunteer) -> Balance:
    row = account_of(volunteer)
    return Balance(row.balance_individual, row.balance_group) if row else ledger.ZERO_BALANCE


@dataclass
class HistoryEntry:
    transaction: LedgerTransaction
    minutes: int  # this account's net change
    earned_as_group: bool

    @property
    def provenance(self) -> dict:
        return json.loads(self.transaction.provenance or "{}")


def history_query(volunteer):
    """Transactions touching the volunteer's account, newest first."""
    return (select(LedgerTransaction)
            .join(Posting, Posting.transaction_id == LedgerTransaction.id)
            .join(Account, Account.id == Posting.account_id)
            .where(Account.kind == "VOLUNTEER", Account.owner_id == str(volunteer.id))
            .distinct().order_by(LedgerTransaction.id.desc()))


def history_entries(volunteer, transactions: Iterable[LedgerTransaction]) -> list[HistoryEntry]:
    owner = str(volunteer.id)
    entries = []
    for row in transactions:
        mine = [p for p in row.postings
                if p.account.kind == "VOLUNTEER" and p.account.owner_id == owner]
        entries.append(HistoryEntry(row, sum(p.minutes for p in mine),
                                    any(p.earned_as_group for p in mine)))
    return entries


def star_level(service_minutes: int) -> int:
    """0-5 stars from cumulative verified service minutes (1★ 100 h ... 5★ 1,500 h)."""
    hours = service_minutes / 60
    return sum(1 for threshold in STAR_THRESHOLDS_HOURS if hours >= threshold)


def _service_minutes_query(until: datetime | None = None):
    issuer_account = db.aliased(Account)
    query = (select(LedgerTransaction.service_volunteer_id,
                    func.coalesce(func.sum(-Posting.minutes), 0))
             .join(Posting, Posting.transaction_id == LedgerTransaction.id)
             .join(issuer_account, issuer_account.id == Posting.account_id)
             .where(LedgerTransaction.service_volunteer_id.is_not(None),
                    LedgerTransaction.kind.in_(("MINT", "REVERSAL")),
                    issuer_account.kind == "ISSUANCE")
             .group_by(LedgerTransaction.service_volunteer_id))
    if until is not None:
        query = query.where(LedgerTransaction.created_at < until)
    return query


def service_minutes(volunteer) -> int:
    """Verified service minutes minted for the volunteer, reversals deducted, gifts excluded."""
    row = db.session.execute(_service_minutes_query().where(
        LedgerTransaction.service_volunteer_id == volunteer.id)).first()
    return int(row[1]) if row else 0


def newly_starred(since: datetime, *, by) -> list[dict]:
    """Volunteers in the caller's scope who reached a higher star level since `since`,
    for the organizer's public notice: [{volunteer, level, minutes}]."""
    from volunteer_hub.volunteers.models import Volunteer

    before = dict(db.session.execute(_service_minutes_query(until=since)).all())
    now = dict(db.session.execute(_service_minutes_query()).all())
    result = []
    ids = [vid for vid, minutes in now.items()
           if star_level(int(minutes)) > star_level(int(before.get(vid, 0)))]
    if not ids:
        return result
    volunteers = db.session.execute(select(Volunteer).where(
        Volunteer.id.in_(ids),
        path_filter(Volunteer.org_path, scope_paths(by, "timebank.read"))
    ).order_by(Volunteer.id)).scalars().all()
    for volunteer in volunteers:
        minutes = int(now[volunteer.id])
        result.append({"volunteer": volunteer, "level": star_level(minutes), "minutes": minutes})
    return result


# --- audit ----------------------------------------------------------------------------------

def _chain(batch: int) -> Iterator[ledger.ChainLink]:
    """(transaction, stored hash) in chain order, streamed from one joined query."""
    query = (select(LedgerTransaction.id, LedgerTransaction.kind, LedgerTransaction.created_at,
                    LedgerTransaction.idempotency_key, LedgerTransaction.reverses_id,
                    LedgerTransaction.hash, Account.kind, Account.owner_id, Posting.minutes,
                    Posting.earned_as_group)
             .outerjoin(Posting, Posting.transaction_id == LedgerTransaction.id)
             .outerjoin(Account, Account.id == Posting.account_id)
             .order_by(LedgerTransaction.id, Posting.id)
             .execution_options(yield_per=batch))
    current = None
    postings: list[ledger.Posting] = []
    for (tx_id, kind, created_at, key, reverses_id, stored, a_kind, owner, minutes,
         group) in db.session.execute(query):
        if current is None or current[0] != tx_id:
            if current is not None:
                yield _link(current, postings)
            current, postings = (tx_id, kind, created_at, key, reverses_id, stored), []
        if a_kind is not None:
            postings.append(ledger.Posting(ledger.account(AccountKind(a_kind), owner),
                                           int(minutes), bool(group)))
    if current is not None:
        yield _link(current, postings)


def _link(row, postings) -> ledger.ChainLink:
    tx_id, kind, created_at, key, reverses_id, stored = row
    tx = ledger.Transaction(id=str(tx_id), kind=ledger.TransactionKind(kind),
                            created_at=_aware(created_at), postings=tuple(postings),
                            idempotency_key=key,
                            reverses_id=str(reverses_id) if reverses_id is not None else None)
    return tx, stored


def verify_ledger(*, batch: int = 20_000) -> ledger.VerifyReport:
    """Check every transaction balances, every cached balance equals its postings, the chain
    is intact up to the stored head, and no balance breaks the policy."""
    cached = {
        ledger.account(AccountKind(kind), owner): Balance(int(individual), int(group))
        for kind, owner, individual, group in db.session.execute(select(
            Account.kind, Account.owner_id, Account.balance_individual, Account.balance_group))
        if individual or group
    }
    head = db.session.get(LedgerHead, HEAD_ID)
    posting_ids = (str(tx_id) for (tx_id,) in db.session.execute(
        select(Posting.transaction_id).distinct()))
    report = ledger.verify(_chain(batch), cached, posting_transaction_ids=posting_ids,
                           expected_head=head.hash if head else None)
    report.breaches.extend(ledger.check_invariants(cached, policy()))
    return report


def report_breaches(report: ledger.VerifyReport) -> None:
    """Log every breach as an error: they mean the ledger can no longer be trusted."""
    for breach in report.breaches:
        log.error("LEDGER BREACH %s transaction=%s account=%s: %s", breach.code,
                  breach.transaction_id, breach.account, breach.detail)
    if report.breaches:
        log.error("ledger verify: %d breach(es) in %d transactions", len(report.breaches),
                  report.transactions_checked)


def recent(days: int = 1) -> datetime:
    return utcnow() - timedelta(days=days)
