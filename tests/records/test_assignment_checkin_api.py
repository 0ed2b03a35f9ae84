"""The API of a matched task's check-in (issue 13 item 1) and the public community list."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from tests.records.task_builders import task
from volunteer_hub.db import db
from volunteer_hub.records import tasks
from volunteer_hub.records.models import ServiceRecord


@pytest.fixture
def people(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    volunteer = helpers.volunteer(tree["b"])
    return organizer, volunteer


def test_check_in_out_with_idempotency_and_verify(client, tree, people, auth_header):
    organizer, volunteer = people
    person = helpers.beneficiary(tree["b"])
    assignment = task(tree["b"], volunteer, beneficiary=person)
    staff, me = auth_header(organizer), auth_header(volunteer.user)
    door = client.get(f"/api/v1/slots/{assignment.slot_id}/check-in", headers=staff)
    assert door.status_code == 200, door.get_json()
    door = door.get_json()
    assert len(door["checkin_code"]) == 6 and f"/check-in/{door['activity']['id']}?t=" in \
        door["qr_url"]
    assert client.get(f"/api/v1/slots/{assignment.slot_id}/check-in",
                      headers=me).status_code == 404
    url = f"/api/v1/assignments/{assignment.id}"
    assert client.get(f"{url}/check-in", headers=me).get_json()["stage"] == "check_in"
    key = {**me, "Idempotency-Key": "scan-1"}
    first = client.post(f"{url}/check-in", headers=key,
                        json={"method": "qr", "token": door["qr_token"]})
    assert first.status_code == 201, first.get_json()
    again = client.post(f"{url}/check-in", headers=key,
                        json={"method": "qr", "token": door["qr_token"]})
    assert again.status_code == 201 and again.get_json()["id"] == first.get_json()["id"]
    assert db.session.query(ServiceRecord).count() == 1
    body = first.get_json()
    assert body["assignment_id"] == assignment.id and body["slot_id"] == assignment.slot_id
    assert body["need_id"] == assignment.need.id and body["beneficiary_id"] == person.id
    assert body["check_in_at"].endswith("+00:00")
    assert client.get(f"{url}/check-in", headers=me).get_json()["stage"] == "on_duty"
    out = client.post(f"{url}/check-out", headers=me,
                      json={"method": "code", "code": door["checkin_code"]})
    assert out.status_code == 200 and out.get_json()["check_out_at"]
    queue = client.get("/api/v1/verification-queue", headers=staff).get_json()
    assert [item["assignment_id"] for item in queue["items"]] == [assignment.id]


def test_wrong_code_is_a_field_error_in_chinese(client, tree, people, auth_header):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    me = auth_header(volunteer.user)
    wrong = "000000" if activity.checkin_code != "000000" else "111111"
    response = client.post(f"/api/v1/assignments/{assignment.id}/check-in",
                           headers={**me, "Accept-Language": "zh-CN"},
                           json={"method": "code", "code": wrong})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"] == "WRONG_CODE" and "签到码错误" in str(body)


def test_another_volunteer_cannot_use_my_assignment(client, tree, people, auth_header):
    organizer, volunteer = people
    other = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    response = client.post(f"/api/v1/assignments/{assignment.id}/check-in",
                           headers=auth_header(other.user), json={"method": "code",
                                                                  "code": "123456"})
    assert response.status_code == 404


def test_claim_and_hand_record_over_the_api(client, tree, people, auth_header):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = tasks.local_to_utc(assignment.slot.start)
    me, staff = auth_header(volunteer.user), auth_header(organizer)
    url = f"/api/v1/assignments/{assignment.id}/hours-claims"
    missing = client.post(url, headers=me, json={
        "check_in_at": start.isoformat(), "check_out_at": (start + timedelta(hours=1))
        .isoformat()})
    assert missing.status_code == 422 and "reason" in str(missing.get_json())
    claim = client.post(url, headers=me, json={
        "check_in_at": start.isoformat(),
        "check_out_at": (start + timedelta(hours=1)).isoformat(), "reason": "忘记签到"})
    assert claim.status_code == 201 and claim.get_json()["method"] == "declared"
    record = client.post(f"/api/v1/slots/{assignment.slot_id}/records", headers=staff, json={
        "volunteer": volunteer.volunteer_number, "check_in_at": start.isoformat(),
        "check_out_at": (start + timedelta(minutes=90)).isoformat(), "reason": "纸质签到表"})
    assert record.status_code == 201, record.get_json()
    assert record.get_json()["assignment_id"] == assignment.id
    assert record.get_json()["minutes"] == 90


def test_communities_are_listed_without_login(client, tree):
    response = client.get("/api/v1/communities")
    assert response.status_code == 200
    names = {c["name_zh"]: c for c in response.get_json()}
    assert set(names) == {"甲社区", "乙社区"}
    assert [g["name_zh"] for g in names["甲社区"]["grids"]] == ["甲一网格"]
    assert not {"path", "resident_population"} & set(names["甲社区"])


def test_occurrences_stay_out_of_the_public_activity_list(client, tree, people, auth_header):
    organizer, volunteer = people
    other = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer, description="陪王奶奶聊天，她住幸福路 8 号")
    tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    listed = client.get("/api/v1/activities", headers=auth_header(other.user)).get_json()
    assert listed["items"] == []
    activity = db.session.execute(db.select(tasks.Activity)).scalar_one()
    assert "幸福路" not in activity.content


def test_an_occurrence_is_not_reachable_through_the_activity_endpoints(client, tree, people,
                                                                        auth_header):
    """The occurrence of a beneficiary's need carries the need's point as its geofence:
    a volunteer not on the task must neither read it (GET /activities/<id> by counting ids)
    nor check in to it, declare hours on it or check out of it by the generic endpoints."""
    organizer, volunteer = people
    other = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer, beneficiary=helpers.beneficiary(tree["b"]))
    activity = tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    url, code = f"/api/v1/activities/{activity.id}", activity.checkin_code
    stranger = auth_header(other.user)
    read = client.get(url, headers=stranger)
    assert read.status_code == 404 and "geofence_lat" not in str(read.get_json())
    assert client.post(f"{url}/check-in", headers=stranger,
                       json={"method": "code", "code": code}).status_code == 404
    start = tasks.local_to_utc(assignment.slot.start)
    assert client.post(f"{url}/declarations", headers=stranger, json={
        "check_in_at": start.isoformat(), "check_out_at": (start + timedelta(hours=1))
        .isoformat(), "reason": "来过"}).status_code == 404
    assert db.session.query(ServiceRecord).count() == 0
    # The organizer and the volunteer on the task still reach it; a check-in through the
    # generic endpoint is the task's own (linked to the assignment).
    assert client.get(url, headers=auth_header(organizer)).status_code == 200
    mine = auth_header(volunteer.user)
    assert client.get(url, headers=mine).status_code == 200
    checked = client.post(f"{url}/check-in", headers=mine, json={"method": "code", "code": code})
    assert checked.status_code == 201, checked.get_json()
    assert checked.get_json()["assignment_id"] == assignment.id


def test_a_need_with_a_long_title_still_opens_its_door(client, tree, people, auth_header):
    """A need's title may have 200 characters, an activity's name 120: on PostgreSQL the
    occurrence could not be made (value too long), so nobody could check in to the task."""
    organizer, volunteer = people
    title = "为独居老人提供上门陪伴、买菜、读报和简单家务帮助" * 6  # 144 characters
    assignment = task(tree["b"], volunteer, title=title)
    door = client.get(f"/api/v1/slots/{assignment.slot_id}/check-in",
                      headers=auth_header(organizer))
    assert door.status_code == 200, door.get_json()
    assert title.startswith(door.get_json()["activity"]["name"])
    checked = client.post(f"/api/v1/assignments/{assignment.id}/check-in",
                          headers=auth_header(volunteer.user),
                          json={"method": "code", "code": door.get_json()["checkin_code"]})
    assert checked.status_code == 201, checked.get_json()
