"""Pages of a matched task's check-in (issue 13 items 1, 2 and 4), in Chinese and English."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.needs import helpers
from tests.records.task_builders import task
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db
from volunteer_hub.records import services, tasks
from volunteer_hub.records.models import ServiceRecord


@pytest.fixture
def people(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    volunteer = helpers.volunteer(tree["b"])
    volunteer.user.locale = "zh_Hans"
    db.session.commit()
    return organizer, volunteer


def _code(assignment) -> str:
    activity = tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    return activity.checkin_code


def test_volunteer_checks_in_and_out_by_code_on_the_task_page(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    code = _code(assignment)
    login(client, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    page = text(client.get(url))
    assert "签到" in page and 'name="code"' in page
    wrong = "000000" if code != "000000" else "111111"
    response = post_form(client, f"{url}/check-in/code", {"code": wrong}, form_url=url)
    assert response.status_code == 422 and "签到码错误" in text(response)
    response = post_form(client, f"{url}/check-in/code", {"code": "12"}, form_url=url)
    assert response.status_code == 422 and "6" in text(response)
    response = post_form(client, f"{url}/check-in/code", {"code": code}, form_url=url)
    assert response.status_code == 302
    page = text(client.get(url))
    assert 'data-stage="on_duty"' in page and "签退" in page
    response = post_form(client, f"{url}/check-out/code", {"code": code}, form_url=url)
    assert response.status_code == 302
    record = db.session.query(ServiceRecord).one()
    assert record.assignment_id == assignment.id and record.check_out_at is not None
    assert "等待审核" in text(client.get(url)) or "待审核" in text(client.get(url))


def test_scanned_qr_link_opens_a_one_tap_check_in(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    token = services.issue_qr_token(activity, by=organizer)
    db.session.commit()
    link = f"/check-in/{activity.id}?t={token}"
    assert client.get(link).status_code == 302  # log in first, then come back
    login(client, volunteer.user)
    page = text(client.get(link))
    assert token in page
    response = post_form(client, f"/check-in/{activity.id}", {"token": token}, form_url=link)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/me/tasks/{assignment.id}")
    record = db.session.query(ServiceRecord).one()
    assert record.method == "qr" and record.assignment_id == assignment.id
    replay = post_form(client, f"/check-in/{activity.id}", {"token": token}, form_url=link)
    assert replay.status_code == 409  # the same scan cannot check out


def test_a_scan_by_someone_without_a_place_says_so(client, people, tree):
    organizer, volunteer = people
    stranger = helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    token = services.issue_qr_token(activity, by=organizer)
    db.session.commit()
    login(client, stranger.user)
    response = client.get(f"/check-in/{activity.id}?t={token}",
                          headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "no accepted place" in text(response)


def test_organizer_door_page_shows_code_and_a_qr_of_the_check_in_link(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    login(client, organizer)
    page = text(client.get(f"/org/slots/{assignment.slot_id}/check-in"))
    activity = tasks.occurrence_activity(assignment.slot)
    assert activity.checkin_code in page and volunteer.real_name in page
    assert f"/org/slots/{assignment.slot_id}/check-in/qr.svg" in page
    door = text(client.get(f"/org/slots/{assignment.slot_id}/check-in/door"))
    assert activity.checkin_code in door and "<script>" not in door
    svg = client.get(f"/org/slots/{assignment.slot_id}/check-in/qr.svg")
    assert svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert svg.headers["Cache-Control"] == "no-store"
    need_page = text(client.get(f"/org/needs/{assignment.need.id}"))
    assert f"/org/slots/{assignment.slot_id}/check-in" in need_page


def test_volunteers_cannot_open_the_door_page(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    login(client, volunteer.user)
    assert client.get(f"/org/slots/{assignment.slot_id}/check-in").status_code == 403
    assert client.get(f"/org/slots/{assignment.slot_id}/check-in/qr.svg").status_code == 403


def test_organizer_enters_hours_by_code_and_verification_shows_flags(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    login(client, organizer)
    url = f"/org/slots/{assignment.slot_id}/check-in"
    start = assignment.slot.start
    data = {"volunteer": "查无此人", "check_in_at": start.strftime("%H:%M"),
            "check_out_at": (start + timedelta(minutes=75)).strftime("%H:%M"),
            "reason": "纸质签到表"}
    response = post_form(client, f"{url}/hours", data, form_url=url)
    assert response.status_code == 422 and "没有" in text(response)
    data["volunteer"] = volunteer.volunteer_number
    response = post_form(client, f"{url}/hours", data, form_url=url)
    assert response.status_code == 302, text(response)[:3000]
    record = db.session.query(ServiceRecord).one()
    assert record.minutes == 60 and record.raw_minutes == 75
    page = text(client.get("/org/verification"))
    assert volunteer.real_name in page and assignment.need.title in page
    assert "flag-manual" in page and "flag-rounded" in page
    assert re.search(r"1:15", page) and re.search(r"1:00", page)


def test_verifier_rejects_with_a_reason(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    start = tasks.local_to_utc(assignment.slot.start)
    claim = tasks.claim_hours(assignment, {"check_in_at": start, "check_out_at": start
                                           + timedelta(hours=1), "reason": "忘记签到"},
                              by=volunteer.user)
    db.session.commit()
    login(client, organizer)
    page = text(client.get("/org/verification"))
    assert "flag-claimed" in page and "忘记签到" in page
    response = post_form(client, f"/org/verification/{claim.id}/reject", {"reason": ""},
                         form_url="/org/verification")
    assert response.status_code == 302
    db.session.refresh(claim)
    assert claim.status == "pending"
    post_form(client, f"/org/verification/{claim.id}/reject", {"reason": "当天没有来"},
              form_url="/org/verification")
    db.session.refresh(claim)
    assert claim.status == "rejected" and claim.status_reason == "当天没有来"


def test_on_duty_is_not_shown_as_a_missing_check_out(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    tasks.check_in_task(assignment, "code", {"code": _code(assignment)}, by=volunteer.user)
    db.session.commit()
    login(client, organizer)
    page = text(client.get("/org/verification"))
    assert "flag-on_duty" in page and "flag-missing_checkout" not in page


def test_claim_a_missed_check_in_from_the_task_page(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.needs.services import local_now

    start = local_now().replace(second=0, microsecond=0) - timedelta(hours=4)
    assignment = task(tree["b"], volunteer, start=start)
    login(client, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    page = text(client.get(url))
    assert "claim" in page and 'name="check_in_at"' in page
    response = post_form(client, f"{url}/claim", {
        "check_in_at": start.strftime("%H:%M"),
        "check_out_at": (start + timedelta(hours=1)).strftime("%H:%M"), "reason": ""},
        form_url=url)
    assert response.status_code == 422
    response = post_form(client, f"{url}/claim", {
        "check_in_at": start.strftime("%H:%M"),
        "check_out_at": (start + timedelta(hours=1)).strftime("%H:%M"),
        "reason": "手机没电"}, form_url=url)
    assert response.status_code == 302
    record = db.session.query(ServiceRecord).one()
    assert record.method == "declared" and record.minutes == 60


# --- item 4: privacy before acceptance --------------------------------------------------------

def test_task_page_hides_the_person_until_accepted(client, people, tree):
    organizer, volunteer = people
    person = helpers.beneficiary(tree["b"])
    tree["b"].lat, tree["b"].lon = helpers.LAT + 0.02, helpers.LON  # about 2 km north
    assignment = task(tree["b"], volunteer, state="confirmed", beneficiary=person,
                      community_id=tree["b"].id, description="陪王奶奶聊天",
                      location_note="幸福路小区门口")
    login(client, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    page = text(client.get(url))
    for secret in ("王奶奶", "幸福路 8 号", "13900000001", "高血压", "幸福路小区门口"):
        assert secret not in page
    assert "乙社区" in page and "1-3 公里" in page  # community and a distance band
    assert not re.search(r"\d\.\d ?(km|公里)", page)  # never an exact distance
    response = post_form(client, f"{url}/accept", {}, form_url=url)
    assert response.status_code == 302
    page = text(client.get(url))
    assert "王奶奶" in page and "幸福路 8 号" in page and "幸福路小区门口" in page


def test_task_details_end_with_the_slot_and_the_grace(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.needs.services import local_now

    person = helpers.beneficiary(tree["b"])
    start = local_now().replace(second=0, microsecond=0) - timedelta(hours=6)
    assignment = task(tree["b"], volunteer, start=start, hours=2, beneficiary=person)
    login(client, volunteer.user)
    page = text(client.get(f"/me/tasks/{assignment.id}"))
    assert "幸福路 8 号" not in page  # ended 4 h ago, grace is 2 h



def test_the_door_qr_encodes_the_check_in_link(client, people, tree, monkeypatch):
    import io

    import qrcode
    import qrcode.image.svg

    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    monkeypatch.setattr(services, "issue_qr_token", lambda activity, by: "signed-token")
    login(client, organizer)
    svg = client.get(f"/org/slots/{assignment.slot_id}/check-in/qr.svg").data
    activity = tasks.occurrence_activity(assignment.slot)
    expected = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2,
                             image_factory=qrcode.image.svg.SvgPathFillImage)
    expected.add_data(f"http://localhost/check-in/{activity.id}?t=signed-token")
    expected.make(fit=True)
    buffer = io.BytesIO()
    expected.make_image().save(buffer)
    assert svg == buffer.getvalue()


def test_a_scan_before_logging_in_comes_back_to_the_check_in(client, people, tree):
    organizer, volunteer = people
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    token = services.issue_qr_token(activity, by=organizer)
    db.session.commit()
    link = f"/check-in/{activity.id}?t={token}"
    to_login = client.get(link).headers["Location"]
    response = post_form(client, to_login, {"login": volunteer.user.phone,
                                            "password": "secret123"}, form_url="/login")
    assert response.status_code == 302
    assert response.headers["Location"] == link


def test_task_list_offers_check_in_for_the_task_happening_now(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.needs.services import local_now

    now_task = task(tree["b"], volunteer)
    later = task(tree["b"], volunteer, start=local_now().replace(microsecond=0)
                 + timedelta(days=2))
    login(client, volunteer.user)
    page = text(client.get("/me/tasks"))
    assert f'href="/me/tasks/{now_task.id}#checkin"' in page
    assert f'href="/me/tasks/{later.id}#checkin"' not in page


def test_forgot_to_check_out_claims_it_from_the_task_page(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.needs.services import local_now

    start = local_now().replace(second=0, microsecond=0) - timedelta(hours=3)
    assignment = task(tree["b"], volunteer, start=start, hours=2)
    opened = tasks.check_in_task(assignment, "code", {"code": _code(assignment)},
                                 by=volunteer.user, now=tasks.local_to_utc(start))
    db.session.commit()
    login(client, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    page = text(client.get(url))
    assert "忘记签退" in page and 'name="check_in_at"' not in page
    response = post_form(client, f"{url}/claim", {
        "check_out_at": (start + timedelta(minutes=100)).strftime("%H:%M"),
        "reason": "走的时候忘了签退"}, form_url=url)
    assert response.status_code == 302
    claim = db.session.query(ServiceRecord).filter_by(corrects_id=opened.id).one()
    assert claim.minutes == 90 and claim.assignment_id == assignment.id


def test_location_check_in_from_the_task_page_keeps_pass_or_fail(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.records.models import CheckEvent

    assignment = task(tree["b"], volunteer)
    need = assignment.need
    login(client, volunteer.user)
    url = f"/me/tasks/{assignment.id}"
    assert "data-locate" in text(client.get(url))
    far = post_form(client, f"{url}/check-in/geofence",
                    {"lat": str(need.lat + 0.05), "lon": str(need.lon)}, form_url=url)
    assert far.status_code == 422 and "不在" in text(far)
    near = post_form(client, f"{url}/check-in/geofence",
                     {"lat": str(need.lat), "lon": str(need.lon)}, form_url=url)
    assert near.status_code == 302
    event = db.session.query(CheckEvent).one()
    assert event.method == "geofence" and event.geofence_passed is True


def test_a_missing_check_out_links_to_the_hand_record_form(client, people, tree):
    organizer, volunteer = people
    from volunteer_hub.needs.services import local_now

    start = local_now().replace(second=0, microsecond=0) - timedelta(hours=5)
    assignment = task(tree["b"], volunteer, start=start, hours=2)
    tasks.check_in_task(assignment, "code", {"code": _code(assignment)}, by=volunteer.user,
                        now=tasks.local_to_utc(start))
    db.session.commit()
    login(client, organizer)
    page = text(client.get("/org/verification"))
    assert "flag-missing_checkout" in page and "flag-on_duty" not in page
    assert f"/org/slots/{assignment.slot_id}/check-in#hand-title" in page


def test_code_attempts_are_limited_per_person_not_per_wifi(client, app, people, tree):
    organizer, volunteer = people
    neighbour = helpers.volunteer(tree["b"])
    mine, theirs = task(tree["b"], volunteer), task(tree["b"], neighbour)
    code = _code(mine)
    wrong = "000000" if code != "000000" else "111111"
    limit = int(app.config["CHECK_IN_RATE_LIMIT"].split()[0])
    login(client, volunteer.user)
    url = f"/me/tasks/{mine.id}"
    statuses = [post_form(client, f"{url}/check-in/code", {"code": wrong},
                          form_url=url).status_code for _ in range(limit + 1)]
    assert statuses[:limit] == [422] * limit and statuses[-1] == 429
    post_form(client, "/logout", {}, form_url="/me/tasks")
    login(client, neighbour.user)  # the same address: the door's Wi-Fi
    url = f"/me/tasks/{theirs.id}"
    response = post_form(client, f"{url}/check-in/code", {"code": _code(theirs)},
                         form_url=url)
    assert response.status_code == 302
