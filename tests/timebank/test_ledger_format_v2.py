"""Canonical format 2 on the database (SQLite and PostgreSQL): every column of a transaction
and of its postings is under the chain hash, format 1 rows written before still verify, and a
row may not fall back to format 1 once format 2 rows exist."""
from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from sqlalchemy import select, text

from tests.records import builders
from volunteer_hub.cli import main as cli
from volunteer_hub.records import services as records
from volunteer_hub.timebank import ledger
from volunteer_hub.timebank import services as timebank
from volunteer_hub.timebank.models import LedgerTransaction, sqlite_trigger_sql

TABLES = ("ledger_transactions", "ledger_postings")


@pytest.fixture
def small_ledger(db, tree, make_staff, make_volunteer):
    """Two batched mints, a donation and a reversal (ORM path): the ids of the MINT that is
    edited and of the reversal, and the donation's (the last row)."""
    organizer = make_staff(tree["a"], "organizer")
    admin = make_staff(tree["district"], "admin")
    volunteer = make_volunteer(tree["b"])
    activities = [builders.activity(tree["a"], organizer, start=builders.START + timedelta(days=day))
                  for day in (0, 1)]
    made = [builders.checked_out(activity, volunteer, minutes=120) for activity in activities]
    records.verify_records([record.id for record in made], by=organizer)
    reversal = timebank.reverse(made[1].ledger_transaction_id, "entered twice", by=admin)
    donation = timebank.donate(volunteer, 30, key="donation", by=volunteer.user)
    db.session.commit()
    assert timebank.verify_ledger().ok
    return {"mint": made[0].ledger_transaction_id, "reversal": reversal.id,
            "donation": donation.id}


def _formats(db) -> list[int]:
    return list(db.session.execute(
        select(LedgerTransaction.format_version).order_by(LedgerTransaction.id)).scalars())


def _tamper(engine, statement: str, params: dict) -> None:
    """An attacker with DDL rights: the append-only triggers off, one edit, triggers back."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
            connection.execute(text(statement), params)
            return
        for table in TABLES:
            connection.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
        connection.execute(text(statement), params)
        for table in TABLES:
            connection.exec_driver_sql(sqlite_trigger_sql(table)[0])


def _run_cli(app):
    return CliRunner().invoke(cli, ["ledger", "verify"], obj=ScriptInfo(create_app=lambda: app))


TRANSACTION_COLUMN_EDITS = {
    "provenance": "provenance = replace(provenance, '\"method\"', '\"methods\"')",
    "record_id": "record_id = record_id + 1",
    "request_hash": "request_hash = 'f' || substr(request_hash, 2)",
    "created_by_id": "created_by_id = NULL",
    "service_volunteer_id": "service_volunteer_id = NULL",
    "format_version": "format_version = 1",
}
POSTING_COLUMN_EDITS = {
    "id": "id = id + 1000",
    "account_id": "account_id = (SELECT max(id) FROM ledger_accounts WHERE id <> account_id)",
    "minutes": "minutes = minutes + 1",
    "earned_as_group": "earned_as_group = NOT earned_as_group",
}


@pytest.mark.parametrize("column", TRANSACTION_COLUMN_EDITS)
def test_ledger_verify_names_the_transaction_whose_column_was_edited(db, app, small_ledger,
                                                                     column):
    target = small_ledger["mint"]
    _tamper(db.engine, f"UPDATE ledger_transactions SET {TRANSACTION_COLUMN_EDITS[column]} "
                       "WHERE id = :id", {"id": target})
    db.session.rollback()
    result = _run_cli(app)
    assert result.exit_code == 1, result.output
    assert f"BREACH CHAIN_BROKEN transaction={target} " in result.output


@pytest.mark.parametrize("column", POSTING_COLUMN_EDITS)
def test_ledger_verify_names_the_transaction_whose_posting_was_edited(db, app, small_ledger,
                                                                      column):
    target = small_ledger["donation"]  # the last row: only its own hash can notice
    _tamper(db.engine, f"UPDATE ledger_postings SET {POSTING_COLUMN_EDITS[column]} WHERE id = "
                       "(SELECT max(id) FROM ledger_postings WHERE transaction_id = :id)",
            {"id": target})
    db.session.rollback()
    result = _run_cli(app)
    assert result.exit_code == 1, result.output
    assert f"BREACH CHAIN_BROKEN transaction={target} " in result.output


def test_every_write_path_hashes_the_row_it_stores(db, small_ledger):
    """The batched mint path and the ORM path (reversal, donation) store format 2 rows whose
    hash is chain_hash of the ledger.Transaction rebuilt from every stored column."""
    rows = db.session.execute(select(LedgerTransaction).order_by(LedgerTransaction.id)) \
        .scalars().all()
    assert {row.kind for row in rows} == {"MINT", "REVERSAL", "DONATION"}
    assert [row.format_version for row in rows] == [2] * len(rows)
    for row in rows:
        stored = ledger.Transaction(
            id=str(row.id), kind=ledger.TransactionKind(row.kind), created_at=row.created_at,
            postings=tuple(ledger.Posting(
                ledger.account(ledger.AccountKind(p.account.kind), p.account.owner_id),
                p.minutes, p.earned_as_group, id=p.id, account_id=p.account_id)
                for p in row.postings),
            idempotency_key=row.idempotency_key,
            reverses_id=str(row.reverses_id) if row.reverses_id else None, format_version=2,
            request_hash=row.request_hash, provenance=row.provenance, record_id=row.record_id,
            service_volunteer_id=row.service_volunteer_id, created_by_id=row.created_by_id)
        assert ledger.chain_hash(row.prev_hash, stored) == row.hash, row.kind


def test_format_1_rows_written_before_still_verify(db, app, tree, make_staff, make_volunteer,
                                                   monkeypatch):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    old = builders.checked_out(builders.activity(tree["a"], organizer), volunteer, minutes=60)
    with monkeypatch.context() as patch:  # the previous release wrote format 1
        patch.setattr(ledger, "CANONICAL_FORMAT_VERSION", 1)
        records.verify_record(old, by=organizer)
        timebank.donate(volunteer, 10, key="old donation", by=volunteer.user)
        db.session.commit()
    timebank.donate(volunteer, 20, key="new donation", by=volunteer.user)
    db.session.commit()
    assert _formats(db) == [1, 1, 2]
    result = _run_cli(app)
    assert result.exit_code == 0, result.output


def test_a_format_1_row_after_format_2_rows_is_a_breach(db, small_ledger):
    """Downgrade: the format 2 donation relabelled format 1 (as if written by an outdated
    writer or rehashed in the format that ignores provenance)."""
    _tamper(db.engine, "UPDATE ledger_transactions SET format_version = 1 WHERE id = :id",
            {"id": small_ledger["donation"]})
    db.session.rollback()
    breaches = {(b.code, b.transaction_id) for b in timebank.verify_ledger().breaches}
    assert ("FORMAT_DOWNGRADE", str(small_ledger["donation"])) in breaches
