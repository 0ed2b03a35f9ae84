"""A run sends the same few statements whatever its size, loads the pool without one
bound parameter per volunteer (PostgreSQL refuses more than 65,535), and gives the
engine the same volunteers the per-row conversion gave."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import event, text

from bench.matching import service as scene
from tests.needs import helpers
from volunteer_hub.db import db, is_postgresql
from volunteer_hub.matching import cache, jobs, loading
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.candidates import VolunteerTable, vocabulary_for
from volunteer_hub.matching.models import Assignment
from volunteer_hub.needs import services as needs
from volunteer_hub.orgs.models import Org


@contextmanager
def counted():
    seen = []

    def count(*args, **kwargs):
        seen.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


def _statements_of_an_api_run(client, volunteers: int, slots: int) -> tuple[int, dict]:
    built = scene.build(db, volunteers, slots, seed=3)
    token = client.post("/api/v1/tokens", json={"login": "13900000000",
                                                "password": "bench-pass-2026"}).get_json()["token"]
    db.session.remove()
    with counted() as seen:
        response = client.post("/api/v1/matching-runs", headers={"Authorization": f"Bearer {token}"},
                               json={"org_id": built["city_id"], "start": built["start"].isoformat(),
                                     "end": built["end"].isoformat()})
    assert response.status_code == 201, response.get_json()
    return len(seen), response.get_json()["stats"]


def test_a_run_sends_the_same_statements_at_two_sizes(client):
    small, small_stats = _statements_of_an_api_run(client, 60, 12)
    db.session.remove()
    from tests.conftest import empty_all_tables
    empty_all_tables(db.engine)
    large, large_stats = _statements_of_an_api_run(client, 600, 120)
    assert large_stats["volunteers"] > 5 * small_stats["volunteers"]
    assert large_stats["filled"] > 5 * small_stats["filled"]
    assert large == small
    assert large < 40


def test_the_nightly_job_loads_each_volunteer_once(tree):
    """Two communities with open slots: the pool query runs once for both."""
    for org in (tree["a"], tree["b"]):
        helpers.volunteer(org)
        helpers.need(org, first_date=needs.local_today() + timedelta(days=2))
    db.session.commit()
    with counted() as seen:
        run_ids = jobs.nightly_matching()
    assert len(run_ids) == 2
    pool_queries = [s for s in seen if s.lstrip().upper().startswith("SELECT")
                    and "FROM volunteer_skills" in s]
    assert len(pool_queries) == 1


def test_the_loaded_table_equals_the_per_volunteer_conversion(tree):
    """Skills (confirmed level first), certifications (latest expiry, not yet issued ones
    left out), windows merged, exceptions, busy time, load and people served."""
    day = helpers.next_weekday(1)
    a = helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2}],
                          windows=[{"weekday": 1, "start_minute": 480, "end_minute": 600},
                                   {"weekday": 1, "start_minute": 600, "end_minute": 720},
                                   {"weekday": 3, "start_minute": 60, "end_minute": 120}])
    b = helpers.volunteer(tree["b"], lat=None, lon=None)
    helpers.need(tree["b"], first_date=day)
    one = helpers.need(tree["b"], first_date=day + timedelta(days=1))
    matching.sign_up(one, b, by=None)
    db.session.commit()
    pool = loading.load_pool(loading.active_pool_query(tree["b"].path),
                             today=needs.local_today(), now=needs.local_now())
    loaded = pool.table()
    people = matching.engine_volunteers([a, b])
    expected = VolunteerTable.from_volunteers(people, loaded.vocabulary)
    for name in ("ids", "grid", "community", "street", "gender", "age", "skill_levels", "cert_expiry",
                 "avail_keys", "avail_ends", "unavailable_keys", "busy_keys", "busy_ends",
                 "recent_load", "served_keys", "background_checked"):
        assert np.array_equal(getattr(loaded, name), getattr(expected, name)), name
    assert np.array_equal(np.isnan(loaded.lat), np.isnan(expected.lat))
    assert vocabulary_for([], people).skills == loaded.vocabulary.skills


def _bulk_volunteers_in_sql(community: Org, count: int) -> None:
    """count active volunteers of community, available all week, built by the database."""
    db.session.execute(text(
        "INSERT INTO users (id, display_name, phone, active, must_change_password, created_at) "
        "SELECT 100000 + n, 'v' || n, '17' || lpad(n::text, 9, '0'), true, false, now() "
        "FROM generate_series(1, :count) AS n"), {"count": count})
    db.session.execute(text(
        "INSERT INTO volunteers (id, user_id, volunteer_number, real_name, gender, birth_date, "
        "id_type, id_number_encrypted, id_number_hash, id_number_masked, phone, community_id, "
        "org_path, lat, lon, languages, status, created_at) "
        "SELECT 100000 + n, 100000 + n, 'BULK' || n, 'v' || n, 'female', DATE '1980-01-01', "
        "'mainland_id', 'x', 'hash' || n, 'masked', '17' || lpad(n::text, 9, '0'), :community, "
        ":path, :lat + (n % 1000) * 0.00001, :lon, 'zh', 'active', now() "
        "FROM generate_series(1, :count) AS n"),
        {"count": count, "community": community.id, "path": community.path,
         "lat": helpers.LAT, "lon": helpers.LON})
    db.session.execute(text(
        "INSERT INTO availability_windows (volunteer_id, weekday, start_minute, end_minute) "
        "SELECT 100000 + n, d, 0, 1440 FROM generate_series(1, :count) AS n, "
        "generate_series(0, 6) AS d"), {"count": count})
    cache.bump([community.id])  # raw SQL: the session cannot see what it wrote
    db.session.commit()


def test_a_pool_of_more_than_65535_volunteers_matches_on_postgresql(tree):
    if not is_postgresql():
        pytest.skip("needs VOLUNTEER_HUB_TEST_DATABASE_URL=postgresql")
    _bulk_volunteers_in_sql(tree["b"], 70_000)
    need = helpers.need(tree["b"], volunteers_per_occurrence=3)
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    db.session.commit()
    assert run.stats["volunteers"] == 70_000
    assert run.stats["filled"] == 3
    # A decline re-matches the slot over the same pool.
    proposal = run.assignments[0]
    matching.confirm_assignment(proposal, by=None)
    matching.decline_assignment(proposal, by=proposal.volunteer.user)
    db.session.commit()
    [again] = db.session.execute(db.select(Assignment).where(
        Assignment.slot_id == proposal.slot_id, Assignment.state == "proposed")).scalars().all()
    assert again.volunteer_id != proposal.volunteer_id


def test_reading_a_run_back_costs_the_same_statements_whatever_its_proposals(client):
    built = scene.build(db, 200, 40, seed=5)
    token = client.post("/api/v1/tokens", json={"login": "13900000000",
                                                "password": "bench-pass-2026"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    made = client.post("/api/v1/matching-runs", headers=headers,
                       json={"org_id": built["city_id"], "start": built["start"].isoformat(),
                             "end": built["end"].isoformat()}).get_json()
    assert len(made["proposals"]) > 20
    db.session.remove()
    with counted() as seen:
        again = client.get(f"/api/v1/matching-runs/{made['id']}", headers=headers)
    assert again.status_code == 200
    assert again.get_json()["proposals"] == made["proposals"]
    assert len(seen) < 15
