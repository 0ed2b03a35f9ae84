"""One inbox: match messages go through the notify feature's outbox ("inbox" channel), and
the inbox page and API show every inbox message, whichever feature wrote it."""
from __future__ import annotations

import pytest

from tests.needs import helpers
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching
from volunteer_hub.needs import services as needs
from volunteer_hub.notify import services as notify
from volunteer_hub.notify.models import OutboxMessage


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def _confirmed(tree):
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], title="Visit Grandma")
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    matching.confirm_assignment(proposal, by=None)
    db.session.commit()
    return v, proposal


def test_confirmation_is_one_notify_inbox_message(tree):
    v, proposal = _confirmed(tree)
    [message] = db.session.execute(db.select(OutboxMessage).where(
        OutboxMessage.recipient_id == v.user.id)).scalars().all()
    assert message.channel == "inbox" and message.event_key == f"match:{proposal.id}:confirmed"
    # The same event again (a retried request) adds nothing.
    needs.notify(v.user, "again", event_key=f"match:{proposal.id}:confirmed")
    db.session.commit()
    assert len(db.session.execute(notify.inbox_query(v.user)).scalars().all()) == 1
    assert needs.unread_count(v.user) == 1


def test_page_and_api_show_other_features_messages_too(tree, client, auth_header):
    v, proposal = _confirmed(tree)
    notify.enqueue("drill:42", v.user, body="Fire drill on Saturday")
    db.session.commit()
    login(client, v.user)
    page = text(client.get("/me/inbox"))
    assert "Visit Grandma" in page and "Fire drill on Saturday" in page
    items = client.get("/api/v1/me/notifications", headers=auth_header(v.user)).get_json()["items"]
    assert [i["text"] for i in items][0] == "Fire drill on Saturday"
    assert all(i["read_at"] is None for i in items)
    # Opening the match message marks it read and goes to the task.
    confirmation = db.session.execute(notify.inbox_query(v.user)).scalars().all()[-1]
    response = post_form(client, f"/me/inbox/{confirmation.id}/read", {}, form_url="/me/inbox")
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/me/tasks/{proposal.id}")
    assert needs.unread_count(v.user) == 1


def test_someone_elses_message_cannot_be_marked_read(tree, client, auth_header):
    v, _ = _confirmed(tree)
    other = helpers.volunteer(tree["b"])
    [message] = db.session.execute(notify.inbox_query(v.user)).scalars().all()
    response = client.post(f"/api/v1/me/notifications/{message.id}/read",
                           headers=auth_header(other.user))
    assert response.status_code == 404
    db.session.expire_all()
    assert message.read_at is None
