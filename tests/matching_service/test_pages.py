"""Mobile pages: organizer posts a need, runs matching, confirms; the volunteer reads the
inbox, accepts, browses open needs and signs up; no address leaks to the unassigned."""
from __future__ import annotations

import re

import pytest

from tests.needs import helpers
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db
from volunteer_hub.matching.models import Assignment, MatchingRun
from volunteer_hub.needs.models import Need


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def test_organizer_flow_post_run_confirm(tree, client, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"], skills=[{"code": "elder_care", "level": 2}])
    grandma = helpers.beneficiary(tree["b"])
    login(client, organizer)
    for url in ("/org/needs", "/org/needs/new", "/org/beneficiaries", "/org/matching",
                "/org/beneficiaries/new"):
        assert client.get(url).status_code == 200, url
    day = helpers.next_weekday(2)
    response = post_form(client, "/org/needs/new", {
        "org_id": str(tree["b"].id), "beneficiary_id": str(grandma.id), "type": "home_visit",
        "title": "Visit Grandma Wang", "skill": "elder_care", "skill_level": "2",
        "volunteers_per_occurrence": "1", "first_date": day.isoformat(), "start": "09:00",
        "end": "11:00", "max_distance_km": "5", "priority": "high", "publish": "y"})
    assert response.status_code == 302, text(response)[:3000]
    need = db.session.execute(db.select(Need)).scalar_one()
    assert need.state == "open" and need.required_skills == {"elder_care": 2}
    detail = client.get(f"/org/needs/{need.id}")
    assert "Visit Grandma Wang" in text(detail)
    response = post_form(client, "/org/matching", {
        "org_id": str(tree["b"].id), "start": day.isoformat(), "end": day.isoformat()})
    assert response.status_code == 302
    run = db.session.execute(db.select(MatchingRun)).scalar_one()
    page = text(client.get(f"/org/matching/runs/{run.id}"))
    assert v.real_name in page and "km away" in page
    assert "(this task needs Experienced)" in page  # a sentence, not "elder_care: 3 / 2"
    [proposal] = run.assignments
    response = post_form(client, f"/org/assignments/{proposal.id}/confirm", {},
                         form_url=f"/org/matching/runs/{run.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert proposal.state == "confirmed"
    # The access log page shows the organizer's own read.
    page = text(client.get(f"/org/beneficiaries/{grandma.id}"))
    assert "幸福路" in page and "Who read this record" in page


def test_organizer_replaces_a_proposed_volunteer_by_typed_code_without_script(
        tree, client, make_staff):
    """The picker's typed text reaches the server when no script ran (old phone, script
    blocked): the volunteer code is looked up instead of answering "Enter a volunteer."."""
    organizer = make_staff(tree["b"], "organizer")
    first = helpers.volunteer(tree["b"])
    other = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], title="Visit")
    from volunteer_hub.matching import services as matching

    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    someone_else = other if proposal.volunteer_id == first.id else first
    db.session.commit()
    login(client, organizer)
    run_page = f"/org/matching/runs/{run.id}"
    assert 'name="person"' in text(client.get(run_page))
    response = post_form(client, f"/org/assignments/{proposal.id}/replace",
                         {"person": someone_else.volunteer_number.lower()}, form_url=run_page)
    assert response.status_code == 302
    db.session.expire_all()
    assert proposal.volunteer_id == someone_else.id


def test_volunteer_inbox_accept_and_task_details(tree, client):
    v = helpers.volunteer(tree["b"])
    grandma = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=grandma.id, title="Visit")
    from volunteer_hub.matching import services as matching

    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    [proposal] = run.assignments
    matching.confirm_assignment(proposal, by=None)
    db.session.commit()
    login(client, v.user)
    inbox = text(client.get("/me/inbox"))
    assert "Visit" in inbox and "accept or decline" in inbox
    assert "幸福路" not in text(client.get(f"/me/tasks/{proposal.id}"))  # not accepted yet
    response = post_form(client, f"/me/tasks/{proposal.id}/accept", {},
                         form_url=f"/me/tasks/{proposal.id}")
    assert response.status_code == 302
    db.session.expire_all()
    assert proposal.state == "accepted"
    assert "幸福路" in text(client.get(f"/me/tasks/{proposal.id}"))  # accepted: needed
    assert "Visit" in text(client.get("/me/tasks"))


def test_volunteer_open_needs_page_and_signup_without_address(tree, client):
    v = helpers.volunteer(tree["b"])
    grandma = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=grandma.id, title="Meals",
                        type="meal_delivery", requires_approval=True)
    login(client, v.user)
    page = text(client.get("/me/open-needs"))
    assert "Meals" in page and "幸福路" not in page and "13900000001" not in page
    response = post_form(client, f"/me/open-needs/{need.id}/signup", {},
                         form_url="/me/open-needs")
    assert response.status_code == 302
    assignment = db.session.execute(db.select(Assignment)).scalar_one()
    assert assignment.state == "pending_approval"
    task = text(client.get(f"/me/tasks/{assignment.id}"))
    assert "幸福路" not in task and "13900000001" not in task  # not confirmed yet
    assert re.search(r"shown once you accept", task)


def test_pages_need_a_role_or_a_profile(tree, client, make_staff):
    v = helpers.volunteer(tree["b"])
    login(client, v.user)
    assert client.get("/org/needs").status_code == 403
    assert client.get("/org/matching").status_code == 403
