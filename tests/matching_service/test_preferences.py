"""A volunteer's matching preferences: the travel limit is hard, the rest steer the choice
and show up in the explanation; edited through the API and a mobile page."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.needs import helpers
from tests.web.helpers import login, post_form, text
from volunteer_hub.db import db
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.matching import services as matching


def _range(day):
    return day - timedelta(days=1), day + timedelta(days=1)


def _set(volunteer, **data):
    matching.update_preferences(volunteer, data, by=volunteer.user)
    db.session.commit()


def test_own_travel_limit_is_never_exceeded(tree):
    far = helpers.volunteer(tree["b"], lat=helpers.LAT - 0.02)  # about 2.3 km from the need
    need = helpers.need(tree["b"], max_distance_km=5.0)
    _set(far, max_travel_km=1.5)
    run = matching.run_matching(tree["b"], *_range(need.first_date), by=None)
    assert run.assignments == [] and run.stats["filled"] == 0
    _set(far, max_travel_km=3.0)
    run = matching.run_matching(tree["b"], *_range(need.first_date), by=None)
    assert [a.volunteer_id for a in run.assignments] == [far.id]


def test_soft_preferences_pick_the_willing_and_explain_the_miss(tree):
    day = helpers.next_weekday(1)  # a Tuesday morning visit to an elderly person
    reluctant = helpers.volunteer(tree["b"])  # about 100 m nearer than the willing one
    willing = helpers.volunteer(tree["b"], lat=helpers.LAT - 0.001)
    grandma = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=grandma.id)
    _set(reluctant, weekdays=[5, 6], day_parts=["evening"], categories=["left_behind_child"])
    _set(willing, weekdays=[1], day_parts=["morning"], need_types=["home_visit"])
    run = matching.run_matching(tree["b"], *_range(day), by=None)
    [proposal] = run.assignments
    assert proposal.volunteer_id == willing.id
    assert proposal.explanation["preference_misses"] == []
    assert proposal.explanation["preference_hit"] is True
    # Alone, the reluctant one still gets the task, and the explanation says what it misses.
    matching.cancel_assignment(proposal, by=None, reason="test")
    db.session.commit()
    _set(willing, max_travel_km=0.1)
    db.session.expire_all()
    run = matching.run_matching(tree["b"], *_range(day), by=None)
    [proposal] = run.assignments
    assert proposal.volunteer_id == reluctant.id
    assert proposal.explanation["preference_misses"] == ["weekday", "day_part", "category"]
    assert need.id == proposal.slot.need_id


def test_validation_and_only_the_volunteer_edits(tree):
    v = helpers.volunteer(tree["b"])
    other = helpers.volunteer(tree["b"])
    for bad in ({"need_types": ["flying"]}, {"weekdays": [7]}, {"day_parts": ["noon"]},
                {"max_travel_km": 0.0}, {"categories": ["cats"]}):
        with pytest.raises(ValidationFailed):
            matching.update_preferences(v, bad, by=v.user)
    with pytest.raises(NotFound):
        matching.update_preferences(v, {"weekdays": [1]}, by=other.user)


def test_api_get_and_put(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    headers = auth_header(v.user)
    empty = client.get("/api/v1/me/matching-preferences", headers=headers).get_json()
    assert empty["need_types"] == [] and empty["max_travel_km"] is None
    response = client.put("/api/v1/me/matching-preferences", headers=headers,
                          json={"need_types": ["meal_delivery", "home_visit"], "max_travel_km": 2.5,
                                "weekdays": [5, 1, 5]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["need_types"] == ["home_visit", "meal_delivery"] and body["weekdays"] == [1, 5]
    response = client.put("/api/v1/me/matching-preferences", headers=headers,
                          json={"day_parts": ["noon"]})
    assert response.status_code == 422
    assert client.get("/api/v1/me/matching-preferences",
                      headers=headers).get_json()["max_travel_km"] == 2.5


@pytest.mark.parametrize("language, title", [("en", "My matching preferences"),
                                             ("zh", None)])
def test_page_edits_preferences(tree, client, language, title):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    v = helpers.volunteer(tree["b"])
    login(client, v.user)
    page = client.get("/me/preferences")
    assert page.status_code == 200
    if title:
        assert title in text(page)
    response = post_form(client, "/me/preferences", {
        "max_travel_km": "3", "need_types": ["home_visit"], "weekdays": ["0", "6"],
        "day_parts": ["evening"], "categories": ["elderly_alone"]})
    assert response.status_code == 302
    pref = matching.get_preferences(v)
    assert (pref.max_travel_km, pref.need_types, pref.weekdays, pref.day_parts,
            pref.categories) == (3.0, ["home_visit"], [0, 6], ["evening"], ["elderly_alone"])
    response = post_form(client, "/me/preferences", {"max_travel_km": "-1"})
    assert response.status_code == 422
