"""Migrations: one head, and upgrading an empty database gives exactly the models' schema."""
from __future__ import annotations

import os
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from volunteer_hub import MIGRATIONS_DIR, create_app
from volunteer_hub.db import db


def test_single_head():
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) == 1, f"several migration heads: {heads}; merge them"


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new database on the engine under test (SQLite file or a new PG database)."""
    base = os.environ.get("VOLUNTEER_HUB_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
        return
    name = f"vh_migration_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(base).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield str(make_url(base).set(database=name).render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrade_from_empty_matches_the_models(empty_database_url, tmp_path):
    from flask_migrate import upgrade

    app = create_app({"DATABASE_URL": empty_database_url, "SECRET_KEY": "x",
                      "DATA_ENCRYPTION_KEY": "Y2xhc3NpZmllZC10ZXN0LWtleS0wMTIzNDU2Nzg5YWI=",
                      "ID_HASH_KEY": "x"})
    with app.app_context():
        upgrade(directory=str(MIGRATIONS_DIR))
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == [], f"models and migrations differ: {differences}"
