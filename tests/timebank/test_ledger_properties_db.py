"""Property-based tests of the persisted ledger (hypothesis, SQLite and PostgreSQL).

tests/timebank/test_ledger.py checks the pure rules; here random sequences of operations go
through the real services and database (verification in bulk and one by one, gifts, donations,
redemptions, reversals, expiry), and the stored ledger must keep its invariants after every
step. A second property tampers with one stored row, bypassing the append-only triggers, and
the audit must notice.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests import factories
from tests.conftest import empty_all_tables
from tests.records import builders
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services as records
from volunteer_hub.records.models import ServiceRecord
from volunteer_hub.timebank import services as timebank
from volunteer_hub.timebank.models import LedgerTransaction

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])
SENIOR = 3  # index of the volunteer old enough to redeem
RECORD_DAILY_CAP = 8 * 60


# --- a fresh deployment per example -------------------------------------------------------

class World:
    """Org tree, an organizer, an administrator, four volunteers and four 8-hour activities
    (two on the same day, one of them group service), relatives declared and confirmed."""

    def __init__(self, db) -> None:
        db.session.rollback()
        db.session.expunge_all()
        empty_all_tables(db.engine)
        self.tree = factories.build_tree()
        self.organizer = factories.make_staff(self.tree["a"], "organizer")
        self.admin = factories.make_staff(self.tree["district"], "admin")
        self.volunteers = [factories.make_volunteer(self.tree["b"]) for _ in range(3)]
        self.volunteers.append(factories.make_volunteer(
            self.tree["a"], id_number=factories.make_id_number(date(1950, 3, 1))))
        db.session.commit()
        starts = [builders.START, builders.START, builders.START + timedelta(days=1),
                  builders.START + timedelta(days=2)]
        self.activities = [
            builders.activity(self.tree["a"], self.organizer, start=start, hours=8,
                              group_service=index == 1)
            for index, start in enumerate(starts)]
        v = self.volunteers
        for giver, relative, relationship, confirmed in (
                (v[0], v[1], "CHILD", True), (v[1], v[0], "PARENT", True),
                (v[0], v[2], "SIBLING", True), (v[2], v[0], "CHILD", False)):
            kinship = timebank.declare_relative(giver, relative, relationship, by=giver.user)
            if confirmed:
                timebank.confirm_relative(kinship, by=self.admin)
        db.session.commit()
        self.key = 0

    def next_key(self) -> str:
        self.key += 1
        return f"op-{self.key}"

    def pending_record(self, volunteer_index: int, activity_index: int, halves: int):
        activity = self.activities[activity_index]
        return records.record_manually(
            activity, self.volunteers[volunteer_index],
            {"minutes": 30 * halves, "reason": "paper sheet"}, by=self.organizer,
            now=activity.ends_at)


def _balances(db) -> dict[tuple[str, str], tuple[int, int]]:
    rows = db.session.execute(text(
        "SELECT kind, owner_id, balance_individual, balance_group FROM ledger_accounts"))
    return {(kind, owner): (int(i), int(g)) for kind, owner, i, g in rows if i or g}


def _max_transaction_id(db) -> int:
    return db.session.execute(text("SELECT coalesce(max(id), 0) FROM ledger_transactions")) \
        .scalar()


def _postings_of(db, transaction_id: int) -> list[tuple[str, str, int, bool]]:
    return sorted((kind, owner, int(minutes), bool(group)) for kind, owner, minutes, group in
                  db.session.execute(text(
        "SELECT a.kind, a.owner_id, p.minutes, p.earned_as_group FROM ledger_postings p "
        "JOIN ledger_accounts a ON a.id = p.account_id WHERE p.transaction_id = :id"),
        {"id": transaction_id}))


def _assert_invariants(db, app) -> None:
    unbalanced = db.session.execute(text(
        "SELECT transaction_id FROM ledger_postings GROUP BY transaction_id "
        "HAVING sum(minutes) <> 0 OR count(*) < 2")).all()
    assert unbalanced == []
    negative = db.session.execute(text(
        "SELECT kind, owner_id FROM ledger_accounts WHERE kind <> 'ISSUANCE' "
        "AND (balance_individual < 0 OR balance_group < 0)")).all()
    assert negative == []
    cap = app.config["TIMEBANK_PERSON_CAP_MINUTES"]
    above_cap = db.session.execute(text(
        "SELECT owner_id FROM ledger_accounts WHERE kind = 'VOLUNTEER' "
        "AND balance_individual + balance_group > :cap"), {"cap": cap}).all()
    assert above_cap == []
    assert sum(i + g for i, g in _balances(db).values()) == 0
    _assert_daily_caps(db, app)


def _assert_daily_caps(db, app) -> None:
    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
    per_day: dict[tuple[int, date], int] = {}
    for record in db.session.execute(db.select(ServiceRecord).filter_by(status="verified")) \
            .scalars():
        key = (record.volunteer_id, record.check_in_at.astimezone(zone).date())
        per_day[key] = per_day.get(key, 0) + record.minutes
    assert all(minutes <= RECORD_DAILY_CAP for minutes in per_day.values()), per_day
    ledger_cap = app.config.get("TIMEBANK_DAILY_EARNING_CAP_MINUTES")
    if ledger_cap:
        midnight = datetime.combine(datetime.now(zone).date(), datetime.min.time(), zone)
        minted = db.session.execute(text(
            "SELECT t.service_volunteer_id, sum(-p.minutes) FROM ledger_transactions t "
            "JOIN ledger_postings p ON p.transaction_id = t.id "
            "JOIN ledger_accounts a ON a.id = p.account_id "
            "WHERE t.kind = 'MINT' AND a.kind = 'ISSUANCE' AND t.created_at >= :start "
            "GROUP BY t.service_volunteer_id"), {"start": midnight.astimezone(UTC)}).all()
        assert all(int(total) <= ledger_cap for _, total in minted), minted


# --- operations -----------------------------------------------------------------------------

volunteer = st.integers(0, 3)
record_spec = st.tuples(volunteer, st.integers(0, 3), st.integers(1, 16))
operations = st.one_of(
    st.tuples(st.just("verify"), st.lists(record_spec, min_size=1, max_size=6), st.booleans()),
    st.tuples(st.just("gift"), volunteer, volunteer, st.integers(1, 300)),
    st.tuples(st.just("donate"), volunteer, st.integers(1, 300), st.booleans()),
    st.tuples(st.just("redeem"), st.booleans(), volunteer, st.integers(1, 300)),
    st.tuples(st.just("reverse"), st.integers(0, 40)),
    st.tuples(st.just("mint_and_reverse"), volunteer, st.integers(1, 16)),
    st.tuples(st.just("expire"), st.integers(0, 60)),
)
policies = st.fixed_dictionaries({
    "TIMEBANK_PERSON_CAP_MINUTES": st.sampled_from([600, 1200, 1500 * 60]),
    "TIMEBANK_DAILY_EARNING_CAP_MINUTES": st.sampled_from([None, 600]),
    "TIMEBANK_EXPIRY_DAYS": st.sampled_from([None, 30]),
})


def _verify(world: World, db, specs, bulk: bool) -> None:
    made = [world.pending_record(*spec) for spec in specs]
    db.session.flush()
    ids = [record.id for record in made]
    before = _max_transaction_id(db)
    if bulk:
        result = records.verify_records(ids, by=world.organizer)
        refused = {item["id"] for item in result["refused"]}
        assert {item["error"] for item in result["refused"]} <= {"DAILY_CAP_REACHED"}
        again = records.verify_records(ids, by=world.organizer)  # a retried request
        assert again["verified"] == []
    else:
        refused = set()
        for record in made:
            try:
                with db.session.begin_nested():
                    records.verify_record(record, by=world.organizer)
            except DomainError as error:
                assert error.code == "DAILY_CAP_REACHED"
                refused.add(record.id)
    minted = db.session.execute(db.select(LedgerTransaction).where(
        LedgerTransaction.id > before)).scalars().all()
    assert all(tx.kind == "MINT" for tx in minted)
    expected = {record.id for record in made if record.id not in refused and record.minutes}
    assert sorted(tx.record_id for tx in minted) == sorted(expected)  # once each


def _reverse(world: World, db, pick: int) -> None:
    candidates = db.session.execute(text(
        "SELECT id FROM ledger_transactions t WHERE kind <> 'REVERSAL' AND NOT EXISTS "
        "(SELECT 1 FROM ledger_transactions r WHERE r.reverses_id = t.id) ORDER BY id")) \
        .scalars().all()
    if not candidates:
        return
    original = candidates[pick % len(candidates)]
    before_balances, before_id = _balances(db), _max_transaction_id(db)
    try:
        with db.session.begin_nested():
            timebank.reverse(original, "property test", by=world.admin,
                             key=world.next_key())
    except DomainError as error:
        assert error.code == "REVERSAL_OVERDRAFT"
        return
    new = db.session.execute(db.select(LedgerTransaction).where(
        LedgerTransaction.id > before_id).order_by(LedgerTransaction.id)).scalars().all()
    assert new[0].kind == "REVERSAL" and new[0].reverses_id == original
    assert all(tx.kind == "CAP_OVERFLOW" for tx in new[1:])
    negated = sorted((k, o, -m, g) for k, o, m, g in _postings_of(db, original))
    assert _postings_of(db, new[0].id) == negated
    expected = dict(before_balances)
    for tx in new:
        for kind, owner, minutes, group in _postings_of(db, tx.id):
            individual, grouped = expected.get((kind, owner), (0, 0))
            expected[(kind, owner)] = (individual + (0 if group else minutes),
                                       grouped + (minutes if group else 0))
    assert _balances(db) == {k: v for k, v in expected.items() if v != (0, 0)}


def _mint_and_reverse(world: World, db, volunteer_index: int, halves: int) -> None:
    record = world.pending_record(volunteer_index, 3, halves)
    before = _balances(db)
    result = records.verify_records([record.id], by=world.organizer)
    if result["refused"] or record.ledger_transaction_id is None:
        return
    assert _balances(db) != before
    timebank.reverse(record.ledger_transaction_id, "entered twice", by=world.admin)
    assert _balances(db) == before  # the reversal restores every balance exactly


def _apply(world: World, db, operation) -> None:
    name, *args = operation
    v = world.volunteers
    if name == "verify":
        _verify(world, db, *args)
    elif name == "gift":
        _refusable(db, lambda: timebank.gift(v[args[0]], v[args[1]], args[2],
                                             key=world.next_key(), by=v[args[0]].user))
    elif name == "donate":
        key = world.next_key()
        count = _max_transaction_id(db)
        for _ in range(2 if args[2] else 1):
            _refusable(db, lambda: timebank.donate(v[args[0]], args[1], key=key,
                                                   by=v[args[0]].user))
        assert _max_transaction_id(db) - count <= 1  # a retry with the key posts nothing
    elif name == "redeem":
        by_pool, provider, minutes = args
        if by_pool:
            _refusable(db, lambda: timebank.redeem(
                v[provider], minutes, key=world.next_key(), by=world.admin,
                pool_community=world.tree["b"], service="陪诊"))
        else:
            _refusable(db, lambda: timebank.redeem(
                v[provider], minutes, key=world.next_key(), by=v[SENIOR].user,
                holder=v[SENIOR], service="助餐"))
    elif name == "reverse":
        _reverse(world, db, *args)
    elif name == "mint_and_reverse":
        _mint_and_reverse(world, db, *args)
    elif name == "expire":
        timebank.expire_balances(now=datetime.now(UTC) + timedelta(days=args[0]))


def _refusable(db, operation) -> None:
    """Rules may refuse (balance, relationship, age, cap): then nothing may have changed."""
    before = _balances(db)
    try:
        with db.session.begin_nested():
            operation()
    except DomainError as error:
        assert error.status in (403, 409, 422), error
        assert _balances(db) == before


def test_any_sequence_of_operations_keeps_the_stored_ledger_consistent(db, app):
    original = {name: app.config.get(name) for name in (
        "TIMEBANK_PERSON_CAP_MINUTES", "TIMEBANK_DAILY_EARNING_CAP_MINUTES",
        "TIMEBANK_EXPIRY_DAYS")}

    @SETTINGS
    @given(policy=policies, steps=st.lists(operations, min_size=1, max_size=8))
    def run(policy, steps):
        app.config.update(policy)
        world = World(db)
        for step in steps:
            _apply(world, db, step)
            db.session.commit()
            _assert_invariants(db, app)
        report = timebank.verify_ledger()
        assert report.ok, report.breaches

    try:
        run()
    finally:
        app.config.update(original)


# --- tampering ------------------------------------------------------------------------------

def _small_ledger(db) -> World:
    """Mints (one group-earned, one above the cap), a gift, a donation, a redemption and a
    reversal: every kind of row the audit reads."""
    world = World(db)
    v = world.volunteers
    made = [world.pending_record(0, 0, 12), world.pending_record(1, 1, 6),
            world.pending_record(SENIOR, 2, 10), world.pending_record(2, 3, 4)]
    records.verify_records([r.id for r in made], by=world.organizer)
    timebank.gift(v[0], v[1], 60, key="gift", by=v[0].user)
    timebank.donate(v[1], 90, key="donation", by=v[1].user)
    timebank.redeem(v[2], 120, key="redemption", by=v[SENIOR].user, holder=v[SENIOR])
    timebank.reverse(made[3].ledger_transaction_id, "wrong volunteer", by=world.admin)
    db.session.commit()
    assert timebank.verify_ledger().ok
    return world


POSTING_EDITS = ("delete", "minutes", "account", "group", "transaction", "id")
TRANSACTION_EDITS = ("delete", "kind", "created_at", "key", "reverses", "prev_hash", "hash",
                     "provenance", "record_id", "request_hash", "created_by", "service_volunteer",
                     "format_version")


def _bypass_guards(db) -> None:
    """What an attacker with DDL rights can do; undone by rolling back the savepoint."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        db.session.execute(text("PRAGMA defer_foreign_keys = ON"))
        for table in ("ledger_postings", "ledger_transactions"):
            for action in ("update", "delete"):
                db.session.execute(text(f"DROP TRIGGER {table}_no_{action}"))


def _tamper_posting(db, edit: str, row: int, rows: list, accounts: list, tx_ids: list) -> None:
    posting_id, transaction_id, account_id = rows[row % len(rows)]
    statements = {
        "delete": ("DELETE FROM ledger_postings WHERE id = :id", {}),
        "minutes": ("UPDATE ledger_postings SET minutes = minutes + 30 WHERE id = :id", {}),
        "account": ("UPDATE ledger_postings SET account_id = :value WHERE id = :id",
                    {"value": next(a for a in accounts if a != account_id)}),
        "group": (("UPDATE ledger_postings SET earned_as_group = NOT earned_as_group "
                   "WHERE id = :id"), {}),
        "transaction": ("UPDATE ledger_postings SET transaction_id = :value WHERE id = :id",
                        {"value": next(t for t in tx_ids if t != transaction_id)}),
        "id": ("UPDATE ledger_postings SET id = id + 1000 WHERE id = :id", {}),
    }
    sql, params = statements[edit]
    db.session.execute(text(sql), {"id": posting_id, **params})


def _tamper_transaction(db, edit: str, row: int, rows: list) -> None:
    tx_id, kind, reverses_id = rows[row % len(rows)]
    reversed_ids = {r for _, _, r in rows if r is not None}
    later = ("created_at + interval '1 second'" if db.engine.dialect.name == "postgresql"
             else "datetime(created_at, '+1 second')")
    statements = {
        "delete": "DELETE FROM ledger_transactions WHERE id = :id",
        "kind": f"UPDATE ledger_transactions SET kind = "
                f"'{'GIFT' if kind != 'GIFT' else 'DONATION'}' WHERE id = :id",
        "created_at": f"UPDATE ledger_transactions SET created_at = {later} WHERE id = :id",
        "key": "UPDATE ledger_transactions SET idempotency_key = idempotency_key || 'x' "
               "WHERE id = :id",
        "reverses": ("UPDATE ledger_transactions SET reverses_id = NULL WHERE id = :id"
                     if reverses_id is not None or tx_id in reversed_ids else
                     "UPDATE ledger_transactions SET reverses_id = id WHERE id = :id"),
        "prev_hash": "UPDATE ledger_transactions SET prev_hash = :fake WHERE id = :id",
        "hash": "UPDATE ledger_transactions SET hash = :fake WHERE id = :id",
        "provenance": "UPDATE ledger_transactions SET provenance = provenance || ' ' "
                      "WHERE id = :id",
        "record_id": "UPDATE ledger_transactions SET record_id = coalesce(record_id, 0) + 1 "
                     "WHERE id = :id",
        "request_hash": "UPDATE ledger_transactions SET request_hash = :fake WHERE id = :id",
        "created_by": "UPDATE ledger_transactions SET created_by_id = CASE WHEN created_by_id "
                      "IS NULL THEN (SELECT min(id) FROM users) END WHERE id = :id",
        "service_volunteer": "UPDATE ledger_transactions SET service_volunteer_id = "
                             "coalesce(service_volunteer_id, 0) + 1 WHERE id = :id",
        "format_version": "UPDATE ledger_transactions SET format_version = 3 - format_version "
                          "WHERE id = :id",
    }
    db.session.execute(text(statements[edit]), {"id": tx_id, "fake": "f" * 64})


def test_the_audit_detects_any_single_edited_or_deleted_row(db):
    _small_ledger(db)
    postings = db.session.execute(text(
        "SELECT id, transaction_id, account_id FROM ledger_postings ORDER BY id")).all()
    transactions = db.session.execute(text(
        "SELECT id, kind, reverses_id FROM ledger_transactions ORDER BY id")).all()
    accounts = db.session.execute(text("SELECT id FROM ledger_accounts")).scalars().all()
    tx_ids = [row[0] for row in transactions]
    tampered = st.one_of(
        st.tuples(st.just("posting"), st.sampled_from(POSTING_EDITS), st.integers(0, 99)),
        st.tuples(st.just("transaction"), st.sampled_from(TRANSACTION_EDITS),
                  st.integers(0, 99)))
    db.session.commit()

    @settings(SETTINGS, max_examples=80)  # enough to reach every kind of edit
    @given(change=tampered)
    def run(change):
        table, edit, row = change
        savepoint = db.session.begin_nested()
        try:
            _bypass_guards(db)
            if table == "posting":
                _tamper_posting(db, edit, row, postings, accounts, tx_ids)
            else:
                _tamper_transaction(db, edit, row, transactions)
            report = timebank.verify_ledger()
            assert not report.ok, change
        finally:
            savepoint.rollback()
        assert timebank.verify_ledger().ok  # the rollback restored the ledger (and guards)

    run()
    db.session.rollback()
    with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM ledger_postings")
