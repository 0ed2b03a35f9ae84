"""Review fixes: a task's hours are counted once."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from tests.records.task_builders import task
from volunteer_hub.db import db
from volunteer_hub.errors import DomainError
from volunteer_hub.records import services, tasks


@pytest.fixture
def people(tree, make_staff):
    return make_staff(tree["b"], "organizer"), helpers.volunteer(tree["b"])


def test_no_claim_after_the_task_hours_were_verified(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    code = tasks.occurrence_activity(assignment.slot).checkin_code
    start = tasks.local_to_utc(assignment.slot.start)
    record = tasks.check_in_task(assignment, "code", {"code": code}, by=volunteer.user,
                                 now=start)
    tasks.check_out_task(assignment, "code", {"code": code}, by=volunteer.user,
                         now=start + timedelta(minutes=60))
    services.verify_record(record, by=organizer)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        tasks.claim_hours(assignment, {"check_in_at": start,
                                       "check_out_at": start + timedelta(minutes=120),
                                       "reason": "again"}, by=volunteer.user)
    assert caught.value.code == "TASK_HOURS_RECORDED"


def test_no_second_claim_after_a_verified_claim(db, tree, people):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = tasks.local_to_utc(assignment.slot.start)
    claim = tasks.claim_hours(assignment, {"check_in_at": start,
                                           "check_out_at": start + timedelta(minutes=60),
                                           "reason": "忘记签到"}, by=volunteer.user)
    services.verify_record(claim, by=organizer)
    db.session.commit()
    with pytest.raises(DomainError) as caught:
        tasks.claim_hours(assignment, {"check_in_at": start,
                                       "check_out_at": start + timedelta(minutes=60),
                                       "reason": "again"}, by=volunteer.user)
    assert caught.value.code == "TASK_HOURS_RECORDED"


def test_declarations_on_an_occurrence_are_the_task_claim(client, tree, people, auth_header):
    from volunteer_hub.records.models import ServiceRecord

    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    start = tasks.local_to_utc(assignment.slot.start)
    body = {"check_in_at": start.isoformat(),
            "check_out_at": (start + timedelta(minutes=60)).isoformat(), "reason": "忘记签到"}
    url = f"/api/v1/activities/{activity.id}/declarations"
    first = client.post(url, headers=auth_header(volunteer.user), json=body)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["assignment_id"] == assignment.id
    again = client.post(url, headers=auth_header(volunteer.user), json=body)
    assert again.status_code == 409
    assert db.session.query(ServiceRecord).count() == 1


def test_organizer_names_the_volunteer_by_a_code_typed_in_lower_case(db, tree, people):
    organizer, volunteer = people
    stranger = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_for_organizer(assignment.slot, by=organizer)
    for who in (volunteer, stranger):
        assert tasks.find_volunteer(who.volunteer_number.lower(), activity,
                                    by=organizer).id == who.id
