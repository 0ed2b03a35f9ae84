"""Check-in and check-out of matched tasks (issue 13 item 1), claims and flags (item 2)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from tests.records.task_builders import task
from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services, tasks
from volunteer_hub.records.models import Activity


@pytest.fixture
def people(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    volunteer = helpers.volunteer(tree["b"])
    return organizer, volunteer


def _local_to_utc(moment):
    return tasks.local_to_utc(moment)


def test_check_in_and_out_by_code_links_the_record_to_the_task(db, tree, people):
    organizer, volunteer = people
    person = helpers.beneficiary(tree["b"])
    assignment = task(tree["b"], volunteer, beneficiary=person)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    db.session.commit()
    start = _local_to_utc(assignment.slot.start)
    record = tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                                 by=volunteer.user, now=start + timedelta(minutes=2))
    tasks.check_out_task(assignment, "code", {"code": activity.checkin_code},
                         by=volunteer.user, now=start + timedelta(minutes=95))
    db.session.commit()
    assert record.assignment_id == assignment.id
    assert record.slot.id == assignment.slot_id and record.need.id == assignment.need.id
    assert record.beneficiary_id == person.id
    assert record.minutes == 90  # 93 minutes rounded down to half hours
    queue = db.session.execute(services.verification_queue(organizer)).scalars().all()
    assert [r.id for r in queue] == [record.id]
    services.verify_record(record, by=organizer)
    db.session.commit()
    assert record.status == "verified" and record.ledger_transaction_id is not None


def test_one_activity_per_occurrence_with_the_need_times_and_place(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    first = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    again = tasks.occurrence_activity(assignment.slot)
    assert first.id == again.id
    assert db.session.query(Activity).count() == 1
    assert first.starts_at == _local_to_utc(assignment.slot.start)
    assert first.geofence_radius_m == 300 and first.org_path == assignment.need.org_path


def test_a_task_not_yet_accepted_cannot_be_checked_in(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer, state="confirmed")
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    with pytest.raises(DomainError) as caught:
        tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                            by=volunteer.user)
    assert caught.value.code == "TASK_NOT_ACCEPTED"


def test_someone_else_cannot_check_in_to_my_task(db, tree, people):
    organizer, volunteer = people
    other = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    with pytest.raises(DomainError) as caught:
        tasks.check_in_task(assignment, "code", {"code": activity.checkin_code}, by=other.user)
    assert caught.value.status == 404


def test_geofence_passes_at_the_need_and_keeps_no_position(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    need = assignment.need
    with pytest.raises(DomainError) as caught:
        tasks.check_in_task(assignment, "geofence", {"lat": need.lat + 0.05, "lon": need.lon},
                            by=volunteer.user)
    assert caught.value.code == "GEOFENCE_OUTSIDE"
    record = tasks.check_in_task(assignment, "geofence", {"lat": need.lat, "lon": need.lon},
                                 by=volunteer.user)
    db.session.commit()
    from volunteer_hub.records.models import CheckEvent

    event = db.session.query(CheckEvent).filter_by(record_id=record.id).one()
    assert event.geofence_passed is True
    assert not {"lat", "lon"} & {c.name for c in CheckEvent.__table__.columns}


def test_qr_token_of_the_occurrence_checks_in(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    token = services.issue_qr_token(activity, by=organizer)
    record = tasks.check_in_task(assignment, "qr", {"token": token}, by=volunteer.user)
    assert record.method == "qr" and record.assignment_id == assignment.id


def test_task_stages_from_before_opening_to_claims(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = _local_to_utc(assignment.slot.start)
    end = _local_to_utc(assignment.slot.end)
    assert tasks.task_day(assignment, start - timedelta(hours=2)).stage == "not_open"
    assert tasks.task_day(assignment, start).stage == "check_in"
    assert tasks.task_day(assignment, end + timedelta(minutes=1)).stage == "claim_hours"
    activity = tasks.occurrence_activity(assignment.slot)
    tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                        by=volunteer.user, now=start)
    on_duty = tasks.task_day(assignment, start + timedelta(minutes=5))
    assert on_duty.stage == "on_duty" and not on_duty.may_claim
    after_the_end = tasks.task_day(assignment, end + timedelta(minutes=30))
    assert after_the_end.stage == "on_duty" and after_the_end.may_claim  # forgot to check out
    assert tasks.task_day(assignment, end + timedelta(hours=7)).stage == "claim_check_out"


def test_claim_of_a_missed_check_out_corrects_the_open_record(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = _local_to_utc(assignment.slot.start)
    activity = tasks.occurrence_activity(assignment.slot)
    opened = tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                                 by=volunteer.user, now=start)
    with pytest.raises(DomainError) as caught:
        tasks.claim_hours(assignment, {"check_out_at": start + timedelta(hours=1)},
                          by=volunteer.user)
    assert caught.value.code == "REASON_REQUIRED"
    claim = tasks.claim_hours(assignment, {"check_out_at": start + timedelta(hours=1),
                                           "reason": "手机没电了"}, by=volunteer.user)
    db.session.commit()
    assert claim.corrects_id == opened.id and claim.minutes == 60
    assert claim.method == "declared" and claim.assignment_id == assignment.id
    services.verify_record(claim, by=organizer)
    db.session.commit()
    assert opened.status == "corrected" and claim.status == "verified"


def test_claim_of_hours_without_check_in_waits_for_verification(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = _local_to_utc(assignment.slot.start)
    claim = tasks.claim_hours(assignment, {"check_in_at": start,
                                           "check_out_at": start + timedelta(minutes=120),
                                           "reason": "忘记签到"}, by=volunteer.user)
    db.session.commit()
    assert claim.status == "pending" and claim.minutes == 120
    assert services.record_flags(claim) == ["claimed"]
    with pytest.raises(DomainError) as caught:
        tasks.claim_hours(assignment, {"check_in_at": start, "check_out_at": start
                                       + timedelta(minutes=60), "reason": "again"},
                          by=volunteer.user)
    assert caught.value.code == "CLAIM_PENDING"


def test_claimed_hours_cannot_exceed_the_task(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer, hours=2)
    start = _local_to_utc(assignment.slot.start)
    with pytest.raises(DomainError) as caught:
        tasks.claim_hours(assignment, {"check_in_at": start,
                                       "check_out_at": start + timedelta(hours=5),
                                       "reason": "long day"}, by=volunteer.user)
    assert caught.value.code == "ABOVE_ACTIVITY_LENGTH"


def test_missing_check_out_is_flagged_only_after_the_end_and_grace(db, tree, people, app):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = _local_to_utc(assignment.slot.start)
    end = _local_to_utc(assignment.slot.end)
    activity = tasks.occurrence_activity(assignment.slot)
    record = tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                                 by=volunteer.user, now=start)
    db.session.commit()
    assert services.record_flags(record, now=end + timedelta(minutes=30)) == ["on_duty"]
    assert services.flag_missing_checkouts(now=end + timedelta(minutes=30)) == 0
    grace = services.missing_checkout_grace()
    assert services.record_flags(record, now=end + grace + timedelta(minutes=1)) == \
        ["missing_checkout"]
    assert services.flag_missing_checkouts(now=end + grace + timedelta(minutes=1)) == 1
    app.config["RECORDS_MISSING_CHECKOUT_GRACE_MINUTES"] = 600
    try:
        assert services.record_flags(record, now=end + timedelta(hours=3)) == \
            ["missing_checkout"]  # already flagged by the job
    finally:
        app.config["RECORDS_MISSING_CHECKOUT_GRACE_MINUTES"] = 120


def test_grace_period_is_a_setting(db, tree, people, app):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    end = _local_to_utc(assignment.slot.end)
    activity = tasks.occurrence_activity(assignment.slot)
    record = tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                                 by=volunteer.user, now=_local_to_utc(assignment.slot.start))
    app.config["RECORDS_MISSING_CHECKOUT_GRACE_MINUTES"] = 600
    try:
        assert services.record_flags(record, now=end + timedelta(hours=3)) == ["on_duty"]
    finally:
        app.config["RECORDS_MISSING_CHECKOUT_GRACE_MINUTES"] = 120


def test_organizer_records_hours_for_a_volunteer_by_code_or_name(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    start = _local_to_utc(assignment.slot.start)
    data = {"check_in_at": start, "check_out_at": start + timedelta(minutes=60),
            "reason": "纸质签到表"}
    record = tasks.record_for_volunteer(activity, volunteer.volunteer_number, data,
                                        by=organizer)
    assert record.volunteer_id == volunteer.id and record.assignment_id == assignment.id
    assert services.record_flags(record) == ["manual"]
    with pytest.raises(DomainError) as caught:
        tasks.record_for_volunteer(activity, "没有这个人", data, by=organizer)
    assert caught.value.code == "VOLUNTEER_NOT_FOUND" and "volunteer" in caught.value.errors


def test_a_common_name_asks_for_the_code(db, tree, people):
    organizer, volunteer = people
    helpers.volunteer(tree["b"])  # the same default name
    task_row = task(tree["b"], helpers.volunteer(tree["b"]))
    activity = tasks.occurrence_for_organizer(task_row.slot, by=organizer)
    db.session.execute(db.update(type(volunteer)).values(real_name="李明"))
    db.session.commit()
    start = _local_to_utc(task_row.slot.start)
    data = {"check_in_at": start, "check_out_at": start + timedelta(minutes=60),
            "reason": "纸质签到表"}
    record = tasks.record_for_volunteer(activity, "李明", data, by=organizer)
    assert record.volunteer_id == task_row.volunteer_id  # the one on the task wins
    other_activity = services.create_activity(
        tree["b"], {"name": "清洁", "starts_at": start, "ends_at": start + timedelta(hours=2)},
        by=organizer)
    with pytest.raises(DomainError) as caught:
        tasks.record_for_volunteer(other_activity, "李明", data, by=organizer)
    assert caught.value.code == "VOLUNTEER_AMBIGUOUS"


def test_standalone_activities_still_check_in(db, tree, people):
    organizer, volunteer = people
    from tests.records import builders

    activity = builders.activity(tree["b"], organizer)
    record = builders.checked_out(activity, volunteer, minutes=60)
    assert record.assignment_id is None and record.need is None and record.minutes == 60


def test_a_claim_past_midnight_ends_on_the_next_day(db, tree, people):
    from datetime import datetime, time

    from volunteer_hub.needs.services import local_now

    organizer, volunteer = people
    yesterday = local_now().date() - timedelta(days=1)
    assignment = task(tree["b"], volunteer, start=datetime.combine(yesterday, time(23, 0)))
    claim = tasks.claim_hours(assignment, {"check_in_at": time(23, 0),
                                           "check_out_at": time(0, 30), "reason": "夜班"},
                              by=volunteer.user)
    assert claim.raw_minutes == 90


def test_a_second_check_in_after_the_check_out_is_refused(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    code = tasks.occurrence_activity(assignment.slot).checkin_code
    start = _local_to_utc(assignment.slot.start)
    tasks.check_in_task(assignment, "code", {"code": code}, by=volunteer.user, now=start)
    tasks.check_out_task(assignment, "code", {"code": code}, by=volunteer.user,
                         now=start + timedelta(minutes=60))
    with pytest.raises(DomainError) as caught:
        tasks.check_in_task(assignment, "code", {"code": code}, by=volunteer.user,
                            now=start + timedelta(minutes=61))
    assert caught.value.code == "ALREADY_CHECKED_OUT"


def test_hours_entered_for_a_missing_check_out_replace_the_open_record(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    start = _local_to_utc(assignment.slot.start)
    opened = tasks.check_in_task(assignment, "code", {"code": activity.checkin_code},
                                 by=volunteer.user, now=start)
    record = tasks.record_for_volunteer(activity, volunteer.real_name, {
        "check_in_at": start, "check_out_at": start + timedelta(minutes=60),
        "reason": "忘记签退"}, by=organizer)
    assert record.corrects_id == opened.id and record.method == "manual"
    services.verify_record(record, by=organizer)
    db.session.commit()
    assert opened.status == "corrected"
    queue = db.session.execute(services.verification_queue(organizer)).scalars().all()
    assert queue == []
