"""Self sign-up: the engine's feasibility rules with clear error codes, approval, no
double booking, and the open needs a volunteer sees (nearest first)."""
from __future__ import annotations

from datetime import date

import pytest

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.matching import services as matching
from volunteer_hub.matching.models import Assignment


def _post(client, headers, need, **body):
    return client.post(f"/api/v1/needs/{need.id}/signups", json=body, headers=headers)


@pytest.mark.parametrize("need_kwargs, volunteer_kwargs, code, status", [
    ({"required_skills": [{"code": "nursing", "min_level": 2}]},
     {"skills": [{"code": "nursing", "level": 1}]}, "SKILL_MISSING", 422),
    ({"required_certifications": ["first_aid"]}, {}, "CERTIFICATION_MISSING", 422),
    ({"max_distance_km": 1.0}, {"lat": helpers.LAT + 0.05}, "TOO_FAR", 422),
    ({"adults_only": True}, {"birth": date(date.today().year - 16, 1, 1)}, "ADULTS_ONLY", 422),
    ({"background_check": True}, {}, "BACKGROUND_CHECK_REQUIRED", 422),
    ({}, {"windows": [{"weekday": 5, "start_minute": 0, "end_minute": 1440}]},
     "NOT_AVAILABLE", 422),
])
def test_infeasible_signups_are_refused_with_a_code(tree, client, auth_header, need_kwargs,
                                                     volunteer_kwargs, code, status):
    v = helpers.volunteer(tree["b"], **volunteer_kwargs)
    need = helpers.need(tree["b"], **need_kwargs)
    response = _post(client, auth_header(v.user), need)
    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"] == code
    assert db.session.execute(db.select(Assignment)).first() is None


def test_same_gender_care(tree, client, auth_header):
    grandma = helpers.beneficiary(tree["b"], gender="female")
    v = helpers.volunteer(tree["b"], gender="male")
    need = helpers.need(tree["b"], beneficiary_id=grandma.id, same_gender=True)
    response = _post(client, auth_header(v.user), need)
    assert response.get_json()["error"] == "GENDER_MISMATCH"


def test_busy_volunteer_is_refused(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    first, second = helpers.need(tree["b"]), helpers.need(tree["b"])
    headers = auth_header(v.user)
    assert _post(client, headers, first).status_code == 201
    response = _post(client, headers, second)
    assert response.status_code == 409 and response.get_json()["error"] == "ALREADY_BUSY"


def test_risk_must_be_accepted(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], risk_disclosure="Stairs, no lift", insurance_required=True)
    headers = auth_header(v.user)
    assert _post(client, headers, need).get_json()["error"] == "RISK_NOT_ACCEPTED"
    assert _post(client, headers, need, accept_risk=True).status_code == 201


def test_last_place_taken(tree, client, auth_header):
    a, b = helpers.volunteer(tree["b"]), helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"])
    assert _post(client, auth_header(a.user), need).status_code == 201
    response = _post(client, auth_header(b.user), need)
    assert response.status_code == 409 and response.get_json()["error"] == "SLOT_TAKEN"


def test_draft_need_is_invisible(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], publish=False)
    assert _post(client, auth_header(v.user), need).status_code == 404


def test_signup_with_approval_waits_for_the_organizer(tree, client, auth_header, make_staff):
    organizer = make_staff(tree["b"], "organizer")
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], requires_approval=True)
    response = _post(client, auth_header(v.user), need)
    assert response.status_code == 201
    body = response.get_json()
    assert body["state"] == "pending_approval"
    listed = client.get(f"/api/v1/needs/{need.id}/signups", headers=auth_header(organizer))
    assert [s["id"] for s in listed.get_json()["items"]] == [body["id"]]
    approved = client.post(f"/api/v1/assignments/{body['id']}/confirm",
                           headers=auth_header(organizer))
    assert approved.status_code == 200 and approved.get_json()["state"] == "accepted"
    db.session.expire_all()
    assert need.state == "matched"


def test_signup_without_approval_is_accepted_at_once_and_idempotent(tree, client, auth_header):
    v = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"], volunteers_per_occurrence=2)
    headers = {**auth_header(v.user), "Idempotency-Key": "k-1"}
    first = _post(client, headers, need)
    again = _post(client, headers, need)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json()["id"] == again.get_json()["id"]
    assert first.get_json()["state"] == "accepted"
    assert db.session.execute(db.select(db.func.count(Assignment.id))).scalar_one() == 1


def test_open_needs_fit_the_volunteer_nearest_first(tree, client, auth_header):
    v = helpers.volunteer(tree["b"], skills=[{"code": "cooking", "level": 2}])
    # Bands are measured from the need's community centre, never from the need's own point.
    tree["b"].lat, tree["b"].lon = helpers.LAT, helpers.LON
    tree["a"].lat, tree["a"].lon = helpers.LAT + 0.03, helpers.LON
    far = helpers.need(tree["a"], title="Far", lat=helpers.LAT + 0.03, max_distance_km=10)
    near = helpers.need(tree["b"], title="Near", type="meal_delivery",
                        required_skills=[{"code": "cooking", "min_level": 1}])
    helpers.need(tree["b"], title="Unfit", required_skills=[{"code": "nursing",
                                                             "min_level": 1}])
    headers = auth_header(v.user)
    items = client.get("/api/v1/me/open-needs", headers=headers).get_json()
    assert [i["need"]["title"] for i in items] == ["Near", "Far"]
    assert [i["distance_band"] for i in items] == ["under_1_km", "3_to_5_km"]
    assert "distance_km" not in items[0]
    assert "beneficiary_id" not in items[0]["need"]
    only = client.get("/api/v1/me/open-needs?skill=cooking", headers=headers).get_json()
    assert [i["need"]["id"] for i in only] == [near.id]
    assert far.id  # listed above


def test_sign_up_service_is_refused_for_someone_else(tree):
    v = helpers.volunteer(tree["b"])
    other = helpers.volunteer(tree["b"])
    need = helpers.need(tree["b"])
    from volunteer_hub.errors import NotFound

    with pytest.raises(NotFound):
        matching.sign_up(need, v, by=other.user)
