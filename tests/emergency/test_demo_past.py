"""The demo has a past: six months of verified service with a valid ledger, a few starred
volunteers, and an earlier drill that was stood down with its after-action report."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from volunteer_hub.db import utcnow
from volunteer_hub.demo import build_demo
from volunteer_hub.emergency import report
from volunteer_hub.emergency.models import Activation
from volunteer_hub.orgs.models import Org
from volunteer_hub.records.models import ServiceRecord
from volunteer_hub.timebank import services as timebank
from volunteer_hub.volunteers.models import Volunteer


def test_the_demo_has_six_months_of_verified_service_and_a_valid_ledger(db):
    build_demo(volunteers=150, seed=11)
    verified = db.session.execute(select(ServiceRecord).where(
        ServiceRecord.status == "verified")).scalars().all()
    assert len(verified) > 100
    oldest = min(record.check_in_at for record in verified)
    assert utcnow() - oldest > timedelta(days=170)
    assert all(record.ledger_transaction_id for record in verified)
    assert timebank.verify_ledger().ok
    starred = [v for v in db.session.execute(select(Volunteer)).scalars()
               if timebank.star_level(timebank.service_minutes(v)) >= 1]
    assert 2 <= len(starred) <= 10


def test_the_demo_has_an_earlier_drill_with_a_report(db):
    build_demo(volunteers=150, seed=11)
    drill = db.session.execute(select(Activation)).scalar_one()
    assert drill.is_drill and drill.status == "stood_down"
    assert drill.activated_at < drill.stood_down_at <= utcnow()
    result = report.after_action(drill)
    assert result.summary.coming > 0 and result.summary.arrived > 0
    assert result.summary.no_answer > 0 and result.summary.cannot > 0
    assert result.ack["channel"]["link"].p50 > 60  # answered over minutes, not at once


def test_no_community_is_called_community_twice(db):
    build_demo(volunteers=30, seed=3)
    names = db.session.execute(select(Org.name_zh).where(Org.level == "community")).scalars()
    assert not [name for name in names if name.endswith("社区社区")]
    assert db.session.execute(select(func.count()).select_from(Org).where(
        Org.name_zh == "九龙社区")).scalar_one() == 1


def test_the_printed_volunteer_login_has_hours_and_a_star(db):
    logins = build_demo(volunteers=150, seed=11)
    volunteer = db.session.execute(select(Volunteer).where(
        Volunteer.phone == logins["volunteer"])).scalar_one()
    assert timebank.star_level(timebank.service_minutes(volunteer)) >= 1
