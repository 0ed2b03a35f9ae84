"""Service records: check-in proofs, caps and rounding, deadline, corrections, minting."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.records import builders
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services as records
from volunteer_hub.timebank import services as timebank


@pytest.fixture
def setup(tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])  # community B approves automatically: active
    activity = builders.activity(tree["a"], organizer)
    return organizer, volunteer, activity


def _code(activity):
    return {"code": activity.checkin_code}


def test_verified_record_mints_exactly_its_rounded_minutes(db, setup):
    organizer, volunteer, activity = setup
    record = builders.checked_out(activity, volunteer, minutes=130)  # 2 h 10 -> 2 h
    assert (record.raw_minutes, record.minutes, record.status) == (130, 120, "pending")
    assert timebank.balance_of(volunteer).total == 0  # pending hours do not count
    records.verify_record(record, by=organizer)
    db.session.commit()
    assert record.status == "verified"
    assert timebank.balance_of(volunteer).total == 120
    tx = db.session.get(timebank.LedgerTransaction, record.ledger_transaction_id)
    assert tx.kind == "MINT" and tx.record_id == record.id
    assert sorted(p.minutes for p in tx.postings) == [-120, 120]
    assert '"method": "code"' in tx.provenance


def test_minutes_capped_at_activity_length(db, setup):
    organizer, volunteer, activity = setup
    record = builders.checked_out(activity, volunteer, minutes=5 * 60, start_offset=-30)
    assert record.minutes == 180


def test_daily_cap_clips_at_verification(db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    long_day = builders.activity(tree["a"], organizer, hours=6)
    evening = builders.activity(tree["a"], organizer, start=builders.START + timedelta(hours=7),
                                hours=4)
    first = builders.checked_out(long_day, volunteer, minutes=360)
    second = builders.checked_out(evening, volunteer, minutes=240)
    records.verify_record(first, by=organizer)
    records.verify_record(second, by=organizer)
    db.session.commit()
    assert (first.minutes, second.minutes) == (360, 120)  # 8 h a day at most
    assert timebank.balance_of(volunteer).total == 480


def test_rounding_unit_is_a_setting(db, setup, tree):
    organizer, volunteer, activity = setup
    records.set_settings(tree["street"], {"rounding_minutes": 15}, by=None)
    db.session.commit()
    assert records.settings_for(tree["a"]).rounding_minutes == 15
    record = builders.checked_out(activity, volunteer, minutes=50)
    assert record.minutes == 45


def test_wrong_code_is_refused(db, setup):
    _, volunteer, activity = setup
    wrong = "000000" if activity.checkin_code != "000000" else "111111"
    with pytest.raises(DomainError) as error:
        records.check_in(activity, volunteer, "code", {"code": wrong}, by=volunteer.user,
                         now=activity.starts_at)
    assert error.value.code == "WRONG_CODE"


def test_qr_expired_other_activity_and_replay(db, setup, tree):
    organizer, volunteer, activity = setup
    other = builders.activity(tree["a"], organizer)
    now = activity.starts_at
    token = records.issue_qr_token(activity, by=organizer, now=now)
    with pytest.raises(DomainError) as error:
        records.check_in(activity, volunteer, "qr", {"token": token}, by=volunteer.user,
                         now=now + timedelta(minutes=records.qr_valid_minutes() + 1))
    assert error.value.code == "QR_EXPIRED"
    with pytest.raises(DomainError) as error:
        records.check_in(other, volunteer, "qr", {"token": token}, by=volunteer.user, now=now)
    assert error.value.code == "QR_WRONG_ACTIVITY"
    with pytest.raises(DomainError) as error:
        records.check_in(activity, volunteer, "qr", {"token": token[:-2] + "xx"},
                         by=volunteer.user, now=now)
    assert error.value.code == "QR_INVALID"
    records.check_in(activity, volunteer, "qr", {"token": token}, by=volunteer.user, now=now)
    db.session.commit()
    with pytest.raises(DomainError) as error:  # the same token to check out: a replay
        records.check_out(activity, volunteer, "qr", {"token": token}, by=volunteer.user,
                          now=now + timedelta(minutes=2))
    assert error.value.code == "QR_REPLAYED"
    fresh = records.issue_qr_token(activity, by=organizer, now=now + timedelta(minutes=90))
    record = records.check_out(activity, volunteer, "qr", {"token": fresh}, by=volunteer.user,
                               now=now + timedelta(minutes=90))
    assert record.minutes == 90


def test_geofence_keeps_pass_fail_only(db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    activity = builders.activity(tree["a"], organizer, geofence_lat=39.9, geofence_lon=116.4,
                                 geofence_radius_m=100)
    with pytest.raises(DomainError) as error:
        records.check_in(activity, volunteer, "geofence", {"lat": 39.91, "lon": 116.4},
                         by=volunteer.user, now=activity.starts_at)
    assert error.value.code == "GEOFENCE_OUTSIDE"
    record = records.check_in(activity, volunteer, "geofence", {"lat": 39.9003, "lon": 116.4},
                              by=volunteer.user, now=activity.starts_at)
    db.session.commit()
    event = db.session.execute(db.select(records.CheckEvent)).scalar_one()
    assert event.geofence_passed is True and event.record_id == record.id
    assert not any("lat" in c.name or "lon" in c.name for c in records.CheckEvent.__table__.c)


def test_missing_checkout_is_flagged_not_guessed(db, setup):
    organizer, volunteer, activity = setup
    record = records.check_in(activity, volunteer, "code", _code(activity), by=volunteer.user,
                              now=activity.starts_at)
    db.session.commit()
    assert records.flag_missing_checkouts(now=activity.ends_at + timedelta(hours=1)) == 0
    assert records.flag_missing_checkouts(now=activity.ends_at + timedelta(hours=3)) == 1
    db.session.commit()
    assert record.missing_checkout and record.minutes is None
    with pytest.raises(DomainError) as error:
        records.verify_record(record, by=organizer)
    assert error.value.code == "MISSING_CHECKOUT"


def test_manual_record_needs_reason_and_stays_within_activity(db, setup):
    organizer, volunteer, activity = setup
    now = activity.ends_at + timedelta(days=1)
    with pytest.raises(DomainError) as error:
        records.record_manually(activity, volunteer, {"minutes": 60}, by=organizer, now=now)
    assert error.value.code == "REASON_REQUIRED"
    with pytest.raises(DomainError) as error:
        records.record_manually(activity, volunteer, {"minutes": 181, "reason": "paper sheet"},
                                by=organizer, now=now)
    assert error.value.code == "ABOVE_ACTIVITY_LENGTH"
    record = records.record_manually(activity, volunteer, {"minutes": 90, "reason": "sheet"},
                                     by=organizer, now=now)
    assert (record.method, record.minutes) == ("manual", 90)
    with pytest.raises(DomainError):  # a volunteer cannot record by hand
        records.record_manually(activity, volunteer, {"minutes": 60, "reason": "x"},
                                by=volunteer.user, now=now)


def test_recording_deadline_is_ten_working_days(db, setup):
    organizer, volunteer, activity = setup
    # ends Tuesday 2026-11-24; 10 working days later is Tuesday 2026-12-08
    assert records.recording_deadline(activity).isoformat() == "2026-12-08"
    data = {"minutes": 60, "reason": "sheet"}
    records.record_manually(activity, volunteer, data, by=organizer,
                            now=activity.ends_at + timedelta(days=14))
    with pytest.raises(DomainError) as error:
        records.declare_hours(activity, volunteer, data, by=volunteer.user,
                              now=activity.ends_at + timedelta(days=15))
    assert error.value.code == "RECORDING_DEADLINE_PASSED"


def test_declared_hours_count_once_the_lead_confirms(db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    lead = make_staff(tree["grid_a"], "coordinator")
    volunteer = make_volunteer(tree["b"])
    activity = builders.activity(tree["a"], organizer, lead_user_id=lead.id)
    record = records.declare_hours(activity, volunteer, {"minutes": 60, "reason": "forgot"},
                                   by=volunteer.user, now=activity.ends_at)
    db.session.commit()
    assert record.status == "pending" and timebank.balance_of(volunteer).total == 0
    assert record in db.session.execute(records.verification_queue(lead)).scalars().all()
    records.verify_record(record, by=lead)
    db.session.commit()
    assert timebank.balance_of(volunteer).total == 60


def test_correction_is_a_new_linked_record_and_reverses_the_old_mint(db, setup):
    organizer, volunteer, activity = setup
    record = builders.checked_out(activity, volunteer, minutes=60)
    records.verify_record(record, by=organizer)
    db.session.commit()
    correction = records.request_correction(
        record, {"minutes": 150, "reason": "I stayed until the end"}, by=volunteer.user)
    db.session.commit()
    assert correction.corrects_id == record.id and correction.id != record.id
    assert timebank.balance_of(volunteer).total == 60
    records.verify_record(correction, by=organizer)
    db.session.commit()
    assert record.status == "corrected" and correction.status == "verified"
    assert timebank.balance_of(volunteer).total == 150
    assert timebank.service_minutes(volunteer) == 150
    assert timebank.verify_ledger().ok


def test_queue_is_oldest_first_and_bulk_approves(db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteers = [make_volunteer(tree["b"]) for _ in range(3)]
    activity = builders.activity(tree["a"], organizer)
    made = [builders.checked_out(activity, v, minutes=60) for v in volunteers]
    queue = db.session.execute(records.verification_queue(organizer)).scalars().all()
    assert [r.id for r in queue] == [r.id for r in made]
    other = make_staff(tree["b"], "organizer")
    assert db.session.execute(records.verification_queue(other)).scalars().all() == []
    result = records.verify_records([r.id for r in made] + [999999], by=organizer)
    db.session.commit()
    assert len(result["verified"]) == 3
    assert result["refused"] == [{"id": 999999, "error": "NOT_FOUND",
                                  "message": result["refused"][0]["message"]}]
