"""Why was this person not proposed? Every rule answers in words; a feasible volunteer gets
the cost comparison with the proposed one; people are named by code, phone or name."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask_babel import force_locale

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.matching import rules, why_not
from volunteer_hub.matching import services as matching
from volunteer_hub.needs import services as needs
from volunteer_hub.volunteers import services as volunteers

TUESDAY = [{"weekday": 1, "start_minute": 0, "end_minute": 1440}]


def _expired_first_aid(v):
    volunteers.add_certification(v, {"kind": "first_aid", "issuer": "红十字会",
                                     "issued_on": date.today() - timedelta(days=400),
                                     "expires_on": date.today()}, by=None)


def _suspend(v):
    v.status = "suspended"


def _away_that_day(v, need):
    volunteers.set_availability(v, helpers.ALL_WEEK, [{"day": need.first_date, "available": False}],
                                by=None)


def _busy(v, need):
    other = helpers.need(v.community, title="Other")
    matching.sign_up(other, v, by=None)


# rule -> (need fields, volunteer fields, change after creation, words expected)
CASES = {
    "none_within_distance": ({"max_distance_km": 1.0}, {"lat": helpers.LAT + 0.05}, None,
                             "km this need allows"),
    "none_active": ({}, {}, lambda v, n: _suspend(v), "not active"),
    "missing_skill": ({"required_skills": [{"code": "nursing", "min_level": 2}]},
                      {"skills": [{"code": "nursing", "level": 1}]}, None,
                      "Needs Nursing at level 2; they have level 1."),
    "missing_certification": ({"required_certifications": ["first_aid"]}, {},
                              lambda v, n: _expired_first_aid(v), "expires on"),
    "gender_mismatch": ("female care", {"gender": "male"}, None, "same gender"),
    "adults_only": ({"adults_only": True}, {"birth": date(date.today().year - 16, 1, 1)}, None,
                    "For adults only; they are 1"),
    "background_check": ({"background_check": True}, {}, None, "background check"),
    "not_available_weekly": ({}, {"windows": [{"weekday": 5, "start_minute": 0, "end_minute": 1440}]},
                             None, "Not available on Tuesday 09:00-11:00"),
    "unavailable_that_day": ({}, {}, _away_that_day, "Marked unavailable on"),
    "busy": ({}, {}, _busy, "Already booked from"),
}


def test_every_rule_has_a_case_and_words():
    assert set(CASES) == {rule.reason for rule in rules.RULES}
    assert all(rule.why is not None for rule in rules.RULES)


@pytest.mark.parametrize("reason", sorted(CASES))
def test_each_rule_answers_in_words(tree, make_staff, reason):
    need_fields, volunteer_fields, change, words = CASES[reason]
    if need_fields == "female care":
        grandma = helpers.beneficiary(tree["b"], gender="female")
        need_fields = {"beneficiary_id": grandma.id, "same_gender": True}
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"], **volunteer_fields)
    need = helpers.need(tree["b"], first_date=helpers.next_weekday(1), **need_fields)
    if change is not None:
        change(v, need)
    db.session.commit()
    with force_locale("en"):
        answer = why_not.why_not(need.slots[0].id, v.volunteer_number, by=organizer)
    assert not answer["feasible"]
    assert answer["reasons"][0]["code"] == reason
    assert words in answer["reasons"][0]["text"], answer["reasons"]


def test_a_feasible_volunteer_is_compared_with_the_proposed_one(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    near = helpers.volunteer(tree["b"])
    farther = helpers.volunteer(tree["b"], lat=helpers.LAT + 0.02)
    need = helpers.need(tree["b"])
    [proposal] = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None).assignments
    assert proposal.volunteer_id == near.id
    db.session.commit()
    with force_locale("en"):
        answer = why_not.why_not(need.slots[0].id, farther.phone, by=organizer)
    assert answer["feasible"] and answer["reasons"] == []
    comparison = answer["comparison"]
    assert comparison["this"]["cost"] > comparison["chosen"]["cost"]
    assert comparison["this"]["distance_km"] > comparison["chosen"]["distance_km"]
    assert near.real_name in comparison["text"] and "km" in comparison["text"]


def test_people_are_named_by_code_phone_or_name_never_by_id(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"])
    twin = helpers.volunteer(tree["b"])
    twin.real_name = v.real_name
    db.session.commit()
    assert why_not.find_person(v.volunteer_number.lower(), by=organizer).id == v.id
    assert why_not.find_person(v.phone, by=organizer).id == v.id
    with pytest.raises(ValidationFailed) as ambiguous:
        why_not.find_person(v.real_name, by=organizer)
    assert v.volunteer_number in str(ambiguous.value.message)
    with pytest.raises(ValidationFailed):
        why_not.find_person(str(v.id), by=organizer)
    outsider = make_staff(tree["a"], "organizer")
    with pytest.raises(ValidationFailed):
        why_not.find_person(v.volunteer_number, by=outsider)


def test_api_and_page_answer_in_the_readers_language(tree, make_staff, client, auth_header):
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"], skills=[{"code": "nursing", "level": 1}])
    need = helpers.need(tree["b"], required_skills=[{"code": "nursing", "min_level": 2}])
    slot_id = need.slots[0].id
    response = client.get(f"/api/v1/need-slots/{slot_id}/why-not",
                          query_string={"person": v.volunteer_number},
                          headers=auth_header(organizer) | {"Accept-Language": "zh-CN"})
    assert response.status_code == 200, response.get_json()
    [reason] = response.get_json()["reasons"]
    assert reason["code"] == "missing_skill" and "级" in reason["text"]
    missing = client.get(f"/api/v1/need-slots/{slot_id}/why-not", query_string={"person": "nobody"},
                         headers=auth_header(organizer))
    assert missing.status_code == 422


def test_the_default_window_covers_the_open_needs(tree, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    far = needs.local_today() + timedelta(days=20)
    helpers.need(tree["b"], first_date=far)
    start, end = why_not.default_window(organizer, today=needs.local_today())
    assert start == needs.local_today() and end >= far
    assert (end - start).days < matching.MAX_RUN_DAYS


def test_the_organizer_page_asks_by_code_and_the_run_page_links_to_it(tree, make_staff, client):
    from tests.web.helpers import login, text

    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"], skills=[{"code": "nursing", "level": 1}])
    need = helpers.need(tree["b"], required_skills=[{"code": "nursing", "min_level": 2}])
    run = matching.run_matching(tree["b"], need.first_date, need.first_date, by=None)
    db.session.commit()
    organizer.locale = "en"
    db.session.commit()
    login(client, organizer)
    slot_id = need.slots[0].id
    assert f"/org/matching/slots/{slot_id}/why-not" in text(client.get(f"/org/matching/runs/{run.id}"))
    page = client.get(f"/org/matching/slots/{slot_id}/why-not", query_string={"person": v.volunteer_number})
    assert page.status_code == 200 and "Needs Nursing at level 2" in text(page)
    unknown = client.get(f"/org/matching/slots/{slot_id}/why-not", query_string={"person": "nobody"})
    assert unknown.status_code == 422 and 'aria-invalid="true"' in text(unknown)
