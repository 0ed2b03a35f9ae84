"""Connections the database closed are replaced before use (issue 11, item 7).

PostgreSQL ends connections on a restart, a failover or an idle timeout; the pool kept
handing them out and each one cost a user a 500. Pre-ping checks a connection when it
leaves the pool and opens a new one in its place.
"""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.factories import make_staff


def terminate_the_apps_connections(engine) -> int:
    """What a database restart does to the app's idle connections (from outside the app)."""
    outside = create_engine(engine.url, poolclass=NullPool)
    with outside.connect() as connection:
        ended = connection.execute(text(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar_one()
        connection.commit()
    outside.dispose()
    return ended


@pytest.fixture
def postgresql_only(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("pg_terminate_backend is PostgreSQL's")


def test_requests_after_the_database_closed_the_connections_answer_200(
        postgresql_only, db, client, tree, auth_header):
    user = make_staff(tree["a"], "organizer")
    db.session.commit()
    headers = auth_header(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    db.session.remove()  # every connection is idle in the pool now
    assert terminate_the_apps_connections(db.engine) >= 1
    for _ in range(db.engine.pool.size() + 1):  # each pooled connection was closed
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
