"""Pure tests of the time-bank ledger rules (no app, no database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from volunteer_hub.timebank.ledger import (
    GENESIS_HASH,
    AccountRef,
    Balance,
    Balances,
    ChainLink,
    LedgerRuleError,
    PlannedTransaction,
    Policy,
    Posting,
    Relationship,
    Transaction,
    TransactionKind,
    apply,
    canonical_bytes,
    chain_hash,
    check_invariants,
    expiry_cutoff,
    issuance_account,
    plan_cap_overflow,
    plan_donation,
    plan_expiry,
    plan_gift,
    plan_mint,
    plan_redemption,
    plan_reversal,
    pool_account,
    redemption_account,
    verify,
    volunteer_account,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
ORG = issuance_account("org-1")
POOL = pool_account("community-1")
CLINIC = redemption_account("redemption-1")
VOLUNTEERS = [volunteer_account(f"v{i}") for i in range(4)]
AGES = {VOLUNTEERS[0]: 72, VOLUNTEERS[1]: 45, VOLUNTEERS[2]: 60, VOLUNTEERS[3]: 30}
# what VOLUNTEERS[j] is to VOLUNTEERS[i]; the pair (3, 1) is on record but unconfirmed
RELATIONSHIPS: dict[tuple[int, int], tuple[Relationship, bool]] = {
    (0, 1): (Relationship.CHILD, True),
    (1, 0): (Relationship.PARENT, True),
    (1, 2): (Relationship.SPOUSE, True),
    (2, 1): (Relationship.SPOUSE, True),
    (0, 3): (Relationship.GRANDCHILD, True),
    (3, 0): (Relationship.GRANDPARENT, True),
    (1, 3): (Relationship.CHILD, True),
    (3, 1): (Relationship.PARENT, False),
    (2, 3): (Relationship.SIBLING, True),
}
SMALL_POLICY = Policy(person_cap_minutes=900, daily_earning_cap_minutes=480, expiry_days=30)
# a low cap so random runs hit the overflow paths often
RANDOM_RUN_POLICY = replace(SMALL_POLICY, person_cap_minutes=600)


def fast(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


class Ledger:
    """In-memory stand-in for the persistence layer: chain, balances, clock."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.balances: dict[AccountRef, Balance] = {}
        self.chain: list[ChainLink] = []
        self.reversed_ids: set[str] = set()
        self.now = T0

    @property
    def head(self) -> str:
        return self.chain[-1][1] if self.chain else GENESIS_HASH

    def commit(self, plan: PlannedTransaction) -> Transaction:
        tx = plan.materialize(
            id=f"t{len(self.chain)}", created_at=self.now, idempotency_key=f"idem-{len(self.chain)}"
        )
        self.chain.append((tx, chain_hash(self.head, tx)))
        self.balances = apply(self.balances, tx.postings)
        if tx.reverses_id is not None:
            self.reversed_ids.add(tx.reverses_id)
        return tx

    def earned_today(self, volunteer: AccountRef) -> int:
        day = self.now.date()
        return sum(
            -p.minutes
            for tx, _ in self.chain
            if tx.kind is TransactionKind.MINT
            and tx.created_at.date() == day
            and tx.id not in self.reversed_ids
            and _credits_to(tx, volunteer)
            for p in tx.postings
            if p.account.kind.value == "ISSUANCE"
        )

    def recent_credits(self, volunteer: AccountRef) -> Balance:
        cutoff = expiry_cutoff(self.now, self.policy)
        assert cutoff is not None
        individual = group = 0
        for tx, _ in self.chain:
            if tx.created_at < cutoff:
                continue
            for p in tx.postings:
                if p.account == volunteer and p.minutes > 0:
                    if p.earned_as_group:
                        group += p.minutes
                    else:
                        individual += p.minutes
        return Balance(individual, group)


def _credits_to(tx: Transaction, volunteer: AccountRef) -> bool:
    return any(p.account == volunteer for p in tx.postings)


def relationship_of(giver: int, recipient: int) -> tuple[Relationship | None, bool]:
    return RELATIONSHIPS.get((giver, recipient), (None, False))


# --------------------------------------------------------------------------- operations
# Each operation plans against the ledger and commits on success; rule errors
# propagate. Shared by the state machine and the random-ledger generator.


def op_mint(ledger: Ledger, who: int, minutes: int, group: bool) -> None:
    volunteer = VOLUNTEERS[who]
    plan = plan_mint(
        ledger.balances,
        volunteer=volunteer,
        issuer=ORG,
        pool=POOL,
        minutes=minutes,
        group_earned=group,
        earned_today=ledger.earned_today(volunteer),
        policy=ledger.policy,
    )
    ledger.commit(plan)


def op_gift(ledger: Ledger, giver: int, recipient: int, minutes: int) -> None:
    relationship, confirmed = relationship_of(giver, recipient)
    plan = plan_gift(
        ledger.balances,
        giver=VOLUNTEERS[giver],
        recipient=VOLUNTEERS[recipient],
        minutes=minutes,
        relationship=relationship,
        relationship_confirmed=confirmed,
        policy=ledger.policy,
    )
    ledger.commit(plan)


def op_donate(ledger: Ledger, who: int, minutes: int) -> None:
    ledger.commit(plan_donation(ledger.balances, donor=VOLUNTEERS[who], pool=POOL, minutes=minutes))


def op_redeem(ledger: Ledger, payer: int, provider: int, minutes: int) -> None:
    payer_ref = POOL if payer < 0 else VOLUNTEERS[payer]
    provider_ref = CLINIC if provider < 0 else VOLUNTEERS[provider]
    plan = plan_redemption(
        ledger.balances,
        payer=payer_ref,
        provider=provider_ref,
        pool=POOL,
        minutes=minutes,
        policy=ledger.policy,
        payer_age=AGES.get(payer_ref),
    )
    ledger.commit(plan)


def op_reverse(ledger: Ledger, index: int) -> None:
    original = ledger.chain[index % len(ledger.chain)][0]
    plans = plan_reversal(
        ledger.balances,
        original=original,
        already_reversed=original.id in ledger.reversed_ids,
        pool=POOL,
        policy=ledger.policy,
    )
    for plan in plans:
        ledger.commit(plan)


def op_expire(ledger: Ledger, who: int) -> None:
    volunteer = VOLUNTEERS[who]
    plan = plan_expiry(
        ledger.balances,
        volunteer=volunteer,
        issuer=ORG,
        recent_credits=ledger.recent_credits(volunteer),
        policy=ledger.policy,
    )
    if plan is not None:
        ledger.commit(plan)


def op_advance(ledger: Ledger, hours: int) -> None:
    ledger.now += timedelta(hours=hours)


who_st = st.integers(0, len(VOLUNTEERS) - 1)
minutes_st = st.integers(1, 600)
OPERATIONS: list[st.SearchStrategy[tuple[Callable[..., None], tuple[object, ...]]]] = [
    st.tuples(st.just(op_mint), st.tuples(who_st, minutes_st, st.booleans())),
    st.tuples(st.just(op_gift), st.tuples(who_st, who_st, minutes_st)),
    st.tuples(st.just(op_donate), st.tuples(who_st, minutes_st)),
    st.tuples(st.just(op_redeem), st.tuples(st.integers(-1, 3), st.integers(-1, 3), minutes_st)),
    st.tuples(st.just(op_reverse), st.tuples(st.integers(0, 1000))),
    st.tuples(st.just(op_expire), st.tuples(who_st)),
    st.tuples(st.just(op_advance), st.tuples(st.integers(1, 24 * 20))),
]


def build_ledger(operations: list[tuple[Callable[..., None], tuple[object, ...]]]) -> Ledger:
    ledger = Ledger(RANDOM_RUN_POLICY)
    for operation, args in operations:
        if operation is op_reverse and not ledger.chain:
            continue
        try:
            operation(ledger, *args)
        except LedgerRuleError:
            pass
    return ledger


def assert_well_formed(plan: PlannedTransaction) -> None:
    assert len(plan.postings) >= 2
    assert all(p.minutes != 0 for p in plan.postings)
    assert sum(p.minutes for p in plan.postings) == 0


# --------------------------------------------------------------------------- state machine


class LedgerMachine(RuleBasedStateMachine):
    """Any sequence of valid operations keeps the ledger consistent."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger(RANDOM_RUN_POLICY)

    @initialize()
    def seed(self) -> None:
        for who in range(len(VOLUNTEERS)):
            op_mint(self.ledger, who, 200 + 60 * who, False)
            op_mint(self.ledger, who, 60, True)

    def attempt(self, operation: Callable[..., None], *args: object) -> None:
        before = dict(self.ledger.balances)
        committed = len(self.ledger.chain)
        try:
            operation(self.ledger, *args)
            kinds = {tx.kind.value for tx, _ in self.ledger.chain[committed:]}
            event(f"{operation.__name__}: ok {sorted(kinds)}")
            if any(
                p.account == POOL
                for tx, _ in self.ledger.chain[committed:]
                for p in tx.postings
                if tx.kind in (TransactionKind.MINT, TransactionKind.REDEMPTION)
            ):
                event(f"{operation.__name__}: overflow to pool")
        except LedgerRuleError as error:
            event(f"{operation.__name__}: {error.code}")
            assert self.ledger.balances == before
            assert len(self.ledger.chain) == committed

    @rule(who=who_st, minutes=minutes_st, group=st.booleans())
    def mint(self, who: int, minutes: int, group: bool) -> None:
        self.attempt(op_mint, who, minutes, group)

    @rule(giver=who_st, recipient=who_st, minutes=minutes_st)
    def gift(self, giver: int, recipient: int, minutes: int) -> None:
        self.attempt(op_gift, giver, recipient, minutes)

    @rule(who=who_st, minutes=minutes_st)
    def donate(self, who: int, minutes: int) -> None:
        self.attempt(op_donate, who, minutes)

    @rule(payer=st.integers(-1, 3), provider=st.integers(-1, 3), minutes=minutes_st)
    def redeem(self, payer: int, provider: int, minutes: int) -> None:
        self.attempt(op_redeem, payer, provider, minutes)

    @precondition(lambda self: bool(self.ledger.chain))
    @rule(index=st.integers(0, 1000))
    def reverse(self, index: int) -> None:
        original = self.ledger.chain[index % len(self.ledger.chain)][0]
        before = dict(self.ledger.balances)
        committed = len(self.ledger.chain)
        self.attempt(op_reverse, index)
        if len(self.ledger.chain) > committed:
            reversal = self.ledger.chain[committed][0]
            assert reversal.reverses_id == original.id
            assert sorted(p.negated() for p in reversal.postings) == sorted(original.postings)
            assert apply(apply(before, reversal.postings), original.postings) == before

    @rule(who=who_st)
    def expire(self, who: int) -> None:
        self.attempt(op_expire, who)

    @rule(hours=st.integers(1, 24 * 20))
    def advance(self, hours: int) -> None:
        op_advance(self.ledger, hours)

    @invariant()
    def every_transaction_balanced(self) -> None:
        for tx, _ in self.ledger.chain:
            assert sum(p.minutes for p in tx.postings) == 0
            assert all(p.minutes != 0 for p in tx.postings)

    @invariant()
    def balances_within_rules(self) -> None:
        assert check_invariants(self.ledger.balances, self.ledger.policy) == []

    @invariant()
    def verifier_agrees(self) -> None:
        report = verify(self.ledger.chain, self.ledger.balances, expected_head=self.ledger.head)
        assert report.ok, report.breaches


LedgerMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedgerMachine = LedgerMachine.TestCase


# --------------------------------------------------------------------------- verifier properties


ledger_ops_st = st.lists(st.one_of(OPERATIONS), min_size=5, max_size=40)

MUTATIONS = [
    "edit_amount",
    "delete_posting",
    "delete_transaction",
    "delete_transaction_keep_postings",
    "edit_field",
    "swap_transactions",
    "rehash_edited",
]


def mutate(
    ledger: Ledger, mutation: str, index: int, field: int
) -> tuple[list[ChainLink], set[str]]:
    """Apply one tampering to a copy of the stored rows; returns (chain, posting tx ids)."""
    chain = list(ledger.chain)
    posting_ids = {tx.id for tx, _ in chain}
    i = index % len(chain)
    tx, stored = chain[i]
    if mutation == "edit_amount":
        j = field % len(tx.postings)
        edited = replace(tx.postings[j], minutes=tx.postings[j].minutes + 1 + field)
        chain[i] = (
            replace(tx, postings=tx.postings[:j] + (edited,) + tx.postings[j + 1 :]),
            stored,
        )
    elif mutation == "delete_posting":
        j = field % len(tx.postings)
        chain[i] = (replace(tx, postings=tx.postings[:j] + tx.postings[j + 1 :]), stored)
    elif mutation == "delete_transaction":
        del chain[i]
        posting_ids.discard(tx.id)
    elif mutation == "delete_transaction_keep_postings":
        del chain[i]
    elif mutation == "edit_field":
        chain[i] = (edit_field(tx, field), stored)
    elif mutation == "swap_transactions":
        j = (i + 1 + field) % len(chain)
        if i == j:
            chain[i] = (edit_field(tx, field), stored)
        else:
            chain[i], chain[j] = chain[j], chain[i]
    elif mutation == "rehash_edited":
        prev = chain[i - 1][1] if i else GENESIS_HASH
        edited_tx = edit_field(tx, field)
        chain[i] = (edited_tx, chain_hash(prev, edited_tx))
    return chain, posting_ids


def edit_field(tx: Transaction, which: int) -> Transaction:
    kinds = list(TransactionKind)
    edits = [
        replace(tx, id=tx.id + "x"),
        replace(tx, kind=kinds[(kinds.index(tx.kind) + 1) % len(kinds)]),
        replace(tx, created_at=tx.created_at + timedelta(microseconds=1)),
        replace(tx, idempotency_key=(tx.idempotency_key or "") + "x"),
        replace(tx, reverses_id=None if tx.reverses_id else "t0"),
    ]
    return edits[which % len(edits)]


@fast(300)
@given(
    operations=ledger_ops_st,
    mutation=st.sampled_from(MUTATIONS),
    index=st.integers(0, 10_000),
    field=st.integers(0, 100),
)
def test_verifier_detects_any_single_mutation(
    operations: list[tuple[Callable[..., None], tuple[object, ...]]],
    mutation: str,
    index: int,
    field: int,
) -> None:
    ledger = build_ledger(operations)
    if not ledger.chain:
        return
    assert verify(ledger.chain, ledger.balances, expected_head=ledger.head).ok
    chain, posting_ids = mutate(ledger, mutation, index, field)
    report = verify(
        chain, ledger.balances, posting_transaction_ids=posting_ids, expected_head=ledger.head
    )
    assert not report.ok, (mutation, index, field)


@fast(60)
@given(operations=ledger_ops_st, index=st.integers(0, 10_000), delta=st.integers(1, 50))
def test_verifier_detects_a_stale_cached_balance(
    operations: list[tuple[Callable[..., None], tuple[object, ...]]], index: int, delta: int
) -> None:
    ledger = build_ledger(operations)
    if not ledger.balances:
        return
    accounts = sorted(ledger.balances)
    target = accounts[index % len(accounts)]
    cached = dict(ledger.balances)
    cached[target] = cached[target].plus(delta, index % 2 == 0)
    breaches = verify(ledger.chain, cached).breaches
    assert [(b.code, b.account) for b in breaches] == [("BALANCE_MISMATCH", target)]


@fast(60)
@given(operations=ledger_ops_st)
def test_mint_then_reverse_restores_balances_exactly(
    operations: list[tuple[Callable[..., None], tuple[object, ...]]],
) -> None:
    ledger = build_ledger(operations)
    before = dict(ledger.balances)
    try:
        op_mint(ledger, 2, 240, False)
    except LedgerRuleError:
        return
    minted = ledger.chain[-1][0]
    [reversal] = plan_reversal(
        ledger.balances, original=minted, already_reversed=False, pool=POOL, policy=ledger.policy
    )
    assert apply(ledger.balances, reversal.postings) == before


# --------------------------------------------------------------------------- examples: mint


def balances(**minutes: Balance) -> Balances:
    return {volunteer_account(owner): balance for owner, balance in minutes.items()}


V0, V1, V2, V3 = VOLUNTEERS


def mint(
    bals: Balances,
    minutes: int,
    *,
    policy: Policy = SMALL_POLICY,
    earned_today: int = 0,
    group: bool = False,
) -> PlannedTransaction:
    return plan_mint(
        bals,
        volunteer=V0,
        issuer=ORG,
        pool=POOL,
        minutes=minutes,
        group_earned=group,
        earned_today=earned_today,
        policy=policy,
    )


def test_one_hour_of_service_mints_sixty_minutes() -> None:
    plan = mint({}, 60, policy=Policy())
    assert set(plan.postings) == {Posting(ORG, -60), Posting(V0, 60)}
    assert plan.kind is TransactionKind.MINT


def test_group_service_is_minted_into_the_group_bucket() -> None:
    plan = mint({}, 90, group=True)
    assert apply({}, plan.postings)[V0] == Balance(individual=0, group=90)


def test_mint_above_person_cap_overflows_to_pool_in_same_transaction() -> None:
    plan = mint(balances(v0=Balance(800)), 300)
    assert set(plan.postings) == {Posting(ORG, -300), Posting(V0, 100), Posting(POOL, 200)}


def test_mint_at_person_cap_goes_entirely_to_pool() -> None:
    plan = mint(balances(v0=Balance(900)), 60)
    assert set(plan.postings) == {Posting(ORG, -60), Posting(POOL, 60)}


def test_daily_cap_clips_the_record_to_the_remaining_allowance() -> None:
    plan = mint({}, 300, earned_today=400)
    assert set(plan.postings) == {Posting(ORG, -80), Posting(V0, 80)}


def test_daily_cap_reached_refuses() -> None:
    with pytest.raises(LedgerRuleError) as error:
        mint({}, 30, earned_today=480)
    assert error.value.code == "DAILY_CAP_REACHED"


def test_non_positive_amount_is_refused() -> None:
    for minutes in (0, -60):
        with pytest.raises(LedgerRuleError) as error:
            mint({}, minutes)
        assert error.value.code == "NON_POSITIVE_AMOUNT"


def test_wrong_account_kind_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        plan_mint(
            {},
            volunteer=POOL,
            issuer=ORG,
            pool=POOL,
            minutes=60,
            group_earned=False,
            earned_today=0,
            policy=SMALL_POLICY,
        )
    assert error.value.code == "WRONG_ACCOUNT_KIND"


# --------------------------------------------------------------------------- examples: gift


def gift(
    bals: Balances,
    relationship: Relationship | None,
    confirmed: bool = True,
    minutes: int = 60,
    policy: Policy = SMALL_POLICY,
    recipient: AccountRef = V1,
) -> PlannedTransaction:
    return plan_gift(
        bals,
        giver=V0,
        recipient=recipient,
        minutes=minutes,
        relationship=relationship,
        relationship_confirmed=confirmed,
        policy=policy,
    )


@pytest.mark.parametrize(
    "relationship",
    [
        Relationship.PARENT,
        Relationship.CHILD,
        Relationship.SPOUSE,
        Relationship.GRANDPARENT,
        Relationship.GRANDCHILD,
    ],
)
def test_gift_to_direct_relative(relationship: Relationship) -> None:
    plan = gift(balances(v0=Balance(100)), relationship)
    assert set(plan.postings) == {Posting(V0, -60), Posting(V1, 60)}


@pytest.mark.parametrize("relationship", [Relationship.SIBLING, Relationship.OTHER, None])
def test_gift_outside_direct_relatives_is_refused(relationship: Relationship | None) -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(100)), relationship)
    assert error.value.code == "NOT_DIRECT_RELATIVE"


def test_spouse_can_be_excluded_by_policy() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(
            balances(v0=Balance(100)),
            Relationship.SPOUSE,
            policy=replace(SMALL_POLICY, spouse_counts_as_direct_relative=False),
        )
    assert error.value.code == "NOT_DIRECT_RELATIVE"


def test_gift_to_anyone_when_policy_allows() -> None:
    policy = replace(SMALL_POLICY, gifts_only_to_direct_relatives=False)
    assert (
        gift(balances(v0=Balance(100)), None, confirmed=False, policy=policy).kind
        is TransactionKind.GIFT
    )


def test_gift_needs_confirmed_relationship() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(100)), Relationship.CHILD, confirmed=False)
    assert error.value.code == "RELATIONSHIP_UNCONFIRMED"


def test_group_minutes_cannot_be_gifted() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(individual=30, group=500)), Relationship.CHILD)
    assert error.value.code == "GROUP_HOURS_DONATION_ONLY"


def test_gift_beyond_balance_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(individual=30, group=10)), Relationship.CHILD)
    assert error.value.code == "INSUFFICIENT_BALANCE"


def test_gift_that_would_exceed_recipient_cap_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(100), v1=Balance(880)), Relationship.CHILD)
    assert error.value.code == "PERSON_CAP_EXCEEDED"


def test_gift_to_self_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        gift(balances(v0=Balance(100)), Relationship.CHILD, recipient=V0)
    assert error.value.code == "SAME_ACCOUNT"


# --------------------------------------------------------------------------- examples: donation


def test_donation_uses_group_minutes_first() -> None:
    plan = plan_donation(
        balances(v0=Balance(individual=100, group=40)), donor=V0, pool=POOL, minutes=70
    )
    assert set(plan.postings) == {Posting(V0, -40, True), Posting(V0, -30), Posting(POOL, 70)}


def test_donation_beyond_balance_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        plan_donation(balances(v0=Balance(10, 10)), donor=V0, pool=POOL, minutes=21)
    assert error.value.code == "INSUFFICIENT_BALANCE"


# --------------------------------------------------------------------------- examples: redemption


def redeem(
    bals: Balances, payer: AccountRef, provider: AccountRef, age: int | None, minutes: int = 60
) -> PlannedTransaction:
    return plan_redemption(
        bals,
        payer=payer,
        provider=provider,
        pool=POOL,
        minutes=minutes,
        policy=SMALL_POLICY,
        payer_age=age,
    )


def test_senior_redeems_and_serving_volunteer_earns() -> None:
    plan = redeem(balances(v0=Balance(100)), V0, V1, age=60)
    assert set(plan.postings) == {Posting(V0, -60), Posting(V1, 60)}


def test_redemption_with_a_non_volunteer_provider_credits_the_clearing_account() -> None:
    plan = redeem(balances(v0=Balance(100)), V0, CLINIC, age=75)
    assert set(plan.postings) == {Posting(V0, -60), Posting(CLINIC, 60)}


def test_redemption_below_age_is_refused() -> None:
    for age in (59, None):
        with pytest.raises(LedgerRuleError) as error:
            redeem(balances(v0=Balance(100)), V0, V1, age=age)
        assert error.value.code == "BELOW_REDEMPTION_AGE"


def test_pool_pays_for_a_beneficiary_of_any_age() -> None:
    plan = redeem({POOL: Balance(100)}, POOL, V1, age=None)
    assert set(plan.postings) == {Posting(POOL, -60), Posting(V1, 60)}


def test_pool_cannot_overspend() -> None:
    with pytest.raises(LedgerRuleError) as error:
        redeem({POOL: Balance(59)}, POOL, V1, age=None)
    assert error.value.code == "INSUFFICIENT_BALANCE"


def test_group_minutes_cannot_be_redeemed() -> None:
    with pytest.raises(LedgerRuleError) as error:
        redeem(balances(v0=Balance(10, 100)), V0, V1, age=80)
    assert error.value.code == "GROUP_HOURS_DONATION_ONLY"


def test_serving_volunteer_at_cap_overflows_to_pool() -> None:
    plan = redeem(balances(v0=Balance(100), v1=Balance(880)), V0, V1, age=80)
    assert set(plan.postings) == {Posting(V0, -60), Posting(V1, 20), Posting(POOL, 40)}


def test_pool_paying_a_capped_volunteer_is_refused() -> None:
    with pytest.raises(LedgerRuleError) as error:
        redeem({POOL: Balance(100), V1: Balance(900)}, POOL, V1, age=None)
    assert error.value.code == "PERSON_CAP_EXCEEDED"


# --------------------------------------------------------------------------- examples: reversal


def committed(plan: PlannedTransaction, tx_id: str = "t1") -> Transaction:
    return plan.materialize(id=tx_id, created_at=T0)


def test_reversal_negates_exactly_and_links_the_original() -> None:
    original = committed(mint(balances(v0=Balance(800)), 300))
    state = apply(balances(v0=Balance(800)), original.postings)
    [reversal] = plan_reversal(
        state, original=original, already_reversed=False, pool=POOL, policy=SMALL_POLICY
    )
    assert reversal.reverses_id == "t1"
    assert reversal.kind is TransactionKind.REVERSAL
    assert apply(state, reversal.postings) == balances(v0=Balance(800))


def test_reversal_twice_is_refused() -> None:
    original = committed(mint({}, 60))
    with pytest.raises(LedgerRuleError) as error:
        plan_reversal(
            apply({}, original.postings),
            original=original,
            already_reversed=True,
            pool=POOL,
            policy=SMALL_POLICY,
        )
    assert error.value.code == "ALREADY_REVERSED"


def test_reversal_of_a_reversal_is_refused() -> None:
    original = committed(mint({}, 60))
    state = apply({}, original.postings)
    [reversal] = plan_reversal(
        state, original=original, already_reversed=False, pool=POOL, policy=SMALL_POLICY
    )
    with pytest.raises(LedgerRuleError) as error:
        plan_reversal(
            apply(state, reversal.postings),
            original=committed(reversal, "t2"),
            already_reversed=False,
            pool=POOL,
            policy=SMALL_POLICY,
        )
    assert error.value.code == "REVERSAL_OF_REVERSAL"


def test_reversal_of_spent_minutes_is_refused() -> None:
    original = committed(mint({}, 60))
    spent = plan_donation(apply({}, original.postings), donor=V0, pool=POOL, minutes=30)
    state = apply(apply({}, original.postings), spent.postings)
    with pytest.raises(LedgerRuleError) as error:
        plan_reversal(
            state, original=original, already_reversed=False, pool=POOL, policy=SMALL_POLICY
        )
    assert error.value.code == "REVERSAL_OVERDRAFT"
    assert error.value.account == V0


def test_reversal_handing_back_minutes_above_cap_appends_overflow() -> None:
    original = committed(gift(balances(v0=Balance(100)), Relationship.CHILD))
    state = {V0: Balance(880), V1: Balance(60)}  # v0 earned back up to near the cap since
    plans = plan_reversal(
        state, original=original, already_reversed=False, pool=POOL, policy=SMALL_POLICY
    )
    assert [p.kind for p in plans] == [TransactionKind.REVERSAL, TransactionKind.CAP_OVERFLOW]
    final = apply(apply(state, plans[0].postings), plans[1].postings)
    assert final == {V0: Balance(900), POOL: Balance(40)}


def test_unbalanced_original_cannot_be_reversed() -> None:
    broken = Transaction("t9", TransactionKind.MINT, T0, (Posting(ORG, -60), Posting(V0, 50)))
    with pytest.raises(LedgerRuleError) as error:
        plan_reversal(
            balances(v0=Balance(50)),
            original=broken,
            already_reversed=False,
            pool=POOL,
            policy=SMALL_POLICY,
        )
    assert error.value.code == "UNBALANCED"


def test_planned_transaction_rejects_malformed_postings() -> None:
    cases = {
        "UNBALANCED": (Posting(ORG, -60), Posting(V0, 61)),
        "ZERO_POSTING": (Posting(ORG, 0), Posting(V0, 0)),
        "TOO_FEW_POSTINGS": (Posting(ORG, 1),),
    }
    for code, postings in cases.items():
        with pytest.raises(LedgerRuleError) as error:
            PlannedTransaction(TransactionKind.MINT, postings)
        assert error.value.code == code


# --------------------------------------------------------------------------- examples: expiry & cap


def test_expiry_takes_only_minutes_older_than_the_window() -> None:
    plan = plan_expiry(
        balances(v0=Balance(300, 50)),
        volunteer=V0,
        issuer=ORG,
        recent_credits=Balance(120, 80),
        policy=SMALL_POLICY,
    )
    assert plan is not None
    assert set(plan.postings) == {Posting(V0, -180), Posting(ORG, 180)}


def test_nothing_to_expire_returns_none() -> None:
    assert (
        plan_expiry(
            balances(v0=Balance(100)),
            volunteer=V0,
            issuer=ORG,
            recent_credits=Balance(100),
            policy=SMALL_POLICY,
        )
        is None
    )


def test_expiry_disabled_by_default() -> None:
    with pytest.raises(LedgerRuleError) as error:
        plan_expiry(
            balances(v0=Balance(100)),
            volunteer=V0,
            issuer=ORG,
            recent_credits=Balance(),
            policy=Policy(),
        )
    assert error.value.code == "EXPIRY_DISABLED"
    assert expiry_cutoff(T0, Policy()) is None
    assert expiry_cutoff(T0, SMALL_POLICY) == T0 - timedelta(days=30)


def test_cap_sweep_after_policy_lowers_the_cap() -> None:
    plan = plan_cap_overflow(
        balances(v0=Balance(1000, 20)), volunteer=V0, pool=POOL, policy=SMALL_POLICY
    )
    assert plan is not None and plan.kind is TransactionKind.CAP_OVERFLOW
    assert apply(balances(v0=Balance(1000, 20)), plan.postings) == {
        V0: Balance(900),
        POOL: Balance(120),
    }
    assert (
        plan_cap_overflow(balances(v0=Balance(900)), volunteer=V0, pool=POOL, policy=SMALL_POLICY)
        is None
    )


def test_check_invariants_reports_each_breach() -> None:
    codes = {
        b.code
        for b in check_invariants(
            {V0: Balance(-1), V1: Balance(901), POOL: Balance(0, -5)}, SMALL_POLICY
        )
    }
    assert codes == {"NEGATIVE_BALANCE", "PERSON_CAP_EXCEEDED", "LEDGER_NOT_ZERO_SUM"}


# --------------------------------------------------------------------------- examples: hash chain


def test_chain_hash_is_deterministic_and_independent_of_posting_order() -> None:
    tx = committed(mint({}, 60))
    shuffled = replace(tx, postings=tuple(reversed(tx.postings)))
    assert chain_hash(GENESIS_HASH, tx) == chain_hash(GENESIS_HASH, shuffled)
    assert len(chain_hash(GENESIS_HASH, tx)) == 64
    assert chain_hash(GENESIS_HASH, tx) != chain_hash("1" * 64, tx)


def test_created_at_is_normalised_to_utc_and_must_be_aware() -> None:
    tx = committed(mint({}, 60))
    beijing = replace(tx, created_at=tx.created_at.astimezone(timezone(timedelta(hours=8))))
    assert canonical_bytes(tx) == canonical_bytes(beijing)
    with pytest.raises(ValueError):
        canonical_bytes(replace(tx, created_at=tx.created_at.replace(tzinfo=None)))


def test_verifier_reports_orphan_postings_and_dangling_reversals() -> None:
    ledger = build_ledger([(op_mint, (0, 60, False))])
    tx, _ = ledger.chain[0]
    dangling = replace(tx, id="t1", reverses_id="t404")
    chain = [*ledger.chain, (dangling, chain_hash(ledger.head, dangling))]
    report = verify(
        chain, apply(ledger.balances, dangling.postings), posting_transaction_ids=["t0", "t7"]
    )
    assert {(b.code, b.transaction_id) for b in report.breaches} == {
        ("ORPHAN_POSTING", "t7"),
        ("DANGLING_REVERSAL", "t1"),
    }


def test_verifier_caps_the_breach_list() -> None:
    ledger = build_ledger([(op_mint, (0, 60, False))] * 5)
    report = verify([(tx, "bad") for tx, _ in ledger.chain], {}, max_breaches=3)
    assert len(report.breaches) == 3 and report.truncated


# --------------------------------------------------------------------------- row verifier

json_unsafe_text = st.text(alphabet=st.sampled_from('ab"\\\n\x01é时 '), max_size=8)


def _stored_chain(keys: list[str | None], owners: list[str], versions: list[int],
                  provenance: str = "{}"):
    """Rows as the audit reads them, hashed with chain_hash: (transaction rows, posting
    rows, accounts, head). Each transaction's format is versions[n % len(versions)] kept
    non-decreasing, so the chain is a legitimate one."""
    from volunteer_hub.timebank.ledger import AccountKind, account

    accounts = {1: ("ISSUANCE", owners[0]), 2: ("VOLUNTEER", owners[1])}
    created = datetime(2026, 11, 23, 3, 4, 5, 6, tzinfo=UTC)
    rows, postings, prev, version = [], [], GENESIS_HASH, 1
    for n, key in enumerate(keys, start=1):
        version = max(version, versions[n % len(versions)])
        group = n % 2 == 0
        reverses = n - 1 if n > 1 and key is None else None
        extra = (f"req-{key}", provenance + (key or ""), n if group else None, 7, None)
        tx = Transaction(
            str(n), TransactionKind.MINT, created,
            (Posting(account(AccountKind.ISSUANCE, owners[0]), -n, id=10 * n, account_id=1),
             Posting(account(AccountKind.VOLUNTEER, owners[1]), n, group, id=10 * n + 1,
                     account_id=2)),
            idempotency_key=key, reverses_id=str(reverses) if reverses else None,
            format_version=version, request_hash=extra[0], provenance=extra[1],
            record_id=extra[2], service_volunteer_id=extra[3], created_by_id=extra[4],
        )
        stored = chain_hash(prev, tx)
        rows.append((n, "MINT", created.isoformat(timespec="microseconds"), key, reverses, prev,
                     stored, version, *extra))
        postings += [(n, 10 * n, 1, -n, False), (n, 10 * n + 1, 2, n, group)]
        prev = stored
    return rows, postings, accounts, prev


@fast(100)
@given(
    keys=st.lists(st.one_of(st.none(), json_unsafe_text), min_size=1, max_size=5),
    owners=st.lists(json_unsafe_text.filter(bool), min_size=2, max_size=2, unique=True),
    versions=st.lists(st.sampled_from([1, 2]), min_size=1, max_size=3),
    provenance=json_unsafe_text,
    index=st.integers(0, 10_000),
    column=st.sampled_from([3, 8, 9]),
)
def test_row_verifier_hashes_exactly_like_chain_hash(
    keys: list[str | None], owners: list[str], versions: list[int], provenance: str,
    index: int, column: int,
) -> None:
    """The audit's hand-formatted fast path and the JSON encoder must agree, escapes included,
    in both formats; a quote added to the key (or, in format 2, the request hash or the
    provenance) breaks the hash of that row only."""
    from volunteer_hub.timebank.ledger import verify_rows

    rows, postings, accounts, head = _stored_chain(keys, owners, versions, provenance)
    report = verify_rows(rows, postings, accounts, expected_head=head)
    assert report.ok, report.breaches
    assert (report.transactions_checked, report.postings_checked) == (len(rows), 2 * len(rows))
    i = index % len(rows)
    if rows[i][7] == 1:
        column = 3  # format 1 does not cover the other two
    tampered = list(rows)
    tampered[i] = (*rows[i][:column], (rows[i][column] or "") + '"', *rows[i][column + 1:])
    breaches = verify_rows(tampered, postings, accounts, expected_head=head).breaches
    assert [(b.code, b.transaction_id) for b in breaches] == [("CHAIN_BROKEN", str(i + 1))]


def _edit_row(rows: list, i: int, column: int, value) -> list:
    edited = list(rows)
    edited[i] = (*rows[i][:column], value, *rows[i][column + 1:])
    return edited


@pytest.mark.parametrize("column, value", [
    (8, "other request"), (9, '{"org_id": 2}'), (10, 99), (11, 8), (12, 3),
    (11, None), (10, "null"),
])
def test_format_2_covers_every_transaction_column(column: int, value) -> None:
    rows, postings, accounts, head = _stored_chain(["a", "b", None], ["1", "2"], [2])
    edited = _edit_row(rows, 1, column, value)
    breaches = ledger_verify_rows(edited, postings, accounts, head)
    assert ("CHAIN_BROKEN", "2") in breaches


@pytest.mark.parametrize("column, value", [(1, 999), (2, 2), (3, -3), (4, True)])
def test_format_2_covers_every_posting_column(column: int, value) -> None:
    rows, postings, accounts, head = _stored_chain(["a", "b", None], ["1", "2"], [2])
    edited = list(postings)
    edited[2] = (*postings[2][:column], value, *postings[2][column + 1:])
    assert ("CHAIN_BROKEN", "2") in ledger_verify_rows(rows, edited, accounts, head)


def test_format_1_rows_still_verify_before_format_2_rows() -> None:
    rows, postings, accounts, head = _stored_chain(["a", "b", "c", "d"], ["1", "2"], [1, 1, 2])
    assert [row[7] for row in rows] == [1, 2, 2, 2]
    assert ledger_verify_rows(rows, postings, accounts, head) == []


def test_a_format_1_row_after_a_format_2_row_is_refused_even_when_rehashed() -> None:
    """The downgrade attack: edit a format 2 row's provenance, relabel it format 1 (which does
    not cover provenance) and rehash it and every later row up to the head."""
    rows, postings, accounts, _ = _stored_chain(["a", "b", "c"], ["1", "2"], [2])
    forged, prev = [], GENESIS_HASH
    for row in _edit_row(_edit_row(rows, 1, 9, '{"forged": 1}'), 1, 7, 1):
        tx_id, kind, created, key, reverses, _, _, version = row[:8]
        tx = Transaction(str(tx_id), TransactionKind(kind), datetime.fromisoformat(created),
                         tuple(Posting(volunteer_account("x") if a == 2 else ORG, m, g,
                                       id=p, account_id=a)
                               for t, p, a, m, g in postings if t == tx_id),
                         idempotency_key=key, format_version=version,
                         request_hash=row[8], provenance=row[9], record_id=row[10],
                         service_volunteer_id=row[11], created_by_id=row[12])
        tx = replace(tx, postings=tuple(
            replace(p, account=_account_of(accounts[p.account_id])) for p in tx.postings))
        stored = chain_hash(prev, tx)
        forged.append((*row[:5], prev, stored, *row[7:]))
        prev = stored
    assert ledger_verify_rows(forged, postings, accounts, prev) == [("FORMAT_DOWNGRADE", "2")]


def test_an_unknown_format_is_a_breach_not_a_crash() -> None:
    rows, postings, accounts, head = _stored_chain(["a", "b"], ["1", "2"], [2])
    assert ledger_verify_rows(_edit_row(rows, 0, 7, 3), postings, accounts, head) == [
        ("UNKNOWN_FORMAT", "1")]


def _account_of(owner: tuple[str, str]) -> AccountRef:
    from volunteer_hub.timebank.ledger import AccountKind, account

    return account(AccountKind(owner[0]), owner[1])


def ledger_verify_rows(rows, postings, accounts, head) -> list[tuple[str, str | None]]:
    from volunteer_hub.timebank.ledger import verify_rows

    return [(b.code, b.transaction_id)
            for b in verify_rows(rows, postings, accounts, expected_head=head).breaches]


def test_format_2_bytes_are_a_fixed_json_array_with_explicit_nulls() -> None:
    from volunteer_hub.timebank.ledger import account, AccountKind

    tx = Transaction(
        "5", TransactionKind.MINT, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        (Posting(account(AccountKind.VOLUNTEER, "9"), 60, True, id=12, account_id=4),
         Posting(ORG, -60, id=11, account_id=3)),
        idempotency_key="record:1:mint", format_version=2, request_hash="ab",
        provenance='{"method": "扫码"}', record_id=1, service_volunteer_id=9)
    assert canonical_bytes(tx).decode() == (
        '[2,"5","MINT","2026-01-02T03:04:05.000000+00:00","record:1:mint",null,"ab",'
        '"{\\"method\\": \\"扫码\\"}",1,9,null,'
        '[[11,3,"ISSUANCE","org-1",false,-60],[12,4,"VOLUNTEER","9",true,60]]]')
    with pytest.raises(ValueError):
        canonical_bytes(replace(tx, postings=(replace(tx.postings[0], id=None),)))
    with pytest.raises(ValueError):
        canonical_bytes(replace(tx, format_version=3))
