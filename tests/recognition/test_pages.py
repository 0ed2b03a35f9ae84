"""Mobile pages: a course for a group, an evaluation, an award, and the volunteer's page."""
from __future__ import annotations

from datetime import date

import pytest

from tests.web.helpers import login, post_form, text
from volunteer_hub.recognition import services
from volunteer_hub.recognition.models import Award, Evaluation


@pytest.fixture(autouse=True)
def _english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


def _training_form(org, volunteers: str, **overrides) -> dict:
    data = {"org_id": str(org.id), "title": "新志愿者入门培训", "kind": "general_induction",
            "trained_on": "2026-03-14", "hours": "2.5", "trainer": "街道志愿服务站",
            "content": "", "team_id": "", "volunteers": volunteers}
    data.update(overrides)
    return data


def test_organizer_records_a_course_for_a_group_by_volunteer_and_phone_numbers(
        client, db, tree, people):
    volunteer, other = people["volunteer"], people["other"]
    login(client, people["organizer"])
    assert client.get("/org/trainings/new").status_code == 200
    listed = f"{volunteer.volunteer_number.lower()}\n{other.phone}, {other.phone}"
    response = post_form(client, "/org/trainings/new", _training_form(tree["b"], listed))
    assert response.status_code == 302, text(response)[:3000]
    assert services.has_training(volunteer.id, "general_induction")
    assert services.has_training(other.id, "general_induction")
    page = text(client.get("/org/recognition"))
    assert "Training recorded for 2 volunteers." in page
    assert page.count("新志愿者入门培训") == 2 and "2.5 h" in page


def test_group_form_shows_unknown_numbers_and_bad_hours_next_to_the_fields(client, tree,
                                                                          people):
    login(client, people["organizer"])
    response = post_form(client, "/org/trainings/new",
                         _training_form(tree["b"], "NOPE-1", hours="0"))
    assert response.status_code == 422
    page = text(response)
    assert 'id="hours"' in page and "field-error" in page
    response = post_form(client, "/org/trainings/new", _training_form(tree["b"], "NOPE-1"))
    assert response.status_code == 422
    assert "No volunteer with this number: NOPE-1" in text(response)


def test_out_of_scope_volunteers_are_reported_not_recorded(client, tree, people,
                                                          make_volunteer):
    outsider = make_volunteer(tree["a"])
    login(client, people["organizer"])
    response = post_form(client, "/org/trainings/new",
                         _training_form(tree["b"], outsider.volunteer_number))
    assert response.status_code == 422
    assert f"{outsider.volunteer_number}: Not found." in text(response)
    assert not services.has_training(outsider.id, "general_induction")


def test_revoking_a_training_from_the_overview(client, db, tree, people):
    volunteer = people["volunteer"]
    training = services.record_training(volunteer, {
        "org_id": tree["b"].id, "title": "急救", "kind": "first_aid",
        "trained_on": date(2026, 3, 1), "minutes": 120},
        by=people["organizer"])
    db.session.commit()
    login(client, people["organizer"])
    url = f"/org/trainings/{training.id}/revoke"
    post_form(client, url, {"reason": ""}, form_url="/org/recognition")
    assert services.has_training(volunteer.id, "first_aid")
    post_form(client, url, {"reason": "wrong person"}, form_url="/org/recognition")
    assert not services.has_training(volunteer.id, "first_aid")
    assert 'data-status="revoked"' in text(client.get("/org/recognition"))


def test_overview_offers_to_revoke_only_what_is_in_force_and_managed(client, db, tree,
                                                                       people):
    volunteer, organizer = people["volunteer"], people["organizer"]
    training = services.record_training(volunteer, {
        "org_id": tree["b"].id, "title": "急救", "kind": "first_aid",
        "trained_on": date(2026, 3, 1), "minutes": 120}, by=organizer)
    data = {"org_id": tree["b"].id, "level": "district", "awarded_on": date(2026, 5, 4)}
    award = services.grant_award(volunteer, {**data, "title": "优秀志愿者"}, by=organizer)
    withdrawn = services.grant_award(volunteer, {**data, "title": "撤销的奖"}, by=organizer)
    services.revoke_award(withdrawn, "error", by=organizer)
    db.session.commit()
    login(client, organizer)
    page = text(client.get("/org/recognition"))
    assert f'action="/org/trainings/{training.id}/revoke"' in page
    assert f'<label for="reason-t{training.id}"' in page
    assert f'action="/org/awards/{award.id}/revoke"' in page
    assert f'<label for="reason-a{award.id}"' in page
    assert f'data-award="{withdrawn.id}" data-status="revoked"' in page
    assert f"/org/awards/{withdrawn.id}/revoke" not in page
    post_form(client, "/logout", {}, form_url="/account")
    login(client, people["coordinator"])
    page = text(client.get("/org/recognition"))
    assert "急救" in page and "优秀志愿者" in page and "/revoke" not in page  # reads only


def test_organizer_evaluates_a_verified_record_and_the_volunteer_reads_it(
        client, db, people, verified_record):
    login(client, people["organizer"])
    queue = text(client.get("/org/evaluations"))
    assert f'data-record="{verified_record.id}"' in queue and "王五" in queue
    url = f"/org/records/{verified_record.id}/evaluation"
    assert client.get(url).status_code == 200
    refused = post_form(client, url, {"score": "9", "comment": "x"})
    assert refused.status_code == 422 and "field-error" in text(refused)
    response = post_form(client, url, {"score": "4", "comment": "细心耐心"})
    assert response.status_code == 302
    assert "Nothing to evaluate." in text(client.get("/org/evaluations"))
    assert db.session.query(Evaluation).count() == 1
    post_form(client, "/logout", {}, form_url="/account")
    login(client, people["volunteer"].user)
    page = text(client.get("/me/recognition"))
    assert 'data-score="4"' in page and "细心耐心" in page
    assert client.get(url).status_code == 403  # a volunteer does not rate their own service


def test_organizer_records_an_award_shown_on_the_volunteers_page(client, db, tree, people):
    volunteer = people["volunteer"]
    login(client, people["organizer"])
    form = {"volunteer": volunteer.volunteer_number, "org_id": str(tree["b"].id),
            "title": "优秀志愿者", "level": "community", "awarded_on": "2026-05-04",
            "issuer": "", "reason": "长期照顾孤寡老人"}
    response = post_form(client, "/org/awards/new", form)
    assert response.status_code == 302, text(response)[:3000]
    outsider_form = {**form, "volunteer": "NO-SUCH"}
    refused = post_form(client, "/org/awards/new", outsider_form)
    assert refused.status_code == 422
    assert "No volunteer with this number in your area." in text(refused)
    assert db.session.query(Award).count() == 1
    post_form(client, "/logout", {}, form_url="/account")
    login(client, volunteer.user)
    page = text(client.get("/me/recognition"))
    assert "优秀志愿者" in page and "Community level" in page and "长期照顾孤寡老人" in page


@pytest.mark.parametrize("language, expected", [("zh-CN", "返回我的资料"),
                                                ("en", "Back to my profile")])
def test_pages_render_in_both_languages(client, db, tree, people, verified_record, language,
                                        expected):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    lang = 'lang="zh-Hans"' if language == "zh-CN" else 'lang="en"'
    login(client, people["organizer"])
    for url in ("/org/recognition", "/org/trainings/new", "/org/evaluations",
                f"/org/records/{verified_record.id}/evaluation", "/org/awards/new"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert lang in text(response), url
    post_form(client, "/logout", {}, form_url="/account")
    login(client, people["volunteer"].user)
    page = text(client.get("/me/recognition"))
    assert lang in page and expected in page


def test_organizer_pages_need_a_role_and_the_volunteer_page_a_volunteer(client, people):
    login(client, people["volunteer"].user)
    for url in ("/org/recognition", "/org/trainings/new", "/org/evaluations",
                "/org/awards/new"):
        assert client.get(url).status_code == 403, url
    post_form(client, "/logout", {}, form_url="/account")
    login(client, people["organizer"])
    assert client.get("/me/recognition").status_code == 404


def test_the_profile_snippet_lists_granted_awards_only(app, db, tree, people):
    from flask import render_template_string

    volunteer = people["volunteer"]
    data = {"org_id": tree["b"].id, "level": "district", "awarded_on": date(2026, 5, 4)}
    kept = services.grant_award(volunteer, {**data, "title": "优秀志愿者"},
                                by=people["organizer"])
    withdrawn = services.grant_award(volunteer, {**data, "title": "撤销的奖"},
                                     by=people["organizer"])
    services.revoke_award(withdrawn, "error", by=people["organizer"])
    db.session.commit()
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        html = render_template_string('{% include "recognition/_awards.html" %}', v=volunteer)
    assert f'data-award="{kept.id}"' in html and "District level" in html
    assert "撤销的奖" not in html


def test_trainings_list_filters_by_kind_for_a_coordinator(client, db, tree, people,
                                                         auth_header):
    for kind in ("first_aid", "child_protection"):
        services.record_training(people["volunteer"], {
            "org_id": tree["b"].id, "title": kind, "kind": kind,
            "trained_on": date(2026, 3, 1), "minutes": 60}, by=people["organizer"])
    db.session.commit()
    response = client.get("/api/v1/trainings?kind=child_protection&page_size=1",
                          headers=auth_header(people["coordinator"]))
    body = response.get_json()
    assert [t["kind"] for t in body["items"]] == ["child_protection"]
    assert body["pagination"]["total"] == 1
