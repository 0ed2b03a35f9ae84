"""Training records over HTTP: scope, group recording, idempotency, revocation, helpers."""
from __future__ import annotations

from datetime import date

import pytest

from volunteer_hub.db import db as _db
from volunteer_hub.recognition import services
from volunteer_hub.recognition.models import TrainingRecord
from volunteer_hub.timebank import services as timebank
from volunteer_hub.volunteers.models import Certification


def _course(org, **overrides) -> dict:
    data = {"org_id": org.id, "title": "急救培训", "kind": "first_aid",
            "trained_on": "2026-03-14", "minutes": 180, "trainer": "区红十字会"}
    data.update(overrides)
    return data


def _post(client, headers, volunteer, data, **kwargs):
    return client.post(f"/api/v1/volunteers/{volunteer.id}/trainings", headers=headers,
                       json=data, **kwargs)


def test_organizer_records_training_the_volunteer_sees_it_and_no_hours_are_banked(
        client, tree, people, auth_header):
    volunteer = people["volunteer"]
    response = _post(client, auth_header(people["organizer"]), volunteer, _course(tree["b"]))
    assert response.status_code == 201, response.get_json()
    training = response.get_json()
    assert (training["kind"], training["minutes"], training["status"]) == \
        ("first_aid", 180, "recorded")
    mine = client.get(f"/api/v1/volunteers/{volunteer.id}/trainings",
                      headers=auth_header(volunteer.user))
    assert [t["id"] for t in mine.get_json()["items"]] == [training["id"]]
    assert "X-Pagination" in mine.headers
    assert services.has_training(volunteer.id, "first_aid")
    # Training hours are not service hours: nothing was minted, no star progress.
    assert timebank.balance_of(volunteer).total == 0
    assert timebank.service_minutes(volunteer) == 0


def test_scope_hides_other_communities_and_coordinators_only_read(client, tree, people,
                                                                  auth_header):
    volunteer = people["volunteer"]
    created = _post(client, auth_header(people["organizer"]), volunteer,
                    _course(tree["b"])).get_json()
    stranger = auth_header(people["stranger"])
    assert _post(client, stranger, volunteer, _course(tree["a"])).status_code == 404
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/trainings",
                      headers=stranger).status_code == 404
    assert client.get(f"/api/v1/trainings/{created['id']}", headers=stranger).status_code == 404
    assert client.get("/api/v1/trainings", headers=stranger).get_json()["items"] == []
    coordinator = auth_header(people["coordinator"])
    assert client.get(f"/api/v1/trainings/{created['id']}",
                      headers=coordinator).status_code == 200
    assert _post(client, coordinator, volunteer, _course(tree["b"], title="x")).status_code \
        == 403
    other = auth_header(people["other"].user)
    assert client.get(f"/api/v1/trainings/{created['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/volunteers/{volunteer.id}/trainings",
                      headers=other).status_code == 404


def test_an_organization_outside_the_callers_scope_is_refused_with_403(client, tree, people,
                                                                       auth_header):
    response = _post(client, auth_header(people["organizer"]), people["volunteer"],
                     _course(tree["a"]))
    assert response.status_code == 403


@pytest.mark.parametrize("field, value", [
    ("kind", "juggling"), ("minutes", 0), ("trained_on", "2999-01-01"), ("title", ""),
])
def test_invalid_fields_are_refused_with_a_field_message(client, tree, people, auth_header,
                                                         field, value):
    response = _post(client, auth_header(people["organizer"]), people["volunteer"],
                     _course(tree["b"], **{field: value}))
    assert response.status_code == 422
    assert field in response.get_json()["errors"]["json"]


def test_a_course_for_a_group_records_each_volunteer_and_reports_the_rest(
        client, tree, people, auth_header, make_volunteer):
    outsider = make_volunteer(tree["a"])
    staff = auth_header(people["organizer"])
    ids = [people["volunteer"].id, people["other"].id, outsider.id, 999_999]
    response = client.post("/api/v1/trainings", headers=staff,
                           json={**_course(tree["b"], kind="general_induction"),
                                 "volunteer_ids": ids})
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    assert sorted(t["volunteer_id"] for t in result["recorded"]) == \
        sorted([people["volunteer"].id, people["other"].id])
    assert {(r["id"], r["error"]) for r in result["refused"]} == \
        {(outsider.id, "NOT_FOUND"), (999_999, "NOT_FOUND")}
    again = client.post("/api/v1/trainings", headers=staff,
                        json={**_course(tree["b"], kind="general_induction"),
                              "volunteer_ids": [people["volunteer"].id]}).get_json()
    assert again["recorded"] == []
    assert again["refused"][0]["error"] == "TRAINING_DUPLICATE"
    assert not services.has_training(outsider.id, "general_induction")


def test_a_retried_post_with_the_same_key_records_once(client, tree, people, auth_header):
    staff = {**auth_header(people["organizer"]), "Idempotency-Key": "course-42"}
    first = _post(client, staff, people["volunteer"], _course(tree["b"]))
    second = _post(client, staff, people["volunteer"], _course(tree["b"]))
    assert first.status_code == second.status_code == 201
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json()["id"] == second.get_json()["id"]
    assert _db.session.query(TrainingRecord).count() == 1
    changed = _post(client, staff, people["volunteer"], _course(tree["b"], minutes=60))
    assert changed.status_code == 409
    assert changed.get_json()["error"] == "IDEMPOTENCY_KEY_REUSED"


def test_a_revoked_training_no_longer_counts(client, db, tree, people, auth_header):
    volunteer = people["volunteer"]
    staff = auth_header(people["organizer"])
    training = _post(client, staff, volunteer, _course(tree["b"], kind="emergency_rescue"))
    training_id = training.get_json()["id"]
    assert services.has_training(volunteer.id, "emergency_rescue")
    trained = db.session.execute(services.trained_volunteer_ids(["emergency_rescue"]))
    assert trained.scalars().all() == [volunteer.id]
    url = f"/api/v1/trainings/{training_id}/revocation"
    assert client.post(url, headers=auth_header(volunteer.user),
                       json={"reason": "mine"}).status_code == 403
    assert client.post(url, headers=staff, json={"reason": ""}).status_code == 422
    response = client.post(url, headers=staff, json={"reason": "Recorded for the wrong person"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "revoked"
    assert not services.has_training(volunteer.id, "emergency_rescue")
    assert db.session.execute(services.trained_volunteer_ids(["emergency_rescue"])) \
        .scalars().all() == []
    assert client.post(url, headers=staff, json={"reason": "again"}).status_code == 409
    listed = client.get(f"/api/v1/volunteers/{volunteer.id}/trainings",
                        headers=auth_header(volunteer.user)).get_json()["items"]
    assert [(t["status"], t["revoked_reason"]) for t in listed] == \
        [("revoked", "Recorded for the wrong person")]


def test_has_training_since_and_trained_volunteer_ids_for_every_kind(db, tree, people):
    volunteer, other, organizer = people["volunteer"], people["other"], people["organizer"]
    services.record_training(volunteer, {**_course(tree["b"], kind="general_induction"),
                                         "trained_on": date(2025, 1, 10)}, by=organizer)
    services.record_training(volunteer, {**_course(tree["b"]), "trained_on": date(2026, 3, 1)},
                             by=organizer)
    services.record_training(other, {**_course(tree["b"]), "trained_on": date(2026, 3, 1)},
                             by=organizer)
    db.session.commit()
    assert services.has_training(volunteer.id, "general_induction")
    assert not services.has_training(volunteer.id, "general_induction", since=date(2026, 1, 1))
    assert services.has_training(volunteer.id, "first_aid", since=date(2026, 3, 1))
    assert not services.has_training(other.id, "general_induction")
    any_kind = db.session.execute(services.trained_volunteer_ids(
        ["general_induction", "first_aid"])).scalars().all()
    every_kind = db.session.execute(services.trained_volunteer_ids(
        ["general_induction", "first_aid"], require_all=True)).scalars().all()
    assert sorted(any_kind) == sorted([volunteer.id, other.id])
    assert every_kind == [volunteer.id]
    with pytest.raises(ValueError):
        services.has_training(volunteer.id, "juggling")


def test_a_training_links_only_the_volunteers_own_certification(client, db, tree, people,
                                                                auth_header):
    volunteer, other = people["volunteer"], people["other"]
    own = Certification(volunteer=volunteer, kind="first_aid", issuer="红十字会",
                        issued_on=date(2026, 3, 14))
    foreign = Certification(volunteer=other, kind="first_aid", issuer="红十字会",
                            issued_on=date(2026, 3, 14))
    db.session.add_all([own, foreign])
    db.session.commit()
    own_id, foreign_id = own.id, foreign.id
    staff = auth_header(people["organizer"])
    refused = _post(client, staff, volunteer, _course(tree["b"], certification_id=foreign_id))
    assert refused.status_code == 422
    assert "certification_id" in refused.get_json()["errors"]["json"]
    linked = _post(client, staff, volunteer, _course(tree["b"], certification_id=own_id))
    assert linked.get_json()["certification_id"] == own_id
    # The volunteer may still remove the certification; the training stays, unlinked.
    me = auth_header(volunteer.user)
    assert client.delete(f"/api/v1/volunteers/{volunteer.id}/certifications/{own_id}",
                         headers=me).status_code == 204
    training = client.get(f"/api/v1/trainings/{linked.get_json()['id']}", headers=me)
    assert training.status_code == 200 and training.get_json()["certification_id"] is None
