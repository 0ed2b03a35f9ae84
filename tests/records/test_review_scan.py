"""Review fixes: the scanned QR link checks in only the volunteers on the task."""
from __future__ import annotations

from tests.needs import helpers
from tests.records.task_builders import task
from tests.web.helpers import login, post_form
from volunteer_hub.db import db
from volunteer_hub.records import services, tasks
from volunteer_hub.records.models import ServiceRecord


def test_someone_without_a_place_cannot_check_in_with_the_scanned_token(client, tree,
                                                                        make_staff):
    organizer = make_staff(tree["b"], "organizer")
    volunteer, stranger = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer)
    activity = tasks.occurrence_activity(assignment.slot)
    token = services.issue_qr_token(activity, by=organizer)
    db.session.commit()
    login(client, stranger.user)
    response = post_form(client, f"/check-in/{activity.id}", {"token": token},
                         form_url="/me/profile")
    assert response.status_code == 404
    assert db.session.query(ServiceRecord).count() == 0


def test_the_task_list_shows_today_s_task_after_a_long_past(client, tree):
    from datetime import timedelta

    from volunteer_hub.matching.models import Assignment
    from volunteer_hub.needs.services import local_now

    volunteer = helpers.volunteer(tree["b"])
    old = task(tree["b"], volunteer, start=local_now().replace(second=0, microsecond=0)
               - timedelta(days=400))
    for week in range(1, 111):  # two years of weekly visits, all in the past
        slot = old.slot
        copy = type(slot)(need_id=slot.need_id, position=week, start=slot.start
                          + timedelta(days=3 * week), end=slot.end + timedelta(days=3 * week),
                          status="filled")
        db.session.add(copy)
        db.session.flush()
        db.session.add(Assignment(slot_id=copy.id, volunteer_id=volunteer.id, source="manual",
                                  state="accepted"))
    today = task(tree["b"], volunteer)  # started half an hour ago
    login(client, volunteer.user)
    page = client.get("/me/tasks").get_data(as_text=True)
    assert f"/me/tasks/{today.id}" in page and 'data-check="check_in"' in page


def test_the_scan_page_shows_no_meeting_place_to_someone_without_a_place(client, tree):
    volunteer, stranger = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    assignment = task(tree["b"], volunteer, location_note="幸福路 8 号 3 单元门口")
    activity = tasks.occurrence_activity(assignment.slot)
    db.session.commit()
    login(client, stranger.user)
    response = client.get(f"/check-in/{activity.id}")
    assert response.status_code == 404 and "幸福路" not in response.get_data(as_text=True)
