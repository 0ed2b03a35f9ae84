"""Two transactions writing volunteers of the same communities in opposite orders both
commit: the matching-data versions of a transaction are set once, at commit, in org id
order (bumping at each flush locked version rows in write order: A then B against B then
A deadlocked on PostgreSQL)."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy.orm import Session

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching import cache
from volunteer_hub.matching.models import MatchingDataVersion
from volunteer_hub.volunteers.models import Volunteer


def _versions() -> dict[int, int]:
    db.session.rollback()
    return dict(db.session.execute(db.select(MatchingDataVersion.org_id, MatchingDataVersion.version)).all())


def test_opposite_write_orders_do_not_deadlock(app, tree):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    a1, a2 = helpers.volunteer(tree["a"]), helpers.volunteer(tree["a"])
    b1, b2 = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    db.session.commit()
    before = _versions()
    both_wrote_once = threading.Barrier(2, timeout=20)
    errors: list[BaseException] = []
    engine = db.engine

    def write(first: int, second: int) -> None:
        try:
            with app.app_context(), Session(engine) as session:
                for volunteer_id in (first, second):
                    session.get(Volunteer, volunteer_id).lat += 0.001
                    session.flush()
                    if volunteer_id == first:
                        both_wrote_once.wait()
                session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(a1.id, b1.id)),
               threading.Thread(target=write, args=(b2.id, a2.id))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    after = _versions()
    assert after[tree["a"].id] != before[tree["a"].id]
    assert after[tree["b"].id] != before[tree["b"].id]


def test_a_bump_takes_its_rows_in_org_id_order(app, tree):
    """One statement for many nodes: its rows come in id order (the lock order)."""
    from sqlalchemy.dialects import postgresql

    statement = cache._node_ids([tree["b"].id, tree["a"].id])
    assert "ORDER BY" in str(statement.compile(dialect=postgresql.dialect()))
