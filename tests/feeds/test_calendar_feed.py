"""Private calendar feeds (issue 16 item 4): confirmed tasks and emergency duty as
iCalendar; the token is stored hashed, shown once, and revocation answers 404."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import icalendar
import pytest

from tests.needs import helpers
from tests.records.task_builders import task
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db, utcnow
from volunteer_hub.emergency.models import Activation, EmergencyPlan, Responder
from volunteer_hub.feeds import services
from volunteer_hub.feeds.models import CalendarFeed


@pytest.fixture
def volunteer(tree):
    person = helpers.volunteer(tree["b"])
    person.user.locale = "zh_Hans"
    db.session.commit()
    return person


def _duty(tree, volunteer, answer="coming"):
    plan = EmergencyPlan(org_id=tree["b"].id, org_path=tree["b"].path, name="防汛预案",
                         category="flood")
    db.session.add(plan)
    db.session.flush()
    activation = Activation(plan_id=plan.id, org_id=tree["b"].id, org_path=tree["b"].path,
                            level=3, incident_address="乙社区广场")
    db.session.add(activation)
    db.session.flush()
    responder = Responder(activation_id=activation.id, volunteer_id=volunteer.id,
                          user_id=volunteer.user_id, answer=answer, answered_at=utcnow())
    db.session.add(responder)
    db.session.commit()
    return responder


def _make_link(client) -> str:
    page = text(post_form(client, "/me/calendar", {}))
    return re.search(r'id="feed-link" type="text" readonly value="([^"]+)"', page).group(1)


def test_the_feed_parses_and_holds_confirmed_tasks_and_duty_in_local_time(
        client, tree, volunteer):
    start = datetime(2026, 12, 20, 9, 0)  # local wall clock
    task(tree["b"], volunteer, start=start, hours=2, state="accepted")
    task(tree["b"], volunteer, start=start + timedelta(days=1), state="declined")
    _duty(tree, volunteer)
    _duty(tree, volunteer, answer="cannot")
    login(client, volunteer.user)
    link = _make_link(client)
    assert link.startswith("http://localhost/feeds/")
    response = client.get(link.removeprefix("http://localhost"))
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    calendar = icalendar.Calendar.from_ical(response.data)
    events = list(calendar.walk("VEVENT"))
    assert len(events) == 2  # the declined task and the refused call are not duties
    tasks = [e for e in events if str(e["uid"]).startswith("task-")]
    [shift] = tasks
    starts = shift.decoded("dtstart")
    assert (starts.hour, str(starts.tzinfo)) == (9, "Asia/Shanghai")
    assert shift.decoded("dtend") - starts == timedelta(hours=2)
    assert calendar.walk("VTIMEZONE")  # the zone travels with the feed
    [duty] = [e for e in events if str(e["uid"]).startswith("duty-")]
    assert "防汛预案" in str(duty["summary"]) and str(duty["location"]) == "乙社区广场"


def test_the_token_is_stored_hashed_and_revoking_answers_404(client, tree, volunteer):
    login(client, volunteer.user)
    link = _make_link(client)
    token = link.rsplit("/", 1)[1].removesuffix(".ics")
    stored = db.session.get(CalendarFeed, volunteer.id)
    assert stored.token_hash != token and token not in stored.token_hash
    path = link.removeprefix("http://localhost")
    assert client.get(path).status_code == 200
    post_form(client, "/me/calendar/revoke", {}, form_url="/me/calendar")
    assert client.get(path).status_code == 404
    assert db.session.get(CalendarFeed, volunteer.id) is None


def test_a_new_link_replaces_the_old_one(client, tree, volunteer):
    login(client, volunteer.user)
    first = _make_link(client).removeprefix("http://localhost")
    second = _make_link(client).removeprefix("http://localhost")
    assert first != second
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200
    assert client.get("/feeds/not-a-token.ics").status_code == 404


def test_the_page_offers_webcal_and_a_copy_button_in_chinese(client, tree, volunteer):
    login(client, volunteer.user)
    page = text(client.get("/me/calendar"))
    assert "订阅到手机日历" in page and "<script>" not in page
    made = text(post_form(client, "/me/calendar", {}))
    assert 'href="webcal://localhost/feeds/' in made
    assert "data-copy-target=\"feed-link\"" in made and "js/copy-link.js" in made
    again = text(client.get("/me/calendar"))
    assert "/feeds/" not in again  # the link itself is shown only once


def test_a_closed_account_has_no_feed(client, tree, volunteer):
    token = services.issue(volunteer)
    volunteer.user.active = False
    db.session.commit()
    assert client.get(f"/feeds/{token}.ics").status_code == 404
