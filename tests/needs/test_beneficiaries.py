"""Beneficiaries: ciphertext at rest, guardian consent under 14, and privacy through the
API: an unassigned volunteer gets neither address nor phone; every read is logged."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import text

from tests.needs import helpers
from volunteer_hub.db import db
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.matching import services as matching
from volunteer_hub.needs import services as needs
from volunteer_hub.needs.models import BeneficiaryAccessLog

ADDRESS, PHONE = "幸福路 8 号 3 单元 502", "13900000001"


def _logs(beneficiary):
    return db.session.execute(db.select(BeneficiaryAccessLog).where(
        BeneficiaryAccessLog.beneficiary_id == beneficiary.id)
        .order_by(BeneficiaryAccessLog.id)).scalars().all()


def test_personal_fields_are_stored_as_ciphertext_only(tree):
    b = helpers.beneficiary(tree["b"])
    row = db.session.execute(text("SELECT * FROM beneficiaries WHERE id = :id"),
                             {"id": b.id}).mappings().one()
    dumped = " ".join(str(value) for value in row.values())
    for clear in (ADDRESS, PHONE, "王奶奶", "高血压"):
        assert clear not in dumped
    assert row["name_masked"] == "王**"
    assert row["approx_lat"] == round(helpers.LAT + 0.001, 3)


def test_child_under_14_needs_a_recorded_guardian_consent(tree):
    birth = date.today() - timedelta(days=365 * 9)
    data = {"category": "left_behind_child", "name": "小明", "community_id": tree["b"].id,
            "birth_date": birth, "guardian": {"name": "李奶奶", "phone": "13900000009"}}
    with pytest.raises(ValidationFailed) as error:
        needs.create_beneficiary(dict(data), by=None)
    assert error.value.code == "GUARDIAN_CONSENT_REQUIRED"
    child = needs.create_beneficiary(dict(data, guardian_consent=True), by=None)
    assert child.under_14 and child.guardian_consent_at is not None
    assert "李奶奶" not in (child.guardian_name_encrypted or "")


def test_child_needs_a_guardian(tree):
    with pytest.raises(ValidationFailed) as error:
        needs.create_beneficiary({"category": "left_behind_child", "name": "小红",
                                  "community_id": tree["b"].id,
                                  "birth_date": date.today() - timedelta(days=365 * 15)},
                                 by=None)
    assert error.value.code == "GUARDIAN_REQUIRED"


def test_organizer_creates_and_reads_everything_and_the_read_is_logged(tree, client,
                                                                       auth_header,
                                                                       make_staff):
    organizer = make_staff(tree["b"], "organizer")
    headers = auth_header(organizer)
    created = client.post("/api/v1/beneficiaries", headers=headers, json={
        "category": "disability", "name": "赵叔叔", "community_id": tree["b"].id,
        "address": ADDRESS, "phone": PHONE, "care_notes": "轮椅"})
    assert created.status_code == 201, created.get_json()
    bid = created.get_json()["id"]
    body = client.get(f"/api/v1/beneficiaries/{bid}", headers=headers).get_json()
    assert body["access"] == "full" and body["address"] == ADDRESS and body["phone"] == PHONE
    listed = client.get("/api/v1/beneficiaries", headers=headers).get_json()["items"]
    assert listed[0]["name_masked"] == "赵**" and "address" not in listed[0]
    log = client.get(f"/api/v1/beneficiaries/{bid}/access-log", headers=headers).get_json()
    assert [e["purpose"] for e in log["items"]] == ["api", "create"]
    assert set(log["items"][0]["fields_read"]) == {"name", "address", "phone", "care_notes"}
    assert log["items"][0]["user_id"] == organizer.id


def test_organizer_of_another_community_sees_nothing(tree, client, auth_header, make_staff):
    outsider = make_staff(tree["a"], "organizer")
    b = helpers.beneficiary(tree["b"])
    headers = auth_header(outsider)
    assert client.get(f"/api/v1/beneficiaries/{b.id}", headers=headers).status_code == 404
    assert client.get(f"/api/v1/beneficiaries/{b.id}/access-log",
                      headers=headers).status_code == 404
    assert client.get("/api/v1/beneficiaries", headers=headers).get_json()["items"] == []


def test_unassigned_volunteer_gets_neither_address_nor_phone(tree, client, auth_header):
    tree["b"].lat, tree["b"].lon = helpers.LAT, helpers.LON  # the community's centre
    b = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=b.id)
    v = helpers.volunteer(tree["b"])
    headers = auth_header(v.user)
    for url in (f"/api/v1/beneficiaries/{b.id}", f"/api/v1/needs/{need.id}",
                "/api/v1/me/open-needs"):
        response = client.get(url, headers=headers)
        assert response.status_code == 200
        raw = response.get_data(as_text=True)
        assert ADDRESS not in raw and PHONE not in raw and "王奶奶" not in raw
        assert "care_notes" not in raw and "高血压" not in raw
    summary = client.get(f"/api/v1/beneficiaries/{b.id}", headers=headers).get_json()
    assert summary["access"] == "summary"
    # Before a task is confirmed: a band from the community's centre, never a distance.
    assert summary["community_id"] == tree["b"].id and "distance_km" not in summary
    assert summary["distance_band"] == "under_1_km"
    logs = _logs(b)
    assert len(logs) == 3 and all(entry.user_id == v.user.id for entry in logs)
    assert all(entry.field_list == [] for entry in logs)


def test_unrelated_volunteer_cannot_even_see_that_the_person_exists(tree, client,
                                                                     auth_header):
    b = helpers.beneficiary(tree["b"])  # no published need
    v = helpers.volunteer(tree["b"])
    response = client.get(f"/api/v1/beneficiaries/{b.id}", headers=auth_header(v.user))
    assert response.status_code == 404


def test_assigned_volunteer_sees_only_what_the_task_needs_while_assigned(tree, client,
                                                                        auth_header):
    b = helpers.beneficiary(tree["b"])
    need = helpers.need(tree["b"], beneficiary_id=b.id, type="legal_aid")
    v = helpers.volunteer(tree["b"])
    headers = auth_header(v.user)
    signed = client.post(f"/api/v1/needs/{need.id}/signups", json={}, headers=headers)
    aid = signed.get_json()["id"]
    task = client.get(f"/api/v1/assignments/{aid}", headers=headers).get_json()
    person = task["beneficiary"]
    assert person["access"] == "task"
    assert person["phone"] == PHONE and person["name"] == "王奶奶"
    assert "address" not in person and "care_notes" not in person  # legal aid needs neither
    [entry] = _logs(b)
    assert entry.field_list == ["name", "phone"] and entry.assignment_id == aid
    assert entry.purpose == "task:legal_aid"
    # Once cancelled, the volunteer is back to the summary.
    client.post(f"/api/v1/assignments/{aid}/cancel", json={"reason": "ill"}, headers=headers)
    after = client.get(f"/api/v1/beneficiaries/{b.id}", headers=headers).get_json()
    assert after["access"] == "summary" and "phone" not in after


def test_home_visit_volunteer_sees_address_but_child_phone_never(tree, client, auth_header):
    child = helpers.beneficiary(tree["b"], category="left_behind_child", name="小明",
                                phone="13900000002",
                                birth_date=date.today() - timedelta(days=365 * 10),
                                guardian={"name": "李奶奶", "phone": "13900000009"},
                                guardian_consent=True)
    bc = helpers.volunteer(tree["b"], certifications=[{
        "kind": "background_check", "issuer": "派出所", "issued_on": date.today(),
        "expires_on": None}])
    need = helpers.need(tree["b"], beneficiary_id=child.id, type="child_companionship")
    assignment = matching.sign_up(need, bc, by=None)
    db.session.commit()
    view = needs.beneficiary_view(child, by=bc.user)
    assert view["address"] == ADDRESS and view["guardian_phone"] == "13900000009"
    assert "phone" not in view and "birth_date" not in view
    assert assignment.state == "accepted"


def test_the_summary_does_not_depend_on_the_persons_own_point(tree, client, auth_header):
    """Issue 11 item 3: a volunteer moving their home around must learn nothing of where
    the person lives; the summary is the same wherever in the community they live."""
    b = helpers.beneficiary(tree["b"])
    helpers.need(tree["b"], beneficiary_id=b.id)
    headers = auth_header(helpers.volunteer(tree["b"]).user)
    url = f"/api/v1/beneficiaries/{b.id}"
    near = client.get(url, headers=headers).get_json()
    b.approx_lat, b.approx_lon = helpers.LAT + 0.02, helpers.LON + 0.02
    db.session.commit()
    far = client.get(url, headers=headers).get_json()
    assert near == far and "distance_km" not in near
