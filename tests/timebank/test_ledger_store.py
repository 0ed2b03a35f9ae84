"""The persisted ledger: idempotency, append-only triggers, the audit, transfers, stars."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import DatabaseError

from tests.records import builders
from volunteer_hub.cli import main as cli
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services as records
from volunteer_hub.timebank import services as timebank
from volunteer_hub.timebank.models import LedgerTransaction, Posting, sqlite_trigger_sql
from volunteer_hub.timebank.models import postgresql_trigger_sql


@pytest.fixture
def earned(tree, make_staff, make_volunteer, db):
    """A volunteer with 3 verified hours, and the organizer who verified them."""
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    activity = builders.activity(tree["a"], organizer)
    record = builders.checked_out(activity, volunteer, minutes=180)
    records.verify_record(record, by=organizer)
    db.session.commit()
    return organizer, volunteer, record


def test_same_idempotency_key_posts_once(db, earned):
    _, volunteer, record = earned
    again = timebank.mint_for_record(record, by=None)  # a retried mint of the same record
    db.session.commit()
    assert again.id == record.ledger_transaction_id
    first = timebank.donate(volunteer, 30, key="k-1", by=volunteer.user)
    db.session.commit()
    second = timebank.donate(volunteer, 30, key="k-1", by=volunteer.user)
    db.session.commit()
    assert first.id == second.id
    assert timebank.balance_of(volunteer).total == 150
    with pytest.raises(DomainError) as error:
        timebank.donate(volunteer, 45, key="k-1", by=volunteer.user)
    assert error.value.code == "IDEMPOTENCY_KEY_REUSED"
    assert db.session.query(LedgerTransaction).count() == 2


def test_triggers_refuse_update_and_delete_of_postings(db, earned):
    engine = db.engine
    for statement in ("UPDATE ledger_postings SET minutes = minutes + 1",
                      "DELETE FROM ledger_postings",
                      "UPDATE ledger_transactions SET kind = 'GIFT'",
                      "DELETE FROM ledger_transactions"):
        with pytest.raises(DatabaseError, match="append-only"):
            with engine.begin() as connection:
                connection.exec_driver_sql(statement)
    assert db.session.query(Posting).count() == 2


def _tamper(engine, statement):
    """Simulate an attacker with DDL rights: drop the trigger, edit, put the trigger back."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(
                "ALTER TABLE ledger_postings DISABLE TRIGGER ledger_postings_append_only")
            connection.exec_driver_sql(statement)
            connection.exec_driver_sql(
                "ALTER TABLE ledger_postings ENABLE TRIGGER ledger_postings_append_only")
        else:
            connection.exec_driver_sql("DROP TRIGGER ledger_postings_no_update")
            connection.exec_driver_sql(statement)
            connection.exec_driver_sql(sqlite_trigger_sql("ledger_postings")[0])


def test_ledger_verify_passes_clean_and_detects_an_edited_posting(db, app, earned):
    _, volunteer, _ = earned
    timebank.donate(volunteer, 60, key="d", by=volunteer.user)
    db.session.commit()
    runner = CliRunner()
    result = runner.invoke(cli, ["ledger", "verify"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    assert "Ledger OK" in result.output
    _tamper(db.engine, "UPDATE ledger_postings SET minutes = 999 WHERE minutes = 60")
    db.session.rollback()  # end the old read snapshot so the tampering is visible
    report = timebank.verify_ledger()
    codes = {breach.code for breach in report.breaches}
    assert {"UNBALANCED", "CHAIN_BROKEN", "BALANCE_MISMATCH"} <= codes
    result = runner.invoke(cli, ["ledger", "verify"], obj=_script_info(app))
    assert result.exit_code == 1
    assert "BREACH" in result.output


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_reversal_is_linked_and_restores_balances(db, earned, tree, make_staff):
    organizer, volunteer, record = earned
    with pytest.raises(DomainError):  # organizers verify; reversing is an administrator's
        timebank.reverse(record.ledger_transaction_id, "error", by=organizer)
    admin = make_staff(tree["district"], "admin")
    reversal = timebank.reverse(record.ledger_transaction_id, "recorded twice", by=admin)
    db.session.commit()
    assert reversal.reverses_id == record.ledger_transaction_id
    assert timebank.balance_of(volunteer).total == 0
    assert timebank.service_minutes(volunteer) == 0
    with pytest.raises(DomainError) as error:
        timebank.reverse(record.ledger_transaction_id, "again", by=admin, key="other")
    assert error.value.code == "ALREADY_REVERSED"
    assert timebank.verify_ledger().ok


def test_gift_needs_a_confirmed_direct_relative(db, earned, tree, make_staff, make_volunteer):
    _, giver, _ = earned
    child = make_volunteer(tree["b"])
    with pytest.raises(DomainError) as error:
        timebank.gift(giver, child, 60, key="g1", by=giver.user)
    assert error.value.code == "NOT_DIRECT_RELATIVE"
    kinship = timebank.declare_relative(giver, child, "CHILD", by=giver.user)
    with pytest.raises(DomainError) as error:
        timebank.gift(giver, child, 60, key="g2", by=giver.user)
    assert error.value.code == "RELATIONSHIP_UNCONFIRMED"
    timebank.confirm_relative(kinship, by=make_staff(tree["city"], "admin"))
    with pytest.raises(DomainError):  # only the holder moves their hours
        timebank.gift(giver, child, 60, key="g3", by=child.user)
    timebank.gift(giver, child, 60, key="g4", by=giver.user)
    db.session.commit()
    assert timebank.balance_of(giver).total == 120
    assert timebank.balance_of(child).total == 60
    assert timebank.service_minutes(child) == 0  # gifts do not count for stars


def test_redemption_age_and_cross_community_spending(db, earned, tree, make_staff,
                                                     make_volunteer):
    organizer, young, _ = earned  # young earned 3 h in community A, lives in B
    from tests.factories import make_id_number

    senior = make_volunteer(tree["b"], id_number=make_id_number(date(1950, 3, 1)))
    provider = make_volunteer(tree["a"])
    with pytest.raises(DomainError) as error:
        timebank.redeem(provider, 60, key="r0", by=young.user, holder=young)
    assert error.value.code == "BELOW_REDEMPTION_AGE"
    with pytest.raises(DomainError) as error:
        timebank.redeem(provider, 60, key="r1", by=senior.user, holder=senior)
    assert error.value.code == "INSUFFICIENT_BALANCE"
    activity = builders.activity(tree["b"], make_staff(tree["b"], "organizer"))
    record = builders.checked_out(activity, senior, minutes=120)
    records.verify_record(record, by=None)
    timebank.redeem(provider, 90, key="r2", by=senior.user, holder=senior, service="陪诊")
    db.session.commit()
    assert timebank.balance_of(senior).total == 30
    assert timebank.balance_of(provider).total == 90
    assert timebank.verify_ledger().ok


def test_star_levels_thresholds(app):
    # The levels come from the STAR_THRESHOLDS_HOURS setting (default 100/300/600/1000/1500 h).
    with app.app_context():
        levels = [timebank.star_level(h * 60) for h in (0, 99, 100, 299, 300, 600, 999, 1000,
                                                        1499, 1500, 5000)]
    assert levels == [0, 0, 1, 1, 2, 3, 3, 4, 4, 5, 5]


def test_newly_starred_lists_volunteers_who_crossed_a_level(db, earned, tree, make_staff):
    organizer, volunteer, record = earned
    street_organizer = make_staff(tree["street"], "organizer")
    assert timebank.service_minutes(volunteer) == 180
    since = record.verified_at - timedelta(minutes=1)
    assert timebank.newly_starred(since, by=street_organizer) == []
    # 100 h of verified service: a series of long activities on different days
    for day in range(1, 17):
        activity = builders.activity(tree["a"], organizer,
                                     start=builders.START + timedelta(days=day), hours=8)
        item = builders.checked_out(activity, volunteer, minutes=480)
        records.verify_record(item, by=organizer)
    db.session.commit()
    assert timebank.service_minutes(volunteer) == 180 + 16 * 480
    notice = timebank.newly_starred(since, by=street_organizer)
    assert [(n["volunteer"].id, n["level"]) for n in notice] == [(volunteer.id, 1)]
    # the activity's organizer in community A does not see B's residents on the notice
    assert timebank.newly_starred(since, by=organizer) == []
    assert timebank.newly_starred(record.verified_at + timedelta(days=30),
                                  by=street_organizer) == []


def test_trigger_sql_is_defined_for_both_engines():
    assert len(sqlite_trigger_sql("ledger_postings")) == 2
    assert "BEFORE UPDATE OR DELETE" in postgresql_trigger_sql("ledger_postings")[1]
