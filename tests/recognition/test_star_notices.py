"""Star thresholds are a setting; a new level is publicly listed before it is final (公示)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.timebank.test_certificates import _earn
from tests.web.helpers import login
from volunteer_hub.recognition import stars
from volunteer_hub.recognition.models import StarNotice
from volunteer_hub.timebank import services


@pytest.fixture
def thresholds(app):
    saved = app.config["STAR_THRESHOLDS_HOURS"], app.config["STAR_NOTICE_DAYS"]
    app.config["STAR_THRESHOLDS_HOURS"] = (3, 5, 8)  # small, so a few records reach them
    app.config["STAR_NOTICE_DAYS"] = 7
    yield
    app.config["STAR_THRESHOLDS_HOURS"], app.config["STAR_NOTICE_DAYS"] = saved


def test_star_level_follows_the_setting(app):
    with app.app_context():
        assert services.star_level(100 * 60) == 1 and services.star_level(299 * 60) == 1
        app.config["STAR_THRESHOLDS_HOURS"] = (100, 200, 500, 800, 1000)
        try:
            assert services.star_level(299 * 60) == 2
        finally:
            app.config["STAR_THRESHOLDS_HOURS"] = (100, 300, 600, 1000, 1500)


def test_new_level_is_listed_then_final(client, db, tree, make_staff, make_volunteer,
                                        thresholds, auth_header):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"], real_name="欧阳娜娜")
    quiet = make_volunteer(tree["b"], real_name="周明")
    _earn(db, tree, organizer, volunteer, 200)
    _earn(db, tree, organizer, quiet, 60)
    now = datetime.now(UTC)
    assert stars.refresh_star_notices(now) == 1
    db.session.commit()
    assert stars.refresh_star_notices(now) == 0  # nothing new: no second notice
    notice = db.session.execute(db.select(StarNotice)).scalar_one()
    assert (notice.volunteer_id, notice.level, notice.org_id) == (volunteer.id, 1, tree["b"].id)
    assert notice.ends_at - notice.starts_at == timedelta(days=7)
    assert stars.final_level(volunteer, now) == 0
    assert stars.final_level(volunteer, now + timedelta(days=7, seconds=1)) == 1

    for code in ("CB", "S1"):  # the community's page and the street's above it
        page = client.get(f"/orgs/{code}/star-notices").get_data(as_text=True)
        assert "欧**娜" in page and "欧阳娜娜" not in page and "周" not in page
        assert 'data-level="1"' in page
    assert 'data-star-notice' not in client.get("/orgs/CA/star-notices").get_data(as_text=True)
    assert client.get("/orgs/NOPE/star-notices").status_code == 404

    balance = client.get(f"/api/v1/volunteers/{volunteer.id}/balance",
                         headers=auth_header(volunteer.user)).get_json()
    assert balance["star_level"] == 1 and balance["final_star_level"] == 0
    assert datetime.fromisoformat(balance["star_notice_ends_at"]) == notice.ends_at
    login(client, volunteer.user)
    hours = client.get("/me/hours").get_data(as_text=True)
    assert 'data-star-notice="1"' in hours and "公示中" in hours

    # reaching the next level opens a second notice; an expired one leaves the page
    _earn(db, tree, organizer, volunteer, 120)
    assert stars.refresh_star_notices(now + timedelta(days=8)) == 1
    db.session.commit()
    levels = [n.level for n in stars.public_notices(tree["b"], now + timedelta(days=8))]
    assert levels == [2]


def test_notice_period_in_working_days_skips_national_day(app):
    """Opened on 2026-09-30: 国庆 (1-7 October) does not count, the 调休 Saturday 10 October
    does; seven working days end with 15 October, Beijing time."""
    with app.app_context():
        start = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)
        assert stars.notice_end(start) == start + timedelta(days=7)
        app.config["STAR_NOTICE_WORKING_DAYS"] = True
        try:
            assert stars.notice_end(start) == datetime(2026, 10, 15, 16, 0, tzinfo=UTC)
        finally:
            app.config["STAR_NOTICE_WORKING_DAYS"] = False
