"""Fixtures: one app per session, a clean database per test, builders for data.

The suite runs on SQLite by default; set VOLUNTEER_HUB_TEST_DATABASE_URL to a
PostgreSQL URL to run the same tests there (.ci/run does both).
"""
from __future__ import annotations

import os

import pytest

from tests import factories
from volunteer_hub import create_app
from volunteer_hub.db import db as _db
from volunteer_hub.extensions import limiter

TEST_DATABASE_URL = os.environ.get("VOLUNTEER_HUB_TEST_DATABASE_URL")
# One browser and one live server for the whole run, whichever feature's tests use them.
pytest_plugins = ("tests.browser_support",)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    database_url = TEST_DATABASE_URL or f"sqlite:///{instance / 'test.db'}"
    app = create_app({
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
        "ID_HASH_KEY": "test-id-hash-key",
        "WTF_CSRF_ENABLED": True,
        # Cheap hashes keep the suite fast; production uses argon2's defaults.
        "ARGON2_PARAMETERS": {"time_cost": 1, "memory_cost": 1024, "parallelism": 1},
    })
    app.instance_path = str(instance)
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.drop_all()


@pytest.fixture
def db(app, tmp_path):
    """An app context and a clean database for each test.

    Signed ledger checkpoints live outside the database: each test gets its own store, or a
    checkpoint of an earlier test's ledger would make this test's ledger look truncated.
    """
    app.config["LEDGER_CHECKPOINT_DIR"] = str(tmp_path / "ledger-checkpoints")
    with app.app_context():
        yield _db
        _db.session.rollback()
        _db.session.remove()
        empty_all_tables(_db.engine)
        limiter.reset()


def empty_all_tables(engine) -> None:
    """Delete every row, even from append-only tables guarded by triggers.

    PostgreSQL's TRUNCATE fires no row triggers; SQLite cannot disable triggers, so they are
    dropped for the cleanup and created again from their stored SQL.
    """
    tables = [table.name for table in reversed(_db.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            quoted = ", ".join(f'"{name}"' for name in tables)
            connection.exec_driver_sql(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE")
            return
        triggers = connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").all()
        for name, _sql in triggers:
            connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
        for name in tables:
            connection.exec_driver_sql(f'DELETE FROM "{name}"')
        for _name, sql in triggers:
            connection.exec_driver_sql(sql)


@pytest.fixture
def client(app, db):
    return app.test_client()


@pytest.fixture
def tree(db):
    nodes = factories.build_tree()
    db.session.commit()
    return nodes


@pytest.fixture
def make_staff(db):
    def make(org, role, name=None):
        user = factories.make_staff(org, role, name)
        db.session.commit()
        return user
    return make


@pytest.fixture
def make_volunteer(db):
    def make(community, **overrides):
        volunteer = factories.make_volunteer(community, **overrides)
        db.session.commit()
        return volunteer
    return make


@pytest.fixture
def auth_header(client):
    """Log a user in through the API and return its Authorization header."""
    def login(user, password=factories.PASSWORD):
        response = client.post("/api/v1/tokens", json={"login": user.phone, "password": password})
        assert response.status_code == 201, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['token']}"}
    return login
