"""Pure rules of the time-bank ledger (时间银行账本).

No Flask, no SQLAlchemy, standard library only. The persistence layer loads the
balances it needs, asks a ``plan_*`` function for a :class:`PlannedTransaction`,
stamps it with an id / timestamp / idempotency key (:meth:`PlannedTransaction.materialize`),
computes :func:`chain_hash` against the previous head and writes everything in one
database transaction.

Typical write path (inside one DB transaction, holding the chain-head lock)::

    plan = plan_gift(balances, giver=..., recipient=..., minutes=60, ...)  # or raises
    tx = plan.materialize(id=new_id, created_at=now_utc, idempotency_key=key)
    row_hash = chain_hash(previous_row_hash, tx)       # store next to the row
    balances = apply(balances, tx.postings)            # the cached balance rows

Audit: stream ``(Transaction, stored hash)`` pairs in chain order into :func:`verify`,
building postings with :func:`account` so account objects are shared.

Units and invariants
--------------------
* 1 hour of volunteer service = 60 minutes of credit (时间币); every amount is an
  integer number of minutes.
* Double entry: every transaction has two or more non-zero postings summing to zero.
* ISSUANCE accounts (one per organization) mint credit and therefore go negative by
  design; VOLUNTEER, POOL and REDEMPTION accounts never go negative, in either bucket.
* A balance is split into an *individual* bucket and a *group* bucket. Group-earned
  minutes (团体服务时长) may only be donated (or expire, or overflow to the pool);
  they cannot be gifted or redeemed. The flag is only meaningful on VOLUNTEER
  postings; every other posting uses the individual bucket.
* A volunteer's total balance never exceeds ``Policy.person_cap_minutes``.
* The sum of all balances of a consistent ledger is zero.

Design choices (see the individual planners for details)
--------------------------------------------------------
* Cap overflow on *earning* (mint, serving a redemption): the part above the cap is
  credited to the POOL in the same transaction, so a reversal negates it exactly.
* Cap overflow on *gifts*: refused (PERSON_CAP_EXCEEDED); the giver keeps the minutes.
* Daily earning cap: a record is clipped to what is left of today's allowance; it is
  refused (DAILY_CAP_REACHED) only when nothing is left.
* Spouse (配偶) is not strictly 直系亲属, but it is accepted by default because most
  municipal time-bank rules allow it; ``Policy.spouse_counts_as_direct_relative``.
* Expiry is FIFO without lots: spending is assumed to consume the oldest minutes
  first, so what is expirable is whatever the bucket holds beyond the credits
  received inside the expiry window.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import ClassVar, TypeAlias

MINUTES_PER_HOUR = 60
GENESIS_HASH = "0" * 64
CANONICAL_FORMAT_VERSION = 2
"""The canonical byte format new transactions are hashed with (see :func:`canonical_bytes`);
format 1 rows written before it still verify."""


class AccountKind(enum.StrEnum):
    VOLUNTEER = "VOLUNTEER"
    ISSUANCE = "ISSUANCE"
    POOL = "POOL"
    REDEMPTION = "REDEMPTION"


NON_NEGATIVE_KINDS = frozenset({AccountKind.VOLUNTEER, AccountKind.POOL, AccountKind.REDEMPTION})


class TransactionKind(enum.StrEnum):
    MINT = "MINT"
    GIFT = "GIFT"
    DONATION = "DONATION"
    REDEMPTION = "REDEMPTION"
    REVERSAL = "REVERSAL"
    EXPIRY = "EXPIRY"
    CAP_OVERFLOW = "CAP_OVERFLOW"


class Relationship(enum.StrEnum):
    PARENT = "PARENT"
    CHILD = "CHILD"
    SPOUSE = "SPOUSE"
    GRANDPARENT = "GRANDPARENT"
    GRANDCHILD = "GRANDCHILD"
    SIBLING = "SIBLING"
    OTHER = "OTHER"


LINEAL_RELATIVES = frozenset(
    {Relationship.PARENT, Relationship.CHILD, Relationship.GRANDPARENT, Relationship.GRANDCHILD}
)


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, order=True)
class AccountRef:
    """Key of a ledger account. ``owner_id`` is the stringified volunteer /
    organization / community / redemption id."""

    kind: AccountKind
    owner_id: str
    _hash: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the verifier hashes account keys ~2 million times per audit; the generated
        # __hash__ goes through Enum.__hash__ in Python on every call
        object.__setattr__(self, "_hash", hash((str(self.kind), self.owner_id)))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[AccountRef], tuple[AccountKind, str]]:
        # string hashes differ between processes: rebuild instead of pickling _hash
        return (AccountRef, (self.kind, self.owner_id))


@functools.lru_cache(maxsize=1 << 18)
def account(kind: AccountKind, owner_id: str) -> AccountRef:
    """Interned AccountRef: loaders should use this so a million postings share a
    few thousand account objects instead of allocating one each."""
    return AccountRef(kind, owner_id)


def volunteer_account(volunteer_id: str) -> AccountRef:
    return account(AccountKind.VOLUNTEER, volunteer_id)


def issuance_account(organization_id: str) -> AccountRef:
    return account(AccountKind.ISSUANCE, organization_id)


def pool_account(pool_id: str) -> AccountRef:
    return account(AccountKind.POOL, pool_id)


def redemption_account(redemption_id: str) -> AccountRef:
    return account(AccountKind.REDEMPTION, redemption_id)


@dataclass(frozen=True, slots=True)
class Balance:
    individual: int = 0
    group: int = 0

    @property
    def total(self) -> int:
        return self.individual + self.group

    def plus(self, minutes: int, earned_as_group: bool) -> Balance:
        if earned_as_group:
            return Balance(self.individual, self.group + minutes)
        return Balance(self.individual + minutes, self.group)


ZERO_BALANCE = Balance()

Balances: TypeAlias = Mapping[AccountRef, Balance]


@dataclass(frozen=True, slots=True, order=True)
class Posting:
    """A posting; ``id`` and ``account_id`` are its stored row's (format 2 hashes them),
    unknown (None) while planning and ignored by comparisons."""

    account: AccountRef
    minutes: int
    earned_as_group: bool = False
    id: int | None = field(default=None, compare=False)
    account_id: int | None = field(default=None, compare=False)

    def negated(self) -> Posting:
        return Posting(self.account, -self.minutes, self.earned_as_group)


@dataclass(frozen=True, slots=True)
class Transaction:
    """A persisted (or about to be persisted) transaction.

    Deliberately not validated on construction: the verifier must be able to
    represent tampered rows loaded from the database."""

    id: str
    kind: TransactionKind
    created_at: datetime
    postings: tuple[Posting, ...]
    idempotency_key: str | None = None
    reverses_id: str | None = None
    # the stored row's other columns: format 1 hashes none of them, format 2 all
    format_version: int = 1
    request_hash: str | None = None
    provenance: str | None = None
    record_id: int | None = None
    service_volunteer_id: int | None = None
    created_by_id: int | None = None


@dataclass(frozen=True, slots=True)
class PlannedTransaction:
    """Output of a planner: always balanced, ≥ 2 postings, no zero posting."""

    kind: TransactionKind
    postings: tuple[Posting, ...]
    reverses_id: str | None = None

    def __post_init__(self) -> None:
        validate_postings(self.postings)

    def materialize(
        self, *, id: str, created_at: datetime, idempotency_key: str | None = None
    ) -> Transaction:
        return Transaction(
            id=id,
            kind=self.kind,
            created_at=created_at,
            postings=self.postings,
            idempotency_key=idempotency_key,
            reverses_id=self.reverses_id,
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """Per deployment / organization settings."""

    person_cap_minutes: int = 1500 * MINUTES_PER_HOUR
    daily_earning_cap_minutes: int | None = None
    redemption_age: int = 60
    gifts_only_to_direct_relatives: bool = True
    spouse_counts_as_direct_relative: bool = True
    expiry_days: int | None = None

    def __post_init__(self) -> None:
        if self.person_cap_minutes <= 0:
            raise ValueError("person_cap_minutes must be positive")
        if self.daily_earning_cap_minutes is not None and self.daily_earning_cap_minutes <= 0:
            raise ValueError("daily_earning_cap_minutes must be positive or None")
        if self.expiry_days is not None and self.expiry_days <= 0:
            raise ValueError("expiry_days must be positive or None")

    def allowed_gift_relationships(self) -> frozenset[Relationship]:
        if self.spouse_counts_as_direct_relative:
            return LINEAL_RELATIVES | {Relationship.SPOUSE}
        return LINEAL_RELATIVES


# --------------------------------------------------------------------------- errors


class LedgerRuleError(Exception):
    """A request the ledger rules refuse. ``code`` is stable and safe to show to
    API clients / map to translated messages."""

    code: ClassVar[str] = "LEDGER_RULE"

    def __init__(self, detail: str, *, account: AccountRef | None = None) -> None:
        super().__init__(f"{self.code}: {detail}")
        self.detail = detail
        self.account = account


class InsufficientBalance(LedgerRuleError):
    code = "INSUFFICIENT_BALANCE"


class GroupHoursDonationOnly(LedgerRuleError):
    code = "GROUP_HOURS_DONATION_ONLY"


class NotDirectRelative(LedgerRuleError):
    code = "NOT_DIRECT_RELATIVE"


class RelationshipUnconfirmed(LedgerRuleError):
    code = "RELATIONSHIP_UNCONFIRMED"


class BelowRedemptionAge(LedgerRuleError):
    code = "BELOW_REDEMPTION_AGE"


class AlreadyReversed(LedgerRuleError):
    code = "ALREADY_REVERSED"


class ReversalOfReversal(LedgerRuleError):
    code = "REVERSAL_OF_REVERSAL"


class ReversalOverdraft(LedgerRuleError):
    code = "REVERSAL_OVERDRAFT"


class Unbalanced(LedgerRuleError):
    code = "UNBALANCED"


class ZeroPosting(LedgerRuleError):
    code = "ZERO_POSTING"


class TooFewPostings(LedgerRuleError):
    code = "TOO_FEW_POSTINGS"


class NonPositiveAmount(LedgerRuleError):
    code = "NON_POSITIVE_AMOUNT"


class DailyCapReached(LedgerRuleError):
    code = "DAILY_CAP_REACHED"


class PersonCapExceeded(LedgerRuleError):
    code = "PERSON_CAP_EXCEEDED"


class SameAccount(LedgerRuleError):
    code = "SAME_ACCOUNT"


class WrongAccountKind(LedgerRuleError):
    code = "WRONG_ACCOUNT_KIND"


class ExpiryDisabled(LedgerRuleError):
    code = "EXPIRY_DISABLED"


# --------------------------------------------------------------------------- helpers


def validate_postings(postings: Sequence[Posting]) -> None:
    """Raise unless the postings form a valid double-entry transaction."""
    if len(postings) < 2:
        raise TooFewPostings(f"{len(postings)} posting(s), need at least 2")
    for posting in postings:
        if posting.minutes == 0:
            raise ZeroPosting("zero-amount posting", account=posting.account)
    total = sum(p.minutes for p in postings)
    if total != 0:
        raise Unbalanced(f"postings sum to {total}, not 0")


def _require_positive(minutes: int) -> None:
    if minutes <= 0:
        raise NonPositiveAmount(f"amount must be positive, got {minutes}")


def _require_kind(ref: AccountRef, *kinds: AccountKind) -> None:
    if ref.kind not in kinds:
        allowed = "/".join(kinds)
        raise WrongAccountKind(f"{ref.kind} account where {allowed} expected", account=ref)


def _require_distinct(a: AccountRef, b: AccountRef) -> None:
    if a == b:
        raise SameAccount("source and destination are the same account", account=a)


def _balance(balances: Balances, ref: AccountRef) -> Balance:
    return balances.get(ref, ZERO_BALANCE)


def _require_individual_minutes(balance: Balance, minutes: int, ref: AccountRef) -> None:
    if balance.individual >= minutes:
        return
    if balance.total >= minutes:
        raise GroupHoursDonationOnly(
            f"only {balance.individual} individually earned minutes; group-earned minutes can only be donated",
            account=ref,
        )
    raise InsufficientBalance(f"balance {balance.total} < {minutes}", account=ref)


def _room_under_cap(balances: Balances, volunteer: AccountRef, policy: Policy) -> int:
    return max(0, policy.person_cap_minutes - _balance(balances, volunteer).total)


def _split_group_first(balance: Balance, minutes: int) -> tuple[int, int]:
    """(individual, group) parts of ``minutes`` taken from ``balance``, consuming the
    donation-only group bucket first because it is the less useful one."""
    from_group = min(balance.group, minutes)
    return minutes - from_group, from_group


def _debits(ref: AccountRef, individual: int, group: int) -> list[Posting]:
    postings = []
    if individual:
        postings.append(Posting(ref, -individual, False))
    if group:
        postings.append(Posting(ref, -group, True))
    return postings


def _net(postings: Iterable[Posting]) -> tuple[Posting, ...]:
    """Merge postings on the same (account, bucket) and drop the zeros."""
    sums: dict[tuple[AccountRef, bool], int] = {}
    for p in postings:
        key = (p.account, p.earned_as_group)
        sums[key] = sums.get(key, 0) + p.minutes
    return tuple(Posting(acc, m, grp) for (acc, grp), m in sums.items() if m != 0)


def _credit_with_overflow(
    balances: Balances,
    earner: AccountRef,
    pool: AccountRef,
    minutes: int,
    earned_as_group: bool,
    policy: Policy,
) -> list[Posting]:
    """Credit ``earner``; the part above the person cap goes to ``pool`` instead."""
    if earner.kind is not AccountKind.VOLUNTEER:
        return [Posting(earner, minutes, False)]
    to_earner = min(minutes, _room_under_cap(balances, earner, policy))
    return [Posting(earner, to_earner, earned_as_group), Posting(pool, minutes - to_earner, False)]


# --------------------------------------------------------------------------- planners


def plan_mint(
    balances: Balances,
    *,
    volunteer: AccountRef,
    issuer: AccountRef,
    pool: AccountRef,
    minutes: int,
    group_earned: bool,
    earned_today: int,
    policy: Policy,
) -> PlannedTransaction:
    """Credit a verified service record.

    ``earned_today`` = minutes already minted today for this volunteer (i.e. the
    issuer debits, overflow included). The daily cap *clips* the record to the
    remaining allowance and refuses (DAILY_CAP_REACHED) only when none is left; the
    minted amount is ``-issuer posting``, so the service can show what was cut.
    Above ``person_cap_minutes`` the excess is credited to ``pool`` in the same
    MINT transaction, so reversing the mint takes it back from the pool exactly.
    """
    _require_positive(minutes)
    _require_kind(volunteer, AccountKind.VOLUNTEER)
    _require_kind(issuer, AccountKind.ISSUANCE)
    _require_kind(pool, AccountKind.POOL)
    minted = minutes
    if policy.daily_earning_cap_minutes is not None:
        remaining_today = policy.daily_earning_cap_minutes - earned_today
        if remaining_today <= 0:
            raise DailyCapReached(
                f"already earned {earned_today} of {policy.daily_earning_cap_minutes} minutes today",
                account=volunteer,
            )
        minted = min(minutes, remaining_today)
    credits = _credit_with_overflow(balances, volunteer, pool, minted, group_earned, policy)
    return PlannedTransaction(TransactionKind.MINT, _net([Posting(issuer, -minted), *credits]))


def plan_gift(
    balances: Balances,
    *,
    giver: AccountRef,
    recipient: AccountRef,
    minutes: int,
    relationship: Relationship | None,
    relationship_confirmed: bool,
    policy: Policy,
) -> PlannedTransaction:
    """Gift individually earned minutes to a relative (亲属转赠).

    ``relationship`` is what the recipient is to the giver. With
    ``gifts_only_to_direct_relatives`` only lineal relatives (and, by default, the
    spouse) qualify and the relationship must have been confirmed. Gifts never
    overflow: a gift that would push the recipient above the cap is refused.
    """
    _require_positive(minutes)
    _require_kind(giver, AccountKind.VOLUNTEER)
    _require_kind(recipient, AccountKind.VOLUNTEER)
    _require_distinct(giver, recipient)
    if policy.gifts_only_to_direct_relatives:
        if relationship not in policy.allowed_gift_relationships():
            raise NotDirectRelative(
                f"relationship {relationship} is not a direct relative", account=recipient
            )
        if not relationship_confirmed:
            raise RelationshipUnconfirmed(
                "the relationship has not been confirmed", account=recipient
            )
    _require_individual_minutes(_balance(balances, giver), minutes, giver)
    if _room_under_cap(balances, recipient, policy) < minutes:
        raise PersonCapExceeded(
            f"recipient would exceed the cap of {policy.person_cap_minutes} minutes",
            account=recipient,
        )
    return PlannedTransaction(
        TransactionKind.GIFT, (Posting(giver, -minutes, False), Posting(recipient, minutes, False))
    )


def plan_donation(
    balances: Balances, *, donor: AccountRef, pool: AccountRef, minutes: int
) -> PlannedTransaction:
    """Donate to the community pool (group-earned minutes are used first)."""
    _require_positive(minutes)
    _require_kind(donor, AccountKind.VOLUNTEER)
    _require_kind(pool, AccountKind.POOL)
    balance = _balance(balances, donor)
    if balance.total < minutes:
        raise InsufficientBalance(f"balance {balance.total} < {minutes}", account=donor)
    individual, group = _split_group_first(balance, minutes)
    return PlannedTransaction(
        TransactionKind.DONATION,
        (*_debits(donor, individual, group), Posting(pool, minutes, False)),
    )


def plan_redemption(
    balances: Balances,
    *,
    payer: AccountRef,
    provider: AccountRef,
    pool: AccountRef,
    minutes: int,
    policy: Policy,
    payer_age: int | None = None,
) -> PlannedTransaction:
    """Pay for a service with time credit (兑换).

    ``payer`` is either the holder's VOLUNTEER account (the holder must be at least
    ``redemption_age``; only individually earned minutes) or a POOL account paying
    on behalf of a beneficiary (eligibility of the beneficiary is the service's
    call, no age check here). ``provider`` is the serving VOLUNTEER, who earns the
    minutes (above the cap they overflow to ``pool``), or a REDEMPTION clearing
    account for a non-volunteer provider. No community check: 通存通兑.
    """
    _require_positive(minutes)
    _require_kind(payer, AccountKind.VOLUNTEER, AccountKind.POOL)
    _require_kind(provider, AccountKind.VOLUNTEER, AccountKind.REDEMPTION)
    _require_kind(pool, AccountKind.POOL)
    _require_distinct(payer, provider)
    balance = _balance(balances, payer)
    if payer.kind is AccountKind.VOLUNTEER:
        if payer_age is None or payer_age < policy.redemption_age:
            raise BelowRedemptionAge(
                f"holder age {payer_age} is below the redemption age {policy.redemption_age}",
                account=payer,
            )
        _require_individual_minutes(balance, minutes, payer)
    elif balance.total < minutes:
        raise InsufficientBalance(f"pool balance {balance.total} < {minutes}", account=payer)
    credits = _credit_with_overflow(balances, provider, pool, minutes, False, policy)
    postings = _net([Posting(payer, -minutes, False), *credits])
    if len(postings) < 2:
        # the pool paying a capped volunteer would only move minutes back to itself
        raise PersonCapExceeded("the serving volunteer is at the cap", account=provider)
    return PlannedTransaction(TransactionKind.REDEMPTION, postings)


def plan_cap_overflow(
    balances: Balances, *, volunteer: AccountRef, pool: AccountRef, policy: Policy
) -> PlannedTransaction | None:
    """Move whatever a volunteer holds above the cap to the pool (None if nothing).

    Needed after a reversal hands minutes back, or after a policy lowers the cap."""
    _require_kind(volunteer, AccountKind.VOLUNTEER)
    _require_kind(pool, AccountKind.POOL)
    balance = _balance(balances, volunteer)
    excess = balance.total - policy.person_cap_minutes
    if excess <= 0:
        return None
    individual, group = _split_group_first(balance, excess)
    return PlannedTransaction(
        TransactionKind.CAP_OVERFLOW,
        (*_debits(volunteer, individual, group), Posting(pool, excess, False)),
    )


def plan_reversal(
    balances: Balances,
    *,
    original: Transaction,
    already_reversed: bool,
    pool: AccountRef,
    policy: Policy,
) -> list[PlannedTransaction]:
    """Reverse ``original`` exactly: the first planned transaction is a REVERSAL
    whose postings are the original's negated, linked through ``reverses_id``.

    Refused (REVERSAL_OVERDRAFT, naming the account) if any non-issuance account
    would go negative in either bucket — e.g. the volunteer already spent the
    minted minutes; the service must then resolve it (claw back, write off, or
    reverse the later spending first). Reversals themselves are not reversible:
    redo the original instead. If the reversal hands a volunteer back minutes
    above the cap, CAP_OVERFLOW transactions follow; write all of them atomically.
    """
    if original.kind is TransactionKind.REVERSAL:
        raise ReversalOfReversal(f"{original.id} is itself a reversal")
    if already_reversed:
        raise AlreadyReversed(f"{original.id} has already been reversed")
    reversal = PlannedTransaction(
        TransactionKind.REVERSAL,
        tuple(p.negated() for p in original.postings),
        reverses_id=original.id,
    )
    after = apply(balances, reversal.postings)
    for ref in {p.account for p in reversal.postings}:
        balance = _balance(after, ref)
        if ref.kind in NON_NEGATIVE_KINDS and (balance.individual < 0 or balance.group < 0):
            raise ReversalOverdraft(
                f"reversing {original.id} would leave {ref.kind} {ref.owner_id} at {balance}",
                account=ref,
            )
    plans = [reversal]
    credited = sorted(
        {
            p.account
            for p in reversal.postings
            if p.minutes > 0 and p.account.kind is AccountKind.VOLUNTEER
        }
    )
    for ref in credited:
        overflow = plan_cap_overflow(after, volunteer=ref, pool=pool, policy=policy)
        if overflow is not None:
            plans.append(overflow)
            after = apply(after, overflow.postings)
    return plans


def expiry_cutoff(now: datetime, policy: Policy) -> datetime | None:
    """Credits received at or after this instant are still fresh (None: no expiry)."""
    if policy.expiry_days is None:
        return None
    return now - timedelta(days=policy.expiry_days)


def plan_expiry(
    balances: Balances,
    *,
    volunteer: AccountRef,
    issuer: AccountRef,
    recent_credits: Balance,
    policy: Policy,
) -> PlannedTransaction | None:
    """Expire minutes older than ``policy.expiry_days`` back to ``issuer``.

    Simple FIFO without lots: ``recent_credits`` is, per bucket, the sum of the
    positive postings this account received since :func:`expiry_cutoff`. Spending
    is assumed to consume the oldest minutes first, so the expirable part of a
    bucket is what it holds beyond its recent credits. Returns None when nothing
    is old enough.
    """
    if policy.expiry_days is None:
        raise ExpiryDisabled("this policy never expires credit")
    _require_kind(volunteer, AccountKind.VOLUNTEER)
    _require_kind(issuer, AccountKind.ISSUANCE)
    balance = _balance(balances, volunteer)
    individual = max(0, balance.individual - recent_credits.individual)
    group = max(0, balance.group - recent_credits.group)
    if individual + group == 0:
        return None
    return PlannedTransaction(
        TransactionKind.EXPIRY,
        (*_debits(volunteer, individual, group), Posting(issuer, individual + group, False)),
    )


# --------------------------------------------------------------------------- state


def apply(balances: Balances, postings: Iterable[Posting]) -> dict[AccountRef, Balance]:
    """New balances after ``postings`` (input untouched; zero balances dropped so
    that equal ledgers compare equal)."""
    result = dict(balances)
    for p in postings:
        updated = result.get(p.account, ZERO_BALANCE).plus(p.minutes, p.earned_as_group)
        if updated == ZERO_BALANCE:
            result.pop(p.account, None)
        else:
            result[p.account] = updated
    return result


@dataclass(frozen=True, slots=True)
class Breach:
    """One inconsistency found by :func:`check_invariants` or :func:`verify`."""

    code: str
    detail: str
    transaction_id: str | None = None
    account: AccountRef | None = None


def check_invariants(balances: Balances, policy: Policy) -> list[Breach]:
    """Balance-level invariants: no negative bucket outside ISSUANCE, volunteers
    within the person cap, and the whole ledger sums to zero."""
    breaches: list[Breach] = []
    total = 0
    for ref, balance in balances.items():
        total += balance.total
        if ref.kind in NON_NEGATIVE_KINDS and (balance.individual < 0 or balance.group < 0):
            breaches.append(Breach("NEGATIVE_BALANCE", f"{balance}", account=ref))
        if ref.kind is AccountKind.VOLUNTEER and balance.total > policy.person_cap_minutes:
            breaches.append(
                Breach(
                    "PERSON_CAP_EXCEEDED",
                    f"{balance.total} > {policy.person_cap_minutes}",
                    account=ref,
                )
            )
    if total != 0:
        breaches.append(Breach("LEDGER_NOT_ZERO_SUM", f"all balances sum to {total}"))
    return breaches


# --------------------------------------------------------------------------- hash chain


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="microseconds")


_CANONICAL_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def canonical_bytes(tx: Transaction) -> bytes:
    """Deterministic serialization hashed into the chain, in the format ``tx.format_version``
    names (:func:`canonical_bytes_of` for 1, :func:`canonical_bytes_v2_of` for 2)."""
    if tx.format_version == 1:
        # enum members are str subclasses and encode as their value; skipping `.value`
        # avoids the slow Enum descriptor on the verifier's hot path
        postings = [
            (p.account.kind, p.account.owner_id, p.earned_as_group, p.minutes) for p in tx.postings
        ]
        return canonical_bytes_of(
            tx.id, tx.kind, _iso_utc(tx.created_at), tx.idempotency_key, tx.reverses_id, postings
        )
    if tx.format_version == 2:
        if any(p.id is None or p.account_id is None for p in tx.postings):
            raise ValueError("format 2 hashes posting and account ids: store them first")
        return canonical_bytes_v2_of(
            tx.id, tx.kind, _iso_utc(tx.created_at), tx.idempotency_key, tx.reverses_id,
            tx.request_hash, tx.provenance, tx.record_id, tx.service_volunteer_id,
            tx.created_by_id,
            [(p.id, p.account_id, p.account.kind, p.account.owner_id, p.earned_as_group,
              p.minutes) for p in tx.postings],
        )
    raise ValueError(f"unknown canonical format {tx.format_version!r}")


def canonical_bytes_of(
    id: str,
    kind: str,
    created_at_iso: str,
    idempotency_key: str | None,
    reverses_id: str | None,
    postings: list[tuple[str, str, bool, int]],
) -> bytes:
    """Format 1 from plain values: JSON array of 1, id, kind, created_at (``_iso_utc``),
    idempotency key, reverses_id and the postings sorted as [account kind, owner id,
    earned_as_group, minutes] (given in any order). Rows written before format 2 use it."""
    postings.sort()
    document = [1, id, kind, created_at_iso, idempotency_key, reverses_id, postings]
    return _CANONICAL_ENCODER.encode(document).encode("utf-8")


def canonical_bytes_v2_of(
    id: str,
    kind: str,
    created_at_iso: str,
    idempotency_key: str | None,
    reverses_id: str | None,
    request_hash: str | None,
    provenance: str | None,
    record_id: int | None,
    service_volunteer_id: int | None,
    created_by_id: int | None,
    postings: list[tuple[int, int, str, str, bool, int]],
) -> bytes:
    """Format 2: every stored column of the transaction and of its postings.

    JSON array, fixed order, missing values as null: 2, id, kind, created_at (``_iso_utc``),
    idempotency key, reverses_id, request_hash, provenance (its stored text, as one JSON
    string), record_id, service_volunteer_id, created_by_id, then the postings sorted by id
    as [posting id, account id, account kind, owner id, earned_as_group, minutes]. A
    posting's transaction_id is the transaction it is listed in; prev_hash is chained by
    :func:`chain_hash_of`; the leading 2 is the row's format_version, so changing it
    changes the bytes. Account kind and owner come from ledger_accounts: re-pointing an
    account row at another owner breaks the hash too.
    """
    postings.sort()
    document = [
        2, id, kind, created_at_iso, idempotency_key, reverses_id, request_hash, provenance,
        record_id, service_volunteer_id, created_by_id, postings,
    ]
    return _CANONICAL_ENCODER.encode(document).encode("utf-8")


def chain_hash(prev_hash: str, tx: Transaction) -> str:
    """sha256 hex of ``prev_hash`` + newline + :func:`canonical_bytes`; the first
    transaction uses :data:`GENESIS_HASH`."""
    return chain_hash_of(prev_hash, canonical_bytes(tx))


def chain_hash_of(prev_hash: str, canonical: bytes) -> str:
    return hashlib.sha256(b"%s\n%s" % (prev_hash.encode("ascii"), canonical)).hexdigest()


# --------------------------------------------------------------------------- verifier


@dataclass(slots=True)
class VerifyReport:
    breaches: list[Breach] = field(default_factory=list)
    transactions_checked: int = 0
    postings_checked: int = 0
    head_hash: str = GENESIS_HASH
    truncated: bool = False
    # rows written before transactions were authenticated (all at the start of the chain)
    unauthenticated: int = 0
    last_transaction_id: str | None = None
    last_mac_failed: bool = False  # see verify_rows(authenticate_each=False)

    @property
    def ok(self) -> bool:
        return not self.breaches


ChainLink: TypeAlias = tuple[Transaction, str]
"""A transaction with the chain hash stored next to it."""


class _Collector:
    def __init__(self, report: VerifyReport, limit: int) -> None:
        self.report = report
        self.limit = limit

    def add(self, breach: Breach) -> None:
        if len(self.report.breaches) < self.limit:
            self.report.breaches.append(breach)
        else:
            self.report.truncated = True


def verify(
    chain: Iterable[ChainLink],
    cached_balances: Balances,
    *,
    posting_transaction_ids: Iterable[str] = (),
    expected_head: str | None = None,
    max_breaches: int = 1000,
) -> VerifyReport:
    """Audit the whole ledger in one streaming pass.

    ``chain`` yields (transaction with its postings, stored hash) in chain order.
    Each stored hash is checked against ``chain_hash(previous stored hash, tx)``,
    so an edit shows up at the edited row (or, if its hash was recomputed too, at
    the next row); a deleted or reordered row breaks the link of its successor.
    Deleting or rewriting the *tail* can only be seen against an external anchor:
    pass the last published head as ``expected_head``. ``posting_transaction_ids``
    are the transaction ids found in the postings table (DISTINCT is enough); any
    unknown one is an orphan. Balances recomputed from the postings must equal
    ``cached_balances`` (missing = zero).

    Each row is hashed in the format it names (``format_version``); see :class:`_FormatOrder`
    for why a row may not name an older format than the rows before it.

    Breach codes: TOO_FEW_POSTINGS, ZERO_POSTING, UNBALANCED, DUPLICATE_TRANSACTION,
    DANGLING_REVERSAL, CHAIN_BROKEN, HEAD_MISMATCH, ORPHAN_POSTING, BALANCE_MISMATCH,
    FORMAT_DOWNGRADE, UNKNOWN_FORMAT.
    """
    report = VerifyReport()
    collector = _Collector(report, max_breaches)
    formats = _FormatOrder(collector)
    individual: dict[AccountRef, int] = {}
    group: dict[AccountRef, int] = {}
    seen_ids: set[str] = set()
    prev_hash = GENESIS_HASH
    transactions = postings_count = 0
    for tx, stored_hash in chain:
        transactions += 1
        total = 0
        for posting in tx.postings:
            minutes = posting.minutes
            total += minutes
            ref = posting.account
            bucket = group if posting.earned_as_group else individual
            bucket[ref] = bucket.get(ref, 0) + minutes
            if minutes == 0:
                collector.add(Breach("ZERO_POSTING", "zero-amount posting", tx.id, ref))
        postings_count += len(tx.postings)
        if total != 0:
            collector.add(Breach("UNBALANCED", f"postings sum to {total}", tx.id))
        if len(tx.postings) < 2:
            collector.add(Breach("TOO_FEW_POSTINGS", f"{len(tx.postings)} posting(s)", tx.id))
        _check_identity(tx, seen_ids, collector)
        if formats.known(tx.format_version, tx.id) and chain_hash(prev_hash, tx) != stored_hash:
            collector.add(
                Breach("CHAIN_BROKEN", f"stored hash does not follow {prev_hash[:12]}…", tx.id)
            )
        prev_hash = stored_hash
    report.transactions_checked = transactions
    report.postings_checked = postings_count
    report.head_hash = prev_hash
    if expected_head is not None and expected_head != prev_hash:
        collector.add(
            Breach("HEAD_MISMATCH", f"chain ends at {prev_hash}, expected {expected_head}")
        )
    for transaction_id in posting_transaction_ids:
        if transaction_id not in seen_ids:
            collector.add(
                Breach("ORPHAN_POSTING", "posting references a missing transaction", transaction_id)
            )
    _compare_balances(individual, group, cached_balances, collector)
    return report


class _FormatOrder:
    """Refuses a row hashed in an older canonical format than an earlier row of the chain.

    Why: format 1 does not cover provenance, record_id, request_hash, created_by_id,
    service_volunteer_id nor posting/account ids. The format number leads the hashed bytes,
    so flipping a row's format_version alone already breaks its hash; but without this rule
    a row (re)hashed in format 1 after the switch to format 2 (by an outdated writer, or by
    someone who edited its provenance and rehashed it and its successors up to an unanchored
    head) would pass with those columns unprotected. Chain order is id order, and every
    writer since the switch writes format 2, so no legitimate row is refused.
    """

    KNOWN = frozenset({1, 2})

    def __init__(self, collector: _Collector) -> None:
        self.collector = collector
        self.highest = 0

    def known(self, version: int, transaction_id: str) -> bool:
        """Record a breach for a downgraded or unknown format; False when it cannot be hashed."""
        if version not in self.KNOWN:
            self.collector.add(Breach("UNKNOWN_FORMAT", f"canonical format {version!r}",
                                      transaction_id))
            return False
        if version < self.highest:
            self.collector.add(Breach("FORMAT_DOWNGRADE", f"format {version} row after a "
                                      f"format {self.highest} row", transaction_id))
        else:
            self.highest = version
        return True


_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')
"""Characters json.dumps(ensure_ascii=False) escapes inside a string."""

_json_string = json.encoder.encode_basestring  # what the canonical encoder does to a str

TransactionRow: TypeAlias = tuple[int, str, str, "str | None", "int | None", str, str, int,
                                  "str | None", "str | None", "int | None", "int | None",
                                  "int | None", "str | None", "str | None"]
"""(id, kind, created_at as ``_iso_utc`` gives it, idempotency key, reverses id, stored
previous hash, stored hash, format_version, request_hash, provenance, record_id,
service_volunteer_id, created_by_id, MAC key id, MAC)."""

@dataclass(frozen=True, slots=True)
class ChainPoint:
    """Where an audited prefix of the chain ends: its size, last hash and last id."""

    size: int
    hash: str
    last_id: int


Authenticator: TypeAlias = "Callable[[str | None, str | None, int, str], bool]"
"""(MAC key id, MAC, chain position from 0, chain hash) -> whether the MAC is the service's
(timebank.signing.MacKeyRing.check)."""

PostingRow: TypeAlias = tuple[int, int, int, int, bool]
"""(transaction id, posting id, account id, minutes, earned_as_group)."""


def verify_rows(
    transactions: Iterable[TransactionRow],
    postings: Iterable[PostingRow],
    accounts: Mapping[int, tuple[str, str]],
    *,
    expected_head: str | None = None,
    max_breaches: int = 1000,
    authenticate: Authenticator | None = None,
    leaves: list[bytes] | None = None,
    ids: list[int] | None = None,
    after: ChainPoint | None = None,
    authenticate_each: bool = True,
) -> VerifyReport:
    """:func:`verify` over raw table rows, minus the balances, in one merge pass.

    ``transactions`` come in id order and ``postings`` in (transaction id, id) order (a
    database streams both without building a Transaction per row); ``accounts`` maps an
    account id to its (kind, owner id). Every check of :func:`verify` except
    BALANCE_MISMATCH is made here, with the same chain hash; postings whose transaction is
    missing are ORPHAN_POSTING, and a stored previous hash that is not the previous row's
    hash is CHAIN_BROKEN too. Compare balances with :func:`compare_balances`.

    With ``authenticate``, each row carrying a MAC must carry the service's MAC of its chain
    position and (recomputed) chain hash, else FORGED; a row without one is counted in
    ``unauthenticated`` while no authenticated row came before it, and FORGED after one (a
    writer without the key cannot pass its rows off as older than authentication).
    ``leaves``, when given, receives the Merkle leaf hash (RFC 9162) of each row's canonical
    bytes in chain order, and ``ids`` the rows' ids in the same order.

    The MAC of a row covers its chain hash, which covers every earlier row: when the last
    authenticated row's MAC is the service's, every row up to it is as the service wrote it.
    With ``authenticate_each`` False only that last MAC is checked (one HMAC per audit, not
    one per row); if it fails, ``last_mac_failed`` is set and the caller runs again with
    ``authenticate_each`` to name the first forged row.

    ``after`` checks only the rows that follow an already audited prefix (a checkpoint's):
    the chain continues from its hash and positions, reversals may name its ids, and every
    row must be authenticated.
    """
    report = VerifyReport()
    collector = _Collector(report, max_breaches)
    formats = _FormatOrder(collector)
    seen_ids: set[int] = set()
    prev_hash = after.hash if after else GENESIS_HASH
    first_position = after.size if after else 0
    earlier_ids = after.last_id if after else 0
    transactions_count = postings_count = 0
    authenticated_before = after is not None
    unauthenticated = 0
    last_authenticated = None
    add_leaf = leaves.append if leaves is not None else None
    add_id = ids.append if ids is not None else None
    sha256 = hashlib.sha256
    posting_iter = iter(postings)
    pending = next(posting_iter, None)
    last_orphan = None
    # the hot loop formats the canonical JSON itself while no string needs escaping
    fast_owners = all(_JSON_ESCAPED.search(f"{kind}{owner}") is None
                      for kind, owner in accounts.values())
    for row in transactions:
        tx_id, kind, created_at_iso, key, reverses_id, stored_prev, stored_hash, version = row[:8]
        transactions_count += 1
        items: list[tuple[int, int, str, str, bool, int]] = []
        total = 0
        while pending is not None and pending[0] <= tx_id:
            posting_tx, posting_id, account_id, minutes, group = pending
            pending = next(posting_iter, None)
            if posting_tx < tx_id:
                if posting_tx != last_orphan:
                    last_orphan = posting_tx
                    collector.add(Breach("ORPHAN_POSTING",
                                         "posting references a missing transaction",
                                         str(posting_tx)))
                continue
            owner = accounts.get(account_id) or ("?", str(account_id))
            items.append((posting_id, account_id, owner[0], owner[1], bool(group), minutes))
            total += minutes
            if minutes == 0:
                collector.add(Breach("ZERO_POSTING", "zero-amount posting", str(tx_id),
                                     _account_or_none(owner)))
        postings_count += len(items)
        if total != 0:
            collector.add(Breach("UNBALANCED", f"postings sum to {total}", str(tx_id)))
        if len(items) < 2:
            collector.add(Breach("TOO_FEW_POSTINGS", f"{len(items)} posting(s)", str(tx_id)))
        if tx_id in seen_ids:
            collector.add(Breach("DUPLICATE_TRANSACTION", "transaction id appears twice",
                                 str(tx_id)))
        if reverses_id is not None and reverses_id not in seen_ids and \
                not (isinstance(reverses_id, int) and 0 < reverses_id <= earlier_ids):
            collector.add(Breach("DANGLING_REVERSAL", f"reverses unknown or later {reverses_id}",
                                 str(tx_id)))
        seen_ids.add(tx_id)
        if not formats.known(version, str(tx_id)):
            computed = None
            canonical = b""
        else:
            canonical = (_row_canonical_v2(row, items, fast_owners) if version == 2
                         else _row_canonical_v1(row, items, fast_owners))
            computed = sha256(b"%s\n%s" % (prev_hash.encode("ascii"), canonical)).hexdigest()
        if add_leaf is not None:
            add_leaf(sha256(b"\x00" + canonical).digest())
        if add_id is not None:
            add_id(tx_id)
        if authenticate is not None:
            mac_key_id, mac = row[13], row[14]
            if mac is None and mac_key_id is None:
                if authenticated_before:
                    collector.add(Breach("FORGED", "no MAC on a transaction after "
                                         "authenticated ones", str(tx_id)))
                else:
                    unauthenticated += 1
            else:
                authenticated_before = True
                last_authenticated = (mac_key_id, mac, first_position + transactions_count - 1,
                                      computed if computed is not None else stored_hash)
                if authenticate_each and not authenticate(*last_authenticated):
                    collector.add(Breach("FORGED", f"MAC does not match (key {mac_key_id!r}): "
                                         "not written by this service here", str(tx_id)))
        if computed is not None and computed != stored_hash:
            collector.add(
                Breach("CHAIN_BROKEN", f"stored hash does not follow {prev_hash[:12]}…",
                       str(tx_id)))
        elif computed is not None and stored_prev != prev_hash:
            collector.add(Breach("CHAIN_BROKEN", "stored previous hash is not the previous "
                                 "row's hash", str(tx_id)))
        prev_hash = stored_hash
    while pending is not None:
        if pending[0] != last_orphan:
            last_orphan = pending[0]
            collector.add(Breach("ORPHAN_POSTING", "posting references a missing transaction",
                                 str(pending[0])))
        pending = next(posting_iter, None)
    report.transactions_checked = transactions_count
    report.postings_checked = postings_count
    report.head_hash = prev_hash
    report.unauthenticated = unauthenticated
    if not authenticate_each and last_authenticated is not None:
        report.last_mac_failed = not authenticate(*last_authenticated)
    report.last_transaction_id = str(row[0]) if transactions_count else None
    if expected_head is not None and expected_head != prev_hash:
        collector.add(
            Breach("HEAD_MISMATCH", f"chain ends at {prev_hash}, expected {expected_head}")
        )
    return report


def _row_canonical_v1(row: TransactionRow, items: list, fast_owners: bool) -> bytes:
    """canonical_bytes_of(...) of a format 1 row; ``items`` as verify_rows collects them
    (posting id first, in id order)."""
    tx_id, kind, created_at_iso, key, reverses_id = row[:5]
    postings = sorted((k, o, g, m) for _, _, k, o, g, m in items)
    if fast_owners and _JSON_ESCAPED.search(f"{kind}{created_at_iso}{key or ''}") is None:
        postings_json = ",".join(
            f'["{k}","{o}",{"true" if g else "false"},{m}]' for k, o, g, m in postings)
        quoted_key = "null" if key is None else f'"{key}"'
        reverses = "null" if reverses_id is None else f'"{reverses_id}"'
        # byte for byte what canonical_bytes_of(...) gives
        return (f'[1,"{tx_id}","{kind}","{created_at_iso}",{quoted_key},'
                f'{reverses},[{postings_json}]]').encode("utf-8")
    return canonical_bytes_of(
        str(tx_id), kind, created_at_iso, key,
        str(reverses_id) if reverses_id is not None else None, postings)


def _row_canonical_v2(row: TransactionRow, items: list, fast_owners: bool) -> bytes:
    """canonical_bytes_v2_of(...) of a format 2 row."""
    (tx_id, kind, created_at_iso, key, reverses_id, _, _, _, request_hash, provenance,
     record_id, service_volunteer_id, created_by_id) = row[:13]
    # nullable integers must really be integers or NULL (SQLite would hand back a text
    # 'null' as a str, which would print like NULL); ids and minutes are NOT NULL columns
    plain = (fast_owners and _JSON_ESCAPED.search(f"{kind}{created_at_iso}") is None
             and _is_int_or_none(reverses_id) and _is_int_or_none(record_id)
             and _is_int_or_none(service_volunteer_id) and _is_int_or_none(created_by_id))
    if not plain:
        return canonical_bytes_v2_of(
            str(tx_id), kind, created_at_iso, key,
            str(reverses_id) if reverses_id is not None else None, request_hash, provenance,
            record_id, service_volunteer_id, created_by_id, items)
    items.sort()  # already in id order when the database sorted them: cheap
    postings_json = ",".join(
        f'[{p},{a},"{k}","{o}",{"true" if g else "false"},{m}]' for p, a, k, o, g, m in items)
    # byte for byte what canonical_bytes_v2_of(...) gives; strings that may need escaping
    # go through the encoder's own string function
    reverses = "null" if reverses_id is None else f'"{reverses_id}"'
    return (
        f'[2,"{tx_id}","{kind}","{created_at_iso}",{_json_or_null(key)},{reverses},'
        f'{_json_or_null(request_hash)},{_json_or_null(provenance)},'
        f'{_int_or_null(record_id)},{_int_or_null(service_volunteer_id)},'
        f'{_int_or_null(created_by_id)},[{postings_json}]]').encode("utf-8")


def _is_int_or_none(value: object) -> bool:
    return value is None or type(value) is int


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def _int_or_null(value: int | None) -> str:
    return "null" if value is None else str(value)


def _account_or_none(owner: tuple[str, str]) -> AccountRef | None:
    try:
        return account(AccountKind(owner[0]), owner[1])
    except ValueError:
        return None


def compare_balances(report: VerifyReport, computed: Balances, cached: Balances,
                     *, max_breaches: int = 1000) -> None:
    """Add a BALANCE_MISMATCH to ``report`` for every account whose cached balance differs
    from the one its postings give."""
    collector = _Collector(report, max_breaches)
    _compare_balances({ref: b.individual for ref, b in computed.items()},
                      {ref: b.group for ref, b in computed.items()}, cached, collector)


def _check_identity(tx: Transaction, seen_ids: set[str], collector: _Collector) -> None:
    if tx.id in seen_ids:
        collector.add(Breach("DUPLICATE_TRANSACTION", "transaction id appears twice", tx.id))
    if tx.reverses_id is not None and tx.reverses_id not in seen_ids:
        collector.add(
            Breach("DANGLING_REVERSAL", f"reverses unknown or later {tx.reverses_id}", tx.id)
        )
    seen_ids.add(tx.id)


def _compare_balances(
    individual: Mapping[AccountRef, int],
    group: Mapping[AccountRef, int],
    cached: Balances,
    collector: _Collector,
) -> None:
    for ref in individual.keys() | group.keys() | cached.keys():
        computed = Balance(individual.get(ref, 0), group.get(ref, 0))
        stored = cached.get(ref, ZERO_BALANCE)
        if computed != stored:
            collector.add(
                Breach(
                    "BALANCE_MISMATCH", f"cached {stored}, postings give {computed}", account=ref
                )
            )
