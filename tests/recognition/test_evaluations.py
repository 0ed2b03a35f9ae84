"""Quality evaluations of verified service: range, once per evaluator, who sees what."""
from __future__ import annotations

import pytest

from tests.factories import PASSWORD, unique_phone
from tests.records import builders
from volunteer_hub.accounts import services as accounts
from volunteer_hub.records import services as records


def _evaluate(client, headers, record, score=5, comment="认真负责", **kwargs):
    return client.post(f"/api/v1/records/{record.id}/evaluations", headers=headers,
                       json={"score": score, "comment": comment}, **kwargs)


@pytest.mark.parametrize("score", [0, 6, -1])
def test_a_score_outside_1_to_5_is_refused_with_a_field_message(client, people,
                                                                verified_record, auth_header,
                                                                score):
    response = _evaluate(client, auth_header(people["organizer"]), verified_record, score)
    assert response.status_code == 422
    messages = response.get_json()["errors"]["json"]["score"]
    assert messages == ["评分须为1到5之间的整数。"]  # the organizer reads Chinese


def test_one_evaluation_per_record_and_evaluator(client, people, verified_record,
                                                 auth_header):
    first = _evaluate(client, auth_header(people["organizer"]), verified_record, 4)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["score"] == 4
    duplicate = _evaluate(client, auth_header(people["organizer"]), verified_record, 5)
    assert duplicate.status_code == 409
    assert duplicate.get_json()["error"] == "EVALUATION_EXISTS"
    # Another organizer over the activity may add their own.
    assert _evaluate(client, auth_header(people["street"]), verified_record, 5).status_code \
        == 201


def test_a_pending_record_cannot_be_evaluated(client, tree, people, auth_header):
    activity = builders.activity(tree["b"], people["organizer"])
    record = builders.checked_out(activity, people["volunteer"], minutes=60)
    response = _evaluate(client, auth_header(people["organizer"]), record)
    assert response.status_code == 409
    assert response.get_json()["error"] == "RECORD_NOT_VERIFIED"


def test_the_activity_lead_may_evaluate_but_not_the_volunteer_or_strangers(
        client, db, tree, people, auth_header):
    lead = accounts.create_user(display_name="活动负责人", password=PASSWORD,
                                phone=unique_phone())
    db.session.commit()
    activity = builders.activity(tree["b"], people["organizer"], lead_user_id=lead.id)
    record = builders.checked_out(activity, people["volunteer"], minutes=90)
    records.verify_record(record, by=people["organizer"])
    db.session.commit()
    assert _evaluate(client, auth_header(people["volunteer"].user), record).status_code == 403
    assert _evaluate(client, auth_header(people["other"].user), record).status_code == 404
    assert _evaluate(client, auth_header(people["stranger"]), record).status_code == 404
    assert _evaluate(client, auth_header(people["coordinator"]), record).status_code == 404
    assert _evaluate(client, auth_header(lead), record).status_code == 201


def test_volunteers_read_their_own_scores_and_comments_only(client, people, verified_record,
                                                           auth_header):
    created = _evaluate(client, auth_header(people["organizer"]), verified_record, 5,
                        "准时到场，老人很满意").get_json()
    volunteer = people["volunteer"]
    me = auth_header(volunteer.user)
    mine = client.get(f"/api/v1/volunteers/{volunteer.id}/evaluations", headers=me)
    assert mine.status_code == 200
    [item] = mine.get_json()["items"]
    assert (item["score"], item["comment"], item["activity_name"]) == \
        (5, "准时到场，老人很满意", "敬老院陪伴")
    assert client.get(f"/api/v1/evaluations/{created['id']}", headers=me).status_code == 200
    other = auth_header(people["other"].user)
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/evaluations",
                      headers=other).status_code == 404
    assert client.get(f"/api/v1/evaluations/{created['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/records/{verified_record.id}/evaluations",
                      headers=other).status_code == 404
    # Coordinators read trainings (emergency teams), not quality ratings.
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/evaluations",
                      headers=auth_header(people["coordinator"])).status_code == 403
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/evaluations",
                      headers=auth_header(people["stranger"])).status_code == 404


def test_a_retried_evaluation_with_the_same_key_replays_instead_of_409(
        client, people, verified_record, auth_header):
    headers = {**auth_header(people["organizer"]), "Idempotency-Key": "eval-1"}
    first = _evaluate(client, headers, verified_record, 3)
    second = _evaluate(client, headers, verified_record, 3)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    listed = client.get(f"/api/v1/records/{verified_record.id}/evaluations",
                        headers=headers).get_json()
    assert listed["pagination"]["total"] == 1
