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
