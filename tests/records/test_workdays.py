"""China's working days (issue 16 item 1): holidays, 调休 make-up days, local days, fallback."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from flask_babel import force_locale

from tests.records import builders
from tests.records.task_builders import task
from tests.needs import helpers
from tests.web.helpers import login, text
from volunteer_hub import workdays
from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services as records


def test_national_day_2026_is_skipped_and_its_makeup_saturday_counts(app):
    # 国庆 2026: 10-01..10-07 off; Saturday 10-10 is a 调休 working day (State Council notice).
    count = workdays.Calendar().count(date(2026, 9, 30), 10)
    assert count.deadline == date(2026, 10, 20)
    assert date(2026, 10, 10) in count.counted  # the make-up Saturday counts
    assert not any(date(2026, 10, d) in count.counted for d in range(1, 8))
    skipped = {day.day: day.reason for day in count.skipped}
    assert skipped[date(2026, 10, 1)] == workdays.HOLIDAY
    assert skipped[date(2026, 10, 5)] == workdays.HOLIDAY  # a Monday off
    assert skipped[date(2026, 10, 11)] == workdays.WEEKEND
    assert count.uncovered_years == ()
    # Monday-Friday alone would have ended on 10-14: the holiday moved the deadline by a week
    assert workdays.Calendar().add_working_days(date(2026, 9, 30), 10) > date(2026, 10, 14)


def test_local_extra_holidays_and_working_days_apply(app):
    plain = workdays.Calendar().count(date(2026, 11, 23), 5)
    local = workdays.Calendar(extra_holidays=frozenset({date(2026, 11, 25)}),
                              extra_workdays=frozenset({date(2026, 11, 28)})).count(
        date(2026, 11, 23), 5)
    assert plain.deadline == date(2026, 11, 30)
    assert local.deadline == date(2026, 11, 30)
    assert date(2026, 11, 28) in local.counted and date(2026, 11, 25) not in local.counted
    assert [d.reason for d in local.skipped if d.day == date(2026, 11, 25)] == \
        [workdays.LOCAL_HOLIDAY]


def test_settings_feed_the_deployment_calendar(app):
    with app.test_request_context():
        app.config["WORKDAYS_EXTRA_HOLIDAYS"] = ["2026-11-25", "2026-11-26"]
        try:
            assert workdays.add_working_days(date(2026, 11, 23), 2) == date(2026, 11, 27)
        finally:
            app.config["WORKDAYS_EXTRA_HOLIDAYS"] = ()
        assert workdays.add_working_days(date(2026, 11, 23), 2) == date(2026, 11, 25)


def test_a_year_without_data_falls_back_to_monday_to_friday_and_says_so(app, monkeypatch):
    warnings = []
    monkeypatch.setattr(workdays.log, "warning", lambda *args: warnings.append(args[0] % args[1:]))
    workdays._warned_years.discard(2027)
    count = workdays.Calendar().count(date(2026, 12, 28), 10)
    # 12-28..12-31 (2026 data), then 2027 Monday-Friday: 1 Jan 2027 is a Friday, counted
    assert count.deadline == date(2027, 1, 11)
    assert date(2027, 1, 1) in count.counted
    assert count.uncovered_years == (2027,)
    assert len(warnings) == 1 and "2027" in warnings[0]  # logged once, not per day
    with app.test_request_context(), force_locale("zh_Hans"):
        assert "2027年" in str(count.notices[0]) and "周一至周五" in str(count.notices[0])


def test_recording_deadline_follows_the_national_calendar(db, tree, make_staff, make_volunteer):
    organizer = make_staff(tree["a"], "organizer")
    volunteer = make_volunteer(tree["b"])
    # ends Wednesday 2026-09-30 12:00 in Beijing
    activity = builders.activity(tree["a"], organizer,
                                 start=datetime(2026, 9, 30, 1, 0, tzinfo=UTC))
    assert records.recording_deadline(activity) == date(2026, 10, 20)
    data = {"minutes": 60, "reason": "paper sheet"}
    on_time = datetime(2026, 10, 20, 15, 0, tzinfo=UTC)  # 23:00 in Beijing, still the 20th
    records.record_manually(activity, volunteer, data, by=organizer, now=on_time)
    with pytest.raises(DomainError) as error:
        records.declare_hours(activity, volunteer, data, by=volunteer.user,
                              now=on_time + timedelta(hours=1))
    assert error.value.code == "RECORDING_DEADLINE_PASSED"


def test_lead_is_reminded_on_the_working_day_two_before_the_deadline(
        db, tree, make_staff, monkeypatch):
    organizer = make_staff(tree["a"], "organizer")
    activity = builders.activity(tree["a"], organizer,
                                 start=datetime(2026, 9, 30, 1, 0, tzinfo=UTC))
    monkeypatch.setattr(records, "utcnow", lambda: datetime(2026, 10, 16, 1, 0, tzinfo=UTC))
    # deadline Tuesday 10-20
    assert records.remind_deadlines(date(2026, 10, 17)) == 0  # Saturday: no reminders
    assert records.remind_deadlines(date(2026, 10, 15)) == 0  # Thursday: 3 working days left
    assert records.remind_deadlines(date(2026, 10, 16)) == 1  # Friday: 2 left (19th, 20th)
    db.session.commit()
    from volunteer_hub.notify.models import OutboxMessage
    message = db.session.query(OutboxMessage).filter_by(
        event_key=f"records:deadline:{activity.id}").one()
    assert message.recipient_id == organizer.id and "2026-10-20" in message.body


def test_organizer_page_lists_counted_days_and_names_skipped_holidays(client, tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    organizer.locale = "zh_Hans"
    volunteer = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer, start=datetime(2026, 9, 30, 9, 0))
    db.session.commit()
    login(client, organizer)
    page = text(client.get(f"/org/slots/{assignment.slot_id}/check-in"))
    assert "2026-10-20" in page
    assert "2026-10-10" in page  # the make-up Saturday is listed as counted
    assert "2026-10-01 · 法定节假日（国庆节）" in page


def test_an_org_with_a_long_deadline_is_reminded_too(db, tree, make_staff, monkeypatch):
    # 40 working days across 春节 2026: the deadline is 60 calendar days after the activity
    from volunteer_hub.records.models import RecordSettings

    db.session.add(RecordSettings(org_id=tree["a"].id, deadline_working_days=40))
    organizer = make_staff(tree["a"], "organizer")
    activity = builders.activity(tree["a"], organizer,
                                 start=datetime(2026, 1, 26, 1, 0, tzinfo=UTC))
    assert records.recording_deadline(activity) == date(2026, 3, 27)
    monkeypatch.setattr(records, "utcnow", lambda: datetime(2026, 3, 25, 1, 0, tzinfo=UTC))
    assert records.remind_deadlines(date(2026, 3, 25)) == 1  # Wednesday: 26th and 27th left


def test_an_unreadable_local_day_stops_the_start_not_every_check_in(app):
    # a typo in the settings would otherwise answer 500 wherever a deadline is computed
    from volunteer_hub import create_app

    with pytest.raises(ValueError, match="WORKDAYS_EXTRA_HOLIDAYS.*2026-11-31"):
        create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "x",
                    "DATA_ENCRYPTION_KEY": app.config["DATA_ENCRYPTION_KEY"],
                    "ID_HASH_KEY": "x", "WORKDAYS_EXTRA_HOLIDAYS": ["2026-11-31"]})
