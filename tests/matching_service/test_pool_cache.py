"""A process keeps an org's loaded volunteer pool between runs (matching/cache.py): a run
from the kept pool proposes what a run from the tables proposes, and any write to a
volunteer's matching data, through this app or another one on the same database, is seen
by the next run."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching import cache
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.models import MatchingDataVersion
from volunteer_hub.volunteers import services as volunteers
from volunteer_hub.volunteers.models import Certification

CARE = [{"code": "elder_care", "min_level": 2}]


def _proposals(org, day) -> dict[int, int]:
    run = matching.run_matching(org, day, day + timedelta(days=7), by=None)
    db.session.commit()
    return {a.slot_id: a.volunteer_id for a in run.assignments}


@contextmanager
def _counting(app):
    kept = cache.pool_cache()
    hits, misses = kept.hits, kept.misses
    yield lambda: (kept.hits - hits, kept.misses - misses)


def _scene(tree):
    """Five volunteers at growing distances, three one-off needs and a weekly one."""
    people = [helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2 + i % 2}],
                                lat=helpers.LAT + 0.004 * i) for i in range(5)]
    day = helpers.next_weekday(1)
    for offset in range(3):
        helpers.need(tree["b"], first_date=day + timedelta(days=offset), required_skills=CARE)
    helpers.need(tree["b"], first_date=day, recurrence="weekly", weekdays=[day.weekday()],
                 until=day + timedelta(weeks=1), required_skills=CARE)
    return people, day


def test_a_run_from_the_kept_pool_proposes_what_a_cold_run_proposes(app, tree):
    people, day = _scene(tree)
    cache.pool_cache().clear()
    with _counting(app) as seen:
        cold = _proposals(tree["b"], day)
        warm = _proposals(tree["b"], day)
        assert seen() == (1, 1)
    assert len(cold) == 5 and warm == cold
    app.config["MATCHING_POOL_CACHE_SIZE"] = 0
    try:
        uncached = _proposals(tree["b"], day)
    finally:
        app.config["MATCHING_POOL_CACHE_SIZE"] = cache.DEFAULT_SIZE
    assert uncached == cold


def test_a_skill_edit_is_seen_by_the_next_run(app, tree):
    people, day = _scene(tree)
    before = _proposals(tree["b"], day)
    assert people[0].id in before.values()
    volunteers.set_skills(people[0], [{"code": "cooking", "level": 3}], by=None)
    db.session.commit()
    assert people[0].id not in _proposals(tree["b"], day).values()


def test_a_certification_expiry_edit_is_seen_by_the_next_run(app, tree):
    day = helpers.next_weekday(1)
    holder = helpers.volunteer(tree["b"], certifications=[{
        "kind": "first_aid", "issuer": "交管局", "issued_on": day - timedelta(days=400),
        "expires_on": day + timedelta(days=365)}])
    helpers.need(tree["b"], first_date=day, required_certifications=["first_aid"])
    assert list(_proposals(tree["b"], day).values()) == [holder.id]
    cert = db.session.execute(db.select(Certification)).scalar_one()
    cert.expires_on = day - timedelta(days=1)
    db.session.commit()
    assert _proposals(tree["b"], day) == {}


def test_an_availability_change_is_seen_by_the_next_run(app, tree):
    day = helpers.next_weekday(1)
    only = helpers.volunteer(tree["b"])
    helpers.need(tree["b"], first_date=day)
    assert list(_proposals(tree["b"], day).values()) == [only.id]
    volunteers.set_availability(only, [{"weekday": (day.weekday() + 1) % 7, "start_minute": 0,
                                        "end_minute": 1440}], [], by=None)
    db.session.commit()
    assert _proposals(tree["b"], day) == {}


def test_a_newly_approved_volunteer_is_seen_by_the_next_run(app, tree):
    people, day = _scene(tree)
    first = _proposals(tree["b"], day)
    newcomer = helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 3}],
                                 lat=helpers.LAT - 0.0005)
    assert newcomer.id not in first.values()
    assert newcomer.id in _proposals(tree["b"], day).values()


def test_a_volunteer_write_keeps_other_communities_kept_pools(app, tree):
    """Versions are per home node: a write in community A leaves B's kept pool valid."""
    people, day = _scene(tree)
    _proposals(tree["b"], day)
    with _counting(app) as seen:
        helpers.volunteer(tree["a"])
        _proposals(tree["b"], day)
        _proposals(tree["street"], day)
        assert seen() == (1, 1)


def test_bulk_sql_writers_bump_the_version(app, tree):
    people, day = _scene(tree)
    before = _proposals(tree["b"], day)
    # A write the session cannot see (a data load, a script): its writer bumps.
    db.session.execute(text("UPDATE volunteer_skills SET level = 1 WHERE volunteer_id = :id"),
                       {"id": people[0].id})
    cache.bump([tree["b"].id])
    db.session.commit()
    assert people[0].id in before.values()
    assert people[0].id not in _proposals(tree["b"], day).values()


def test_a_bulk_statement_through_the_session_bumps_everything(app, tree):
    people, day = _scene(tree)
    _proposals(tree["b"], day)
    old = dict(db.session.execute(db.select(MatchingDataVersion.org_id, MatchingDataVersion.version)).all())
    db.session.execute(db.update(Certification).values(issuer="x"))
    db.session.commit()
    new = dict(db.session.execute(db.select(MatchingDataVersion.org_id, MatchingDataVersion.version)).all())
    assert new[tree["city"].id] != old.get(tree["city"].id)


def test_another_process_sees_this_one_s_writes(app, tree, tmp_path):
    """Two app instances on one database: each keeps its own pool, the versions are shared."""
    from volunteer_hub import create_app

    if db.engine.dialect.name == "sqlite" and ":memory:" in app.config["DATABASE_URL"]:
        pytest.skip("needs a database two engines can share")
    people, day = _scene(tree)
    other = create_app({**{k: app.config[k] for k in (
        "SECRET_KEY", "DATA_ENCRYPTION_KEY", "ID_HASH_KEY", "ARGON2_PARAMETERS", "DATABASE_URL")},
        "TESTING": True})
    b_id = tree["b"].id

    def run_in_other() -> dict[int, int]:
        with other.app_context():
            try:
                org = db.session.get(type(tree["b"]), b_id)
                return _proposals(org, day)
            finally:
                db.session.remove()

    def other_hits() -> int:
        with other.app_context():
            return cache.pool_cache().hits

    try:
        first = run_in_other()
        assert people[0].id in first.values()
        assert run_in_other() == first and other_hits() == 1  # from its kept pool
        db.session.rollback()  # end this session's read (SQLite in WAL: a stale snapshot cannot write)
        volunteers.set_skills(people[0], [{"code": "cooking", "level": 3}], by=None)
        db.session.commit()
        assert people[0].id not in run_in_other().values()
    finally:
        with other.app_context():
            db.engine.dispose()


def test_a_warm_run_reads_no_static_table_but_fresh_busy_time(app, tree):
    """The kept part is read once; what changes with every assignment is read every run:
    a task taken between two runs keeps its volunteer off an overlapping slot."""
    from sqlalchemy import event

    day = helpers.next_weekday(1)
    near = helpers.volunteer(tree["b"])
    far = helpers.volunteer(tree["b"], lat=helpers.LAT + 0.02)
    visit = helpers.need(tree["b"], first_date=day, title="Visit")
    first = _proposals(tree["b"], day)
    assert list(first.values()) == [near.id]
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    # Meanwhile near accepted a task at the same hour elsewhere (a manual assignment).
    from volunteer_hub.matching.models import Assignment

    elsewhere = helpers.need(tree["b"], first_date=day, title="Elsewhere")
    db.session.add(Assignment(slot_id=elsewhere.slots[0].id, volunteer_id=near.id, source="manual",
                              state="accepted", explanation={}))
    elsewhere.slots[0].status = "filled"
    db.session.commit()
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        again = _proposals(tree["b"], day)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert not [s for s in seen if "FROM volunteer_skills" in s or "FROM availability_windows" in s]
    assert [s for s in seen if "FROM assignments JOIN need_slots" in s]
    [slot_id] = [s for s in again if s in first]
    assert again[slot_id] == far.id and slot_id == visit.slots[0].id


def test_a_move_to_another_community_and_a_deactivation_are_seen_by_the_next_runs(app, tree):
    """A move bumps the old home and the new one; a deactivated volunteer leaves the pool."""
    day = helpers.next_weekday(1)
    mover = helpers.volunteer(tree["b"])
    helpers.need(tree["b"], first_date=day)
    helpers.need(tree["a"], first_date=day)
    assert list(_proposals(tree["b"], day).values()) == [mover.id]
    assert _proposals(tree["a"], day) == {}
    mover.community_id, mover.org_path = tree["a"].id, mover.org_path.replace(tree["b"].path, tree["a"].path)
    db.session.commit()
    assert _proposals(tree["b"], day) == {}
    assert list(_proposals(tree["a"], day).values()) == [mover.id]
    mover.status = "suspended"
    db.session.commit()
    assert _proposals(tree["a"], day) == {}
