"""The task check-in migration (d2e3f4a5b6c7) on both engines: a downgrade that would drop the
links between records and tasks refuses unless forced, and keeps every record either way."""
from __future__ import annotations

import pytest
from alembic import command
from flask import current_app
from sqlalchemy import inspect, text

from tests import factories
from tests.needs import helpers
from tests.records.task_builders import task
from tests.test_migrations import empty_database_url  # noqa: F401  (fixture)
from volunteer_hub import MIGRATIONS_DIR, create_app
from volunteer_hub.db import db
from volunteer_hub.migration_guard import FORCE_ENVIRONMENT_VARIABLE, DataLossRefused
from volunteer_hub.records import tasks

REVISION, BELOW = "d2e3f4a5b6c7", "c1d2e3f4a5b6"


@pytest.fixture
def migrated(empty_database_url, monkeypatch):  # noqa: F811
    monkeypatch.delenv(FORCE_ENVIRONMENT_VARIABLE, raising=False)
    app = create_app({"DATABASE_URL": empty_database_url, **factories.MIGRATION_APP_CONFIG})
    with app.app_context():
        _alembic("upgrade", "head")  # the models write every column of the head
        yield app
        db.session.remove()
        db.engine.dispose()


def _alembic(verb: str, revision: str) -> None:
    config = current_app.extensions["migrate"].migrate.get_config(str(MIGRATIONS_DIR))
    getattr(command, verb)(config, revision)


def _checked_in_task():
    tree = factories.build_tree()
    db.session.commit()
    volunteer = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                        by=volunteer.user)
    db.session.commit()
    db.session.remove()


def _columns(table: str) -> set[str]:
    with db.engine.connect() as connection:
        return {column["name"] for column in inspect(connection).get_columns(table)}


def _count(table: str) -> int:
    with db.engine.connect() as connection:
        return connection.scalar(text(f"SELECT COUNT(*) FROM {table}"))


def test_downgrade_refuses_to_drop_task_links_until_forced(migrated, monkeypatch):
    _checked_in_task()
    with pytest.raises(DataLossRefused, match=f"{REVISION}.*service_records.assignment_id"):
        _alembic("downgrade", BELOW)
    db.session.remove()
    assert "assignment_id" in _columns("service_records")
    monkeypatch.setenv(FORCE_ENVIRONMENT_VARIABLE, "1")
    _alembic("downgrade", BELOW)
    assert "assignment_id" not in _columns("service_records")
    assert "need_id" not in _columns("activities")
    assert _count("service_records") == 1 and _count("activities") == 1
    monkeypatch.delenv(FORCE_ENVIRONMENT_VARIABLE)
    _alembic("upgrade", "head")
    assert "assignment_id" in _columns("service_records")


def test_downgrade_without_task_links_needs_no_force(migrated):
    _alembic("downgrade", BELOW)
    assert "assignment_id" not in _columns("service_records")
