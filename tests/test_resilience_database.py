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


def test_times_are_utc_whatever_the_servers_time_zone(postgresql_only, db, client, tree,
                                                      auth_header):
    """A server set up in China has timezone = 'Asia/Shanghai' (initdb takes the system's):
    every aware UTC time written to a plain timestamp column was stored as Shanghai wall
    time, and the API then wrote it with +00:00: 8 hours off. Sessions run in UTC."""
    from datetime import UTC, datetime

    from tests.factories import make_staff as staff_of

    name = db.session.execute(text("SELECT current_database()")).scalar_one()
    community_id = tree["a"].id
    db.session.remove()
    outside = create_engine(db.engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with outside.connect() as connection:
        connection.execute(text(f'ALTER DATABASE "{name}" SET timezone TO \'Asia/Shanghai\''))
    db.engine.dispose()  # new connections take the database's zone
    try:
        from volunteer_hub.orgs.models import Org

        user = staff_of(db.session.get(Org, community_id), "organizer")
        db.session.commit()
        auth_header(user)  # a token made through POST /tokens
        tokens = client.get("/api/v1/tokens", headers=auth_header(user)).get_json()
        created = datetime.fromisoformat(tokens[0]["created_at"])
        assert abs((created - datetime.now(UTC)).total_seconds()) < 120
    finally:
        db.session.remove()
        with outside.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{name}" RESET timezone'))
        outside.dispose()
        db.engine.dispose()
