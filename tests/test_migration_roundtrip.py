"""Migrations down and up again over the demo plus a ledger (both engines): a downgrade that
would drop data refuses unless forced (volunteer_hub.migration_guard), and the ledger still
verifies after going below its canonical-format revision and back (issue 11, item 8)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from flask.cli import ScriptInfo
from alembic import command
from flask import current_app
from sqlalchemy import func, inspect, select, text

from tests import factories
from tests.records import builders
from tests.test_migrations import empty_database_url  # noqa: F401  (fixture)
from volunteer_hub import MIGRATIONS_DIR, create_app
from volunteer_hub.accounts.models import RoleGrant
from volunteer_hub.cli import main as cli
from volunteer_hub.db import db
from volunteer_hub.demo import build_demo
from volunteer_hub.migration_guard import FORCE_ENVIRONMENT_VARIABLE, DataLossRefused
from volunteer_hub.notify.models import OutboxContent, OutboxMessage
from volunteer_hub.records import services as records
from volunteer_hub.timebank.models import LedgerTransaction
from volunteer_hub.volunteers.models import Volunteer

DIRECTORY = str(MIGRATIONS_DIR)
BELOW_LEDGER_FORMAT = "d6a7b8c9d0e1"  # the revision under e7f8a9b0c1d2 (format_version)
# Revisions whose downgrade drops tables or columns the demo, the ledger or an alert fill.
DATA_LOSING = {"5f24129eb5b1", "7a3c91d2e4b6", "8b1f0e2a9c01", "a9b0c1d2e3f4",
               "d23b624158f2", "e4eb486ac9a6"}


@pytest.fixture
def migrated_app(empty_database_url, monkeypatch):  # noqa: F811
    """The head schema holding a small demo, three ledger transactions and an unsent alert."""
    monkeypatch.delenv(FORCE_ENVIRONMENT_VARIABLE, raising=False)
    app = create_app({"DATABASE_URL": empty_database_url, **factories.MIGRATION_APP_CONFIG})
    with app.app_context():
        upgrade()
        build_demo(volunteers=30)
        _ledger_and_alert()
        db.session.remove()
        yield app
        db.session.remove()
        db.engine.dispose()


def upgrade() -> None:
    command.upgrade(_alembic_config(), "head")


def downgrade(revision: str, x_arg: list[str] | None = None) -> None:
    """Alembic's own command: flask-migrate's turns the refusal into a logged exit(1)."""
    command.downgrade(_alembic_config(x_arg), revision)


def _alembic_config(x_arg: list[str] | None = None):
    return current_app.extensions["migrate"].migrate.get_config(DIRECTORY, x_arg=x_arg)


def _ledger_and_alert() -> None:
    grant = db.session.scalar(select(RoleGrant).where(RoleGrant.role == "organizer"))
    volunteer = db.session.scalar(select(Volunteer).where(
        Volunteer.status == "active", Volunteer.community_id == grant.org_id))
    organizer = grant.user
    made = [builders.checked_out(builders.activity(
        grant.org, organizer, start=builders.START.replace(day=day)), volunteer,
        minutes=90) for day in (24, 25, 26)]
    records.verify_records([record.id for record in made], by=organizer)
    db.session.add(OutboxContent(event_key="drill:1", locale="zh_Hans", subject="演练",
                                 body="请回复"))
    db.session.add(OutboxMessage(event_key="drill:1", recipient_id=volunteer.user_id,
                                 channel="sms", address="13800000000", body=None, ref_id=7))
    db.session.commit()


def _ledger_verify(app):
    result = CliRunner().invoke(cli, ["ledger", "verify"], obj=ScriptInfo(create_app=lambda: app))
    db.session.remove()  # its reads must not hold locks a migration waits for
    return result


def _row_counts() -> dict[str, int]:
    with db.engine.connect() as connection:
        return {table: connection.scalar(text(f'SELECT COUNT(*) FROM "{table}"'))
                for table in inspect(connection).get_table_names()}


def _current_revision() -> str | None:
    with db.engine.connect() as connection:
        if "alembic_version" not in inspect(connection).get_table_names():
            return None
        return connection.scalar(text("SELECT version_num FROM alembic_version"))


def _formats() -> list[int]:
    return list(db.session.scalars(
        select(LedgerTransaction.format_version).order_by(LedgerTransaction.id)))


def test_down_below_the_ledger_format_and_up_again_keeps_the_ledger_verifiable(
        migrated_app, monkeypatch):
    formats = _formats()
    db.session.remove()
    assert formats and set(formats) == {2} and _ledger_verify(migrated_app).exit_code == 0

    before, head = _row_counts(), _current_revision()
    # The first refusal on the way down is the newest revision whose columns the demo fills
    # (the ledger MACs' own refusal: tests/timebank/test_ledger_migration.py).
    with pytest.raises(DataLossRefused, match=r"would drop data"):
        downgrade(BELOW_LEDGER_FORMAT)
    after = _row_counts()
    assert _current_revision() == head  # not even the data-free steps above it are undone
    assert {table: after[table] for table in before if table in after} == {
        table: before[table] for table in before if table in after}

    monkeypatch.setenv(FORCE_ENVIRONMENT_VARIABLE, "1")  # the alert's link may go
    downgrade(BELOW_LEDGER_FORMAT)
    monkeypatch.delenv(FORCE_ENVIRONMENT_VARIABLE)
    assert _current_revision() == BELOW_LEDGER_FORMAT
    upgrade()

    assert _formats() == formats
    db.session.remove()
    result = _ledger_verify(migrated_app)
    assert result.exit_code == 0, result.output
    assert "Ledger OK." in result.output


def test_each_data_losing_downgrade_refuses_with_data_intact_until_forced_to_base(
        migrated_app):
    refused = set()
    while (revision := _current_revision()) is not None:
        before = _row_counts()
        try:
            downgrade("-1")
            continue
        except DataLossRefused as refusal:
            assert revision in str(refusal)
        assert _current_revision() == revision and _row_counts() == before
        refused.add(revision)
        downgrade("-1", x_arg=["force=1"])  # as `flask db downgrade --x-arg force=1`

    assert DATA_LOSING <= refused
    with db.engine.connect() as connection:
        assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert _current_revision() is not None and _row_counts()["volunteers"] == 0
