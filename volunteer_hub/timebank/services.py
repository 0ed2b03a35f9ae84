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
import queue
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Callable, Iterable

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import bindparam, func, select, text, tuple_
from sqlalchemy.exc import DBAPIError

from volunteer_hub.accounts.permissions import can, path_filter, require, scope_paths
from volunteer_hub.db import db, is_postgresql, transaction, utcnow
from volunteer_hub.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from volunteer_hub.timebank import checkpoints, ledger, merkle, signing, tree_store
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
    posting_ids = iter(_next_posting_ids(sum(len(plan.postings) for plan in plans)))
    first = None
    for index, plan in enumerate(plans):
        tx_id = head.last_transaction_id + 1
        values = {
            "id": tx_id, "kind": str(plan.kind), "created_at": now,
            "idempotency_key": key if index == 0 else f"{key}#{index}",
            "request_hash": fingerprint,
            "reverses_id": int(plan.reverses_id) if plan.reverses_id else None,
            "provenance": json.dumps(provenance if index == 0 else {"follows": first.id},
                                     ensure_ascii=False, sort_keys=True),
            "record_id": record_id if index == 0 else None,
            "service_volunteer_id": service_volunteer_id if index == 0 else None,
            "created_by_id": by.id if by is not None else None,
        }
        posting_rows = [{"id": next(posting_ids), "transaction_id": tx_id,
                         "account_id": accounts[posting.account].id, "minutes": posting.minutes,
                         "earned_as_group": posting.earned_as_group}
                        for posting in plan.postings]
        row = LedgerTransaction(**_chained(values, posting_rows, plan, head.hash))
        db.session.add(row)
        db.session.flush()  # the transaction row before its postings (foreign key)
        for posting, posting_row in zip(plan.postings, posting_rows):
            account_row = accounts[posting.account]
            db.session.add(Posting(**posting_row))
            if posting.earned_as_group:
                account_row.balance_group += posting.minutes
            else:
                account_row.balance_individual += posting.minutes
            account_row.version += 1
        head.last_transaction_id, head.hash = tx_id, row.hash
        first = first or row
    db.session.flush()
    return first


def _next_posting_ids(count: int) -> list[int]:
    """Ids for `count` new postings, taken before they are inserted because the chain hash
    covers them. Called under the chain-head lock (every ledger writer holds it, and SQLite
    writers hold the database write lock), so max + 1 cannot collide on SQLite."""
    if count == 0:
        return []
    if is_postgresql():
        return sorted(db.session.execute(text(
            "SELECT nextval(pg_get_serial_sequence('ledger_postings', 'id')) "
            "FROM generate_series(1, :count)"), {"count": count}).scalars())
    last = db.session.execute(select(func.coalesce(func.max(Posting.id), 0))).scalar_one()
    return list(range(last + 1, last + 1 + count))


def _chained(values: dict, postings: list[dict], plan: ledger.PlannedTransaction,
             prev_hash: str) -> dict:
    """`values` (a ledger_transactions row without its chain columns) with format_version,
    prev_hash and hash: the hash of exactly the values and posting rows that get inserted."""
    version = ledger.CANONICAL_FORMAT_VERSION
    stored = ledger.Transaction(
        id=str(values["id"]), kind=plan.kind, created_at=values["created_at"],
        postings=tuple(ledger.Posting(planned.account, row["minutes"], row["earned_as_group"],
                                      id=row["id"], account_id=row["account_id"])
                       for planned, row in zip(plan.postings, postings, strict=True)),
        idempotency_key=values["idempotency_key"],
        reverses_id=str(values["reverses_id"]) if values["reverses_id"] is not None else None,
        format_version=version, request_hash=values["request_hash"],
        provenance=values["provenance"], record_id=values["record_id"],
        service_volunteer_id=values["service_volunteer_id"],
        created_by_id=values["created_by_id"])
    row_hash = ledger.chain_hash(prev_hash, stored)
    # ids are given under the head lock from 1 without gaps: the row's chain position is id - 1
    key_id, mac = signing.mac_key_ring().sign(values["id"] - 1, row_hash)
    return {**values, "format_version": version, "prev_hash": prev_hash, "hash": row_hash,
            "mac_key_id": key_id, "mac": mac}


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

def mint_for_record(record, *, by) -> LedgerTransaction:
    """Mint a verified service record's minutes from its organization to the volunteer.

    The idempotency key is the record's own, so one record can never mint twice.
    """
    outcome = mint_for_records([mint_request(record)], by=by)
    if record.id in outcome.refused:
        raise outcome.refused[record.id]
    return db.session.get(LedgerTransaction, outcome.transaction_ids[record.id])


# --- batched mints ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MintRequest:
    """One verified record to mint; plain values, so a batch needs no ORM lookups."""

    record_id: int
    volunteer_id: int
    community_id: int  # the volunteer's: minutes above the person cap go to its pool
    org_id: int
    activity_id: int
    minutes: int
    group_earned: bool
    method: str
    verified_at: datetime


def mint_request(record) -> MintRequest:
    return MintRequest(
        record_id=record.id, volunteer_id=record.volunteer_id,
        community_id=record.volunteer.community_id, org_id=record.activity.org_id,
        activity_id=record.activity_id, minutes=record.minutes,
        group_earned=bool(record.activity.group_service), method=record.method,
        verified_at=record.verified_at or utcnow())


@dataclass
class MintOutcome:
    transaction_ids: dict[int, int]  # record id -> its MINT transaction id (new or replayed)
    refused: dict[int, DomainError]  # record id -> why nothing was minted
    replayed: set[int] = field(default_factory=set)  # minted before, by an earlier request


def _mint_key(record_id: int) -> str:
    return f"record:{record_id}:mint"


def _mint_fingerprint(request: MintRequest) -> str:
    return _fingerprint({"op": "mint", "record": request.record_id, "minutes": request.minutes})


def _mint_provenance(request: MintRequest, by) -> str:
    return json.dumps({"record_id": request.record_id, "activity_id": request.activity_id,
                       "org_id": request.org_id, "method": request.method,
                       "minutes": request.minutes, "verified_by": by.id if by else None,
                       "verified_at": request.verified_at.isoformat()},
                      ensure_ascii=False, sort_keys=True)


def _refusal(error: ledger.LedgerRuleError) -> LedgerRefused:
    return LedgerRefused(RULE_MESSAGES.get(error.code, _l("The ledger refused this.")),
                         code=error.code)


def mint_for_records(requests: list[MintRequest], *, by) -> MintOutcome:
    """Mint many verified records with the rules of one, in a handful of statements.

    One account lock set (id order, like `_write`), one chain-head lock, the plans and the
    hash chain computed in Python record after record (so two records of one volunteer see
    each other's balance for the person cap and the daily cap), then multi-row inserts of the
    transactions and postings, one UPDATE per touched account and one of the head. A record
    whose key already minted is replayed (same fingerprint) or refused (another one); a record
    the ledger rules refuse is reported in `refused` and the others still mint.
    """
    outcome = MintOutcome({}, {})
    if not requests:
        return outcome
    db.session.flush()  # earlier ORM writes of this unit of work come first on the chain
    rules = policy()
    refs = {r.record_id: (ledger.volunteer_account(str(r.volunteer_id)),
                          issuance_ref(r.org_id), pool_ref(r.community_id)) for r in requests}
    accounts = _lock_account_rows(ref for triple in refs.values() for ref in triple)
    head_id, head_hash = _lock_head_row()
    existing = _existing_keys([_mint_key(r.record_id) for r in requests])
    now = utcnow().astimezone(UTC)
    earned: dict[int, int] = {}
    if rules.daily_earning_cap_minutes:
        earned = _earned_today_by_account(
            [accounts[triple[0]][0] for triple in refs.values()], now)
    balances = {ref: Balance(row[1], row[2]) for ref, row in accounts.items()}
    chain = _ChainBatch(head_id, head_hash, now, by)
    for request in requests:
        key, fingerprint = _mint_key(request.record_id), _mint_fingerprint(request)
        if key in existing:
            tx_id, stored_fingerprint = existing[key]
            if stored_fingerprint != fingerprint:
                outcome.refused[request.record_id] = Conflict(
                    _l("This Idempotency-Key was already used with a different request."),
                    code="IDEMPOTENCY_KEY_REUSED")
            else:
                outcome.transaction_ids[request.record_id] = tx_id
                outcome.replayed.add(request.record_id)
            continue
        volunteer, issuer, pool = refs[request.record_id]
        volunteer_account_id = accounts[volunteer][0]
        try:
            plan = ledger.plan_mint(
                balances, volunteer=volunteer, issuer=issuer, pool=pool,
                minutes=request.minutes, group_earned=request.group_earned,
                earned_today=earned.get(volunteer_account_id, 0), policy=rules)
        except ledger.LedgerRuleError as error:
            outcome.refused[request.record_id] = _refusal(error)
            continue
        existing[key] = (chain.add(plan, key, fingerprint, accounts, request), fingerprint)
        outcome.transaction_ids[request.record_id] = existing[key][0]
        for posting in plan.postings:
            balances[posting.account] = balances.get(posting.account, ledger.ZERO_BALANCE).plus(
                posting.minutes, posting.earned_as_group)
            if posting.account == issuer:
                earned[volunteer_account_id] = earned.get(volunteer_account_id, 0) \
                    - posting.minutes
    chain.write()
    return outcome


class _ChainBatch:
    """Transactions hashed onto the chain in memory, written with multi-row statements."""

    def __init__(self, head_id: int, head_hash: str, now: datetime, by) -> None:
        self.last_id, self.last_hash = head_id, head_hash
        self.now, self.by = now, by
        self.planned: list[tuple[dict, list[dict], ledger.PlannedTransaction]] = []
        self.transactions: list[dict] = []
        self.postings: list[dict] = []
        self.deltas: dict[int, list[int]] = {}  # account id -> [individual, group, postings]

    def add(self, plan: ledger.PlannedTransaction, key: str, fingerprint: str,
            accounts: dict[AccountRef, tuple[int, int, int]], request: MintRequest) -> int:
        """Queue a MINT; it is hashed in `write`, once its postings' ids are known."""
        tx_id = self.last_id + len(self.planned) + 1
        values = {
            "id": tx_id, "kind": str(plan.kind), "created_at": self.now,
            "idempotency_key": key, "request_hash": fingerprint, "reverses_id": None,
            "provenance": _mint_provenance(request, self.by),
            "service_volunteer_id": request.volunteer_id, "record_id": request.record_id,
            "created_by_id": self.by.id if self.by is not None else None}
        postings = []
        for posting in plan.postings:
            account_id = accounts[posting.account][0]
            postings.append({"transaction_id": tx_id, "account_id": account_id,
                             "minutes": posting.minutes,
                             "earned_as_group": posting.earned_as_group})
            delta = self.deltas.setdefault(account_id, [0, 0, 0])
            delta[1 if posting.earned_as_group else 0] += posting.minutes
            delta[2] += 1
        self.planned.append((values, postings, plan))
        return tx_id

    def _hash_chain(self) -> None:
        posting_ids = iter(_next_posting_ids(sum(len(p) for _, p, _ in self.planned)))
        for values, postings, plan in self.planned:
            for posting in postings:
                posting["id"] = next(posting_ids)
            self.transactions.append(_chained(values, postings, plan, self.last_hash))
            self.postings.extend(postings)
            self.last_id, self.last_hash = values["id"], self.transactions[-1]["hash"]

    def write(self) -> None:
        if not self.planned:
            return
        self._hash_chain()
        connection = db.session.connection()
        connection.execute(LedgerTransaction.__table__.insert(), self.transactions)
        connection.execute(Posting.__table__.insert(), self.postings)
        accounts = Account.__table__
        connection.execute(
            accounts.update().where(accounts.c.id == bindparam("account_id")).values(
                balance_individual=accounts.c.balance_individual + bindparam("individual"),
                balance_group=accounts.c.balance_group + bindparam("group"),
                version=accounts.c.version + bindparam("postings")),
            [{"account_id": account_id, "individual": individual, "group": group,
              "postings": postings}
             for account_id, (individual, group, postings) in sorted(self.deltas.items())])
        heads = LedgerHead.__table__
        connection.execute(heads.update().where(heads.c.id == HEAD_ID).values(
            last_transaction_id=self.last_id, hash=self.last_hash))
        _expire_cached(Account, LedgerHead)  # ORM copies of the rows just updated in SQL


def _expire_cached(*models) -> None:
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, models):
            db.session.expire(instance)


def _lock_account_rows(refs: Iterable[AccountRef]) -> dict[AccountRef, tuple[int, int, int]]:
    """(id, individual, group) of each account, created if missing, locked in id order."""
    keys = sorted({(str(ref.kind), ref.owner_id) for ref in refs})
    locked = _select_accounts_for_update(keys)
    if len(locked) < len(keys):  # rare: first mint of a volunteer or organization
        _insert_ignore(Account, [{"kind": k, "owner_id": o, "balance_individual": 0,
                                  "balance_group": 0, "version": 0, "created_at": utcnow()}
                                 for k, o in keys if ledger.account(AccountKind(k), o)
                                 not in locked])
        locked = _select_accounts_for_update(keys)
    return locked


def _select_accounts_for_update(keys: list[tuple[str, str]]) \
        -> dict[AccountRef, tuple[int, int, int]]:
    table = Account.__table__
    rows = db.session.execute(
        select(table.c.id, table.c.kind, table.c.owner_id, table.c.balance_individual,
               table.c.balance_group)
        .where(tuple_(table.c.kind, table.c.owner_id).in_(keys))
        .order_by(table.c.id).with_for_update())
    return {ledger.account(AccountKind(kind), owner): (account_id, individual, group)
            for account_id, kind, owner, individual, group in rows}


def _lock_head_row() -> tuple[int, str]:
    table = LedgerHead.__table__
    query = select(table.c.last_transaction_id, table.c.hash).where(
        table.c.id == HEAD_ID).with_for_update()
    row = db.session.execute(query).first()
    if row is None:  # the very first write of the deployment
        _insert_ignore(LedgerHead, [{"id": HEAD_ID, "last_transaction_id": 0,
                                     "hash": ledger.GENESIS_HASH}])
        row = db.session.execute(query).one()
    return row[0], row[1]


def _existing_keys(keys: list[str]) -> dict[str, tuple[int, str]]:
    table = LedgerTransaction.__table__
    rows = db.session.execute(select(table.c.idempotency_key, table.c.id, table.c.request_hash)
                              .where(table.c.idempotency_key.in_(keys)))
    return {key: (tx_id, fingerprint) for key, tx_id, fingerprint in rows}


def _earned_today_by_account(account_ids: list[int], now: datetime) -> dict[int, int]:
    """Minutes minted today (local day) per volunteer account id, overflow included."""
    start = _local_midnight(now)
    issuer_posting = db.aliased(Posting)
    issuer_account = db.aliased(Account)
    rows = db.session.execute(
        select(Posting.account_id, func.coalesce(func.sum(-issuer_posting.minutes), 0))
        .join(LedgerTransaction, LedgerTransaction.id == Posting.transaction_id)
        .join(issuer_posting, issuer_posting.transaction_id == LedgerTransaction.id)
        .join(issuer_account, issuer_account.id == issuer_posting.account_id)
        .where(Posting.account_id.in_(set(account_ids)), LedgerTransaction.kind == "MINT",
               LedgerTransaction.created_at >= start, issuer_account.kind == "ISSUANCE")
        .group_by(Posting.account_id))
    return {account_id: int(minutes) for account_id, minutes in rows}


def _local_midnight(now: datetime) -> datetime:
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(now.astimezone(zone).date(), datetime.min.time(),
                            zone).astimezone(UTC)


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
    thresholds = current_app.config.get("STAR_THRESHOLDS_HOURS", STAR_THRESHOLDS_HOURS)
    return sum(1 for threshold in thresholds if hours >= threshold)


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

def verify_ledger(*, batch: int = 20_000, kept_checkpoints: Iterable[str] = ()) \
        -> ledger.VerifyReport:
    """`audit_ledger`'s report: see there."""
    return audit_ledger(batch=batch, kept_checkpoints=kept_checkpoints).report


@dataclass
class Audit:
    report: ledger.VerifyReport
    tree: merkle.MerkleTree
    ids: list[int]
    checkpoints: list[checkpoints.Checkpoint]  # the trusted ones it was compared with
    sealed_by: checkpoints.Checkpoint | None  # the first one covering every unauthenticated row


def audit_ledger(*, batch: int = 20_000, kept_checkpoints: Iterable[str] = (),
                 authenticate_each: bool = False) -> Audit:
    """Check every transaction balances, every cached balance equals its postings, the chain
    is intact up to the stored head, and no balance breaks the policy; that every row
    carries the service's MAC (FORGED) and that the Merkle tree of the rows extends every
    stored checkpoint and each of `kept_checkpoints` (texts): TRUNCATED, REWRITTEN.

    Transactions and postings are streamed as plain driver tuples in two ordered scans
    (server-side cursors on PostgreSQL) and merged by `ledger.verify_rows`; the balances the
    postings give are summed by the database (GROUP BY), not in Python.
    """
    _begin_consistent_snapshot()
    connection = db.session.connection()
    accounts = {account_id: (kind, owner) for account_id, kind, owner in connection.execute(
        select(Account.id, Account.kind, Account.owner_id))}
    head = connection.execute(select(LedgerHead.hash).where(LedgerHead.id == HEAD_ID)).first()
    driver = connection.connection.driver_connection
    leaves: list[bytes] = []
    ids: list[int] = []
    with _stream(driver, _transactions_sql(), batch, "ledger_verify_transactions") as rows, \
            _stream(driver, POSTINGS_SQL, batch, "ledger_verify_postings") as postings:
        report = ledger.verify_rows(rows, postings, accounts,
                                    expected_head=head[0] if head else None,
                                    authenticate=signing.mac_key_ring().check,
                                    leaves=leaves, ids=ids,
                                    authenticate_each=authenticate_each)
    if not authenticate_each and (report.last_mac_failed or not report.ok):
        # something is wrong: check every row's MAC to name the rows not written by us (same
        # transaction, so the same snapshot on PostgreSQL)
        return audit_ledger(batch=batch, kept_checkpoints=kept_checkpoints,
                            authenticate_each=True)
    cached = _cached_balances()
    ledger.compare_balances(report, _balances_from_postings(accounts), cached)
    report.breaches.extend(ledger.check_invariants(cached, policy()))
    tree = merkle.MerkleTree(leaves)
    del leaves
    trusted = _compare_with_checkpoints(report, tree, ids, kept_checkpoints)
    return Audit(report, tree, ids, trusted, _seal(report, trusted, ids))


def _compare_with_checkpoints(report: ledger.VerifyReport, tree: merkle.MerkleTree,
                              ids: list[int], kept: Iterable[str]) -> list[checkpoints.Checkpoint]:
    """Breaches for every checkpoint the ledger does not extend; the trusted ones."""
    verifiers = signing.checkpoint_verifiers()
    origin = signing.checkpoint_signer().name
    texts = [(path.name, path.read_text(encoding="utf-8"))
             for path in checkpoints.stored_paths()] + [("--checkpoint", t) for t in kept]
    trusted = []
    root = tree.root()
    for source, text_ in texts:
        try:
            checkpoint = checkpoints.verify_checkpoint(text_, verifiers)
        except checkpoints.CheckpointError as error:
            report.breaches.append(ledger.Breach(
                "CHECKPOINT_UNTRUSTED", f"{source}: {error} (another ledger's, or altered)"))
            continue
        if checkpoint.origin != origin:
            report.breaches.append(ledger.Breach(
                "CHECKPOINT_UNTRUSTED", f"{source}: checkpoint of another log "
                f"{checkpoint.origin}, this one is {origin}"))
            continue
        trusted.append(checkpoint)
        when = checkpoint.time.isoformat() if checkpoint.time else source
        if checkpoint.size > tree.size:
            first_missing = ids[-1] + 1 if ids else 1
            report.breaches.append(ledger.Breach(
                "TRUNCATED", f"the checkpoint of {when} covers {checkpoint.size} transactions, "
                f"the ledger has {tree.size}: transactions from {first_missing} are missing",
                str(first_missing)))
            continue
        proof = tree.consistency_proof(checkpoint.size)
        if not merkle.verify_consistency(checkpoint.size, tree.size, checkpoint.root, root,
                                         proof):
            last = ids[checkpoint.size - 1] if checkpoint.size else None
            report.breaches.append(ledger.Breach(
                "REWRITTEN", f"the first {checkpoint.size} transactions no longer hash to the "
                f"root signed in the checkpoint of {when}; the rewrite is at or before {last}",
                str(last) if last is not None else None))
    return trusted


def _seal(report: ledger.VerifyReport, trusted: list[checkpoints.Checkpoint],
          ids: list[int]) -> checkpoints.Checkpoint | None:
    """The first checkpoint covering every row that predates authentication. A checkpoint is
    made by code that authenticates every row, so unauthenticated rows after one are forged."""
    if not report.unauthenticated or not trusted:
        return None
    smallest = min(trusted, key=lambda c: c.size)
    if smallest.size < report.unauthenticated:
        report.breaches.append(ledger.Breach(
            "FORGED", f"{report.unauthenticated - smallest.size} transaction(s) without a MAC "
            f"after the checkpoint of size {smallest.size}", str(ids[smallest.size])))
        return None
    return smallest


class CheckpointRefused(Exception):
    """The ledger fails its audit: a checkpoint would seal the breach."""

    def __init__(self, report: ledger.VerifyReport) -> None:
        super().__init__(f"{len(report.breaches)} ledger breach(es): no checkpoint made")
        self.report = report


def make_checkpoint(*, batch: int = 20_000, audit: Audit | None = None, full: bool = False) \
        -> tuple[checkpoints.Checkpoint, dict[str, str]]:
    """Sign a checkpoint of the ledger, store it and send it to the witnesses: (checkpoint,
    witness results).

    Usually only the transactions since the last checkpoint are read: they must follow its
    chain hash and carry the service's MACs (else CheckpointRefused), and their leaves are
    added to the tree store (tree_store), whose root at the last checkpoint's size must be
    that checkpoint's signed root. Without a usable store (first checkpoint, store lost or
    not matching), with `full`, or given an `audit`, the whole ledger is audited instead and
    the store rebuilt from it."""
    app = current_app._get_current_object()
    with tree_store.locked(checkpoints.directory(app) / "tree"):
        return _make_checkpoint(app, batch, audit, full)


def _make_checkpoint(app, batch: int, audit: Audit | None, full: bool) \
        -> tuple[checkpoints.Checkpoint, dict[str, str]]:
    tree = tree_store.FileTree(checkpoints.directory(app) / "tree")
    try:
        delta = None if full or audit is not None else _audited_delta(tree, batch)
        if delta is None:
            audit = audit or audit_ledger(batch=batch)
            if not audit.report.ok:
                raise CheckpointRefused(audit.report)
            tree.replace_with(audit.tree, head_hash=audit.report.head_hash,
                              last_id=audit.ids[-1] if audit.ids else 0)
        else:
            leaves, head_hash, last_id = delta
            tree.append_leaves(leaves, head_hash=head_hash, last_id=last_id)
        text_ = checkpoints.make_checkpoint(signing.checkpoint_signer(app), tree.size,
                                            tree.root(), utcnow().astimezone(UTC))
    finally:
        tree.close()
    checkpoint = checkpoints.parse_checkpoint(text_)
    checkpoints.store(app, checkpoint)
    return checkpoint, checkpoints.send_to_witnesses(app, checkpoint)


def _audited_delta(tree: tree_store.FileTree, batch: int) \
        -> tuple[list[bytes], str, int] | None:
    """(leaves, head hash, last id) of the transactions after the tree store's, checked; None
    when the store cannot be trusted to extend the latest checkpoint."""
    latest = checkpoints.latest()
    if latest is None or tree.head_hash is None or not 0 < latest.size <= tree.size \
            or tree.root(latest.size) != latest.root:
        if latest is not None:
            log.warning("ledger tree store does not extend the latest checkpoint: full audit")
        return None
    _begin_consistent_snapshot()
    connection = db.session.connection()
    accounts = {account_id: (kind, owner) for account_id, kind, owner in connection.execute(
        select(Account.id, Account.kind, Account.owner_id))}
    head = connection.execute(select(LedgerHead.hash).where(LedgerHead.id == HEAD_ID)).first()
    driver = connection.connection.driver_connection
    leaves: list[bytes] = []
    ids: list[int] = []
    postings_sql = POSTINGS_SQL.replace(
        "ORDER BY", f"WHERE transaction_id > {int(tree.last_id)} ORDER BY")
    with _stream(driver, _transactions_sql(tree.last_id), batch, "ledger_delta") as rows, \
            _stream(driver, postings_sql, batch, "ledger_delta_postings") as postings:
        report = ledger.verify_rows(
            rows, postings, accounts, expected_head=head[0] if head else None,
            authenticate=signing.mac_key_ring().check, leaves=leaves, ids=ids,
            after=ledger.ChainPoint(tree.size, tree.head_hash, tree.last_id))  # each row: few
    if not report.ok:
        raise CheckpointRefused(report)
    return leaves, report.head_hash, ids[-1] if ids else tree.last_id


POSTINGS_SQL = ("SELECT transaction_id, id, account_id, minutes, earned_as_group "
                "FROM ledger_postings ORDER BY transaction_id, id")


def _transactions_sql(after_id: int | None = None) -> str:
    # The database formats the timestamp as ledger._iso_utc does, off the Python loop. SQLite
    # holds UTCDateTime as naive UTC text 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format).
    if is_postgresql():
        created = ("to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') "
                   "|| '+00:00'")
    else:
        created = "replace(created_at, ' ', 'T') || '+00:00'"
    return (f"SELECT id, kind, {created}, idempotency_key, reverses_id, prev_hash, hash, "
            "format_version, request_hash, provenance, record_id, service_volunteer_id, "
            "created_by_id, mac_key_id, mac FROM ledger_transactions "
            f"{'' if after_id is None else f'WHERE id > {int(after_id)} '}ORDER BY id")


class _stream:
    """Rows of `sql` fetched `batch` at a time: a named (server-side) cursor on PostgreSQL.

    On PostgreSQL a thread fetches the next batches while the caller hashes the current one,
    so the server's work overlaps the verifier's Python instead of alternating with it (the
    driver releases the GIL while it waits on the socket). SQLite's connection stays on the
    calling thread."""

    PREFETCH = 2  # batches held ahead of the caller

    def __init__(self, driver_connection, sql: str, batch: int, name: str) -> None:
        if is_postgresql():
            self.cursor = driver_connection.cursor(name=name)
            self.cursor.itersize = batch
        else:
            self.cursor = driver_connection.cursor()
            self.cursor.arraysize = batch
        self.sql, self.batch, self.name = sql, batch, name
        self.fetcher: threading.Thread | None = None
        self.batches: queue.Queue = queue.Queue(maxsize=self.PREFETCH)
        self.stopping = threading.Event()

    def __enter__(self):
        self.cursor.execute(self.sql)
        if not is_postgresql():
            return iter(self.cursor)
        self.fetcher = threading.Thread(target=self._fetch, name=self.name, daemon=True)
        self.fetcher.start()
        return self._rows()

    def _fetch(self) -> None:
        try:
            while not self.stopping.is_set():
                rows = self.cursor.fetchmany(self.batch)
                self.batches.put(rows)
                if not rows:
                    return
        except BaseException as error:  # handed to the caller's thread, raised there
            self.batches.put(error)

    def _rows(self):
        while True:
            rows = self.batches.get()
            if isinstance(rows, BaseException):
                raise rows
            if not rows:
                return
            yield from rows

    def __exit__(self, *exc_info) -> None:
        if self.fetcher is not None:  # a caller that stopped early: let the fetcher finish
            self.stopping.set()
            while self.fetcher.is_alive():
                try:
                    self.batches.get(timeout=0.05)
                except queue.Empty:
                    pass
        self.cursor.close()


def _begin_consistent_snapshot() -> None:
    """On PostgreSQL read everything from one snapshot (REPEATABLE READ), so writes that
    commit during the audit cannot look like breaches. Inside a caller's transaction the
    caller's isolation applies."""
    if is_postgresql() and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def _balances_from_postings(accounts: dict[int, tuple[str, str]]) -> dict[AccountRef, Balance]:
    sums: dict[AccountRef, list[int]] = {}
    for account_id, group, minutes in db.session.execute(
            select(Posting.account_id, Posting.earned_as_group, func.sum(Posting.minutes))
            .group_by(Posting.account_id, Posting.earned_as_group)):
        kind, owner = accounts.get(account_id, ("?", str(account_id)))
        ref = ledger.account(AccountKind(kind), owner) if kind in AccountKind.__members__ \
            else AccountRef(AccountKind.VOLUNTEER, f"?{account_id}")
        sums.setdefault(ref, [0, 0])[1 if group else 0] += int(minutes)
    return {ref: Balance(*values) for ref, values in sums.items() if values != [0, 0]}


def _cached_balances() -> dict[AccountRef, Balance]:
    return {
        ledger.account(AccountKind(kind), owner): Balance(int(individual), int(group))
        for kind, owner, individual, group in db.session.execute(select(
            Account.kind, Account.owner_id, Account.balance_individual, Account.balance_group))
        if individual or group
    }


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
